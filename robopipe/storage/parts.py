"""Only the files of a conversion source that a reader needs, fetched from a URL (core layer).

A planner needs a source's metadata (TFDS ``dataset_info.json``, ...); a shard unit needs that plus the files its
episode range reads. Which files those are is the reader's knowledge (``robopipe.convert.source.SOURCE_PARTS``);
fetching them is this module's: every chosen path comes from the URL's own listing, is checked to stay under it
(:meth:`RemoteRoot.path`), metadata files are size-capped before download, and the copy is made by
:func:`~robopipe.storage.urls.materialize` (``files=``) in this machine's scratch, reused while unchanged.
``file://`` URLs are used in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from robopipe.errors import CorruptFileError, DatasetNotFoundError
from robopipe.format.info import MAX_JSON_BYTES
from robopipe.storage.remote import RemoteRoot
from robopipe.storage.urls import materialize, scratch_dir


def _in_place(remote: RemoteRoot) -> bool:
    protocols = remote.fs.protocol if isinstance(remote.fs.protocol, tuple) else (remote.fs.protocol,)
    return "file" in protocols


def fetch_metadata(url: str, wanted: Callable[[str], bool]) -> tuple[Path, set[str]]:
    """(local folder, relative paths) of the files at ``url`` that ``wanted`` picks, each at most
    :data:`MAX_JSON_BYTES` (refused before download otherwise). Nothing else is fetched."""
    remote = RemoteRoot(url)
    if _in_place(remote):
        return Path(remote.base), set()
    files = {rel for rel in remote.listing if wanted(rel)}
    if not files:
        raise DatasetNotFoundError(f"{remote}: no source metadata files at this URL")
    for rel in sorted(files):
        remote.path(rel, "source metadata file")
        if remote.listing[rel] > MAX_JSON_BYTES:
            raise CorruptFileError(
                f"{remote.where(rel)}: {remote.listing[rel]} bytes, over the {MAX_JSON_BYTES} bytes allowed "
                "for a source metadata file"
            )
    return fetch_parts(url, files), files


def fetch_parts(url: str, files: Iterable[str]) -> Path:
    """A local folder holding ``files`` (relative to ``url``; those absent at the URL are left out, so the
    reader reports them as it would locally). One folder per file set: shards of one machine never share
    (or replace) each other's copies."""
    remote = RemoteRoot(url)
    if _in_place(remote):
        return Path(remote.base)
    chosen = sorted(set(files))
    for rel in chosen:
        remote.path(rel, "source file")  # confined under the URL
    key = hashlib.sha256("\n".join([remote.label, *chosen]).encode()).hexdigest()[:16]
    return materialize(url, into=scratch_dir() / "parts" / key, files=set(chosen))
