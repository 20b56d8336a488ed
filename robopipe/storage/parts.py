"""Only the files of a conversion source that a reader needs, fetched from a URL (core layer).

A planner needs a source's metadata (TFDS ``dataset_info.json``, ...); a shard unit needs the files its episode
range reads. Which files those are is the reader's knowledge (``robopipe.convert.source.SOURCE_PARTS``);
fetching them is this module's: every chosen path comes from the URL's own listing, is checked to stay under it
(:meth:`RemoteRoot.path`), metadata files are size-capped before download, and the copy is made by
:func:`~robopipe.storage.urls.materialize` (``files=``) in this machine's scratch, reused while unchanged.
``file://`` URLs are used in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from robopipe.errors import CorruptFileError, DatasetNotFoundError
from robopipe.storage.remote import RemoteRoot
from robopipe.storage.urls import fetch_file, is_local, materialize, scratch_dir


def source_listing(url: str) -> dict[str, int] | None:
    """relative path -> size of every file under the folder at ``url``; None when the URL is used whole: a
    ``file://`` URL (read in place) or a single file (see :func:`fetch_whole`)."""
    remote = RemoteRoot(url)
    if is_local(remote.fs):
        return None
    listing = remote.listing
    if not listing:
        with remote._errors():
            single = remote.fs.isfile(remote.base)
        if not single:
            raise DatasetNotFoundError(f"{remote}: nothing at this URL")
        return None
    return listing


def fetch_whole(url: str) -> Path:
    """A local copy of the whole source at ``url``: a folder materialized, a single file fetched, ``file://``
    used in place."""
    remote = RemoteRoot(url)
    if is_local(remote.fs):
        return materialize(url)
    with remote._errors():
        single = remote.fs.isfile(remote.base)
    return fetch_file(url) if single else materialize(url)


def fetch_parts(
    url: str, files: Iterable[str], *, cap: int | None = None, listing: dict[str, int] | None = None
) -> Path:
    """A local folder holding ``files`` (relative to ``url``), each checked to stay under the URL and, with
    ``cap``, refused before download when larger (sizes from ``listing`` when given, else one more listing).
    One folder per file set: shards of one machine never share (or replace) each other's copies."""
    remote = RemoteRoot(url)
    if is_local(remote.fs):
        return Path(remote.base)
    chosen = sorted(set(files))
    if not chosen:
        raise DatasetNotFoundError(f"{remote}: none of the source files a reader needs are at this URL")
    for rel in chosen:
        remote.path(rel, "source file")  # confined under the URL
        size = listing[rel] if listing is not None and rel in listing else None
        if cap is not None and (size := remote.size(rel) if size is None else size) > cap:
            raise CorruptFileError(
                f"{remote.where(rel)}: {size} bytes, over the {cap} bytes allowed for a source metadata file"
            )
    key = hashlib.sha256("\n".join([remote.label, *chosen]).encode()).hexdigest()[:16]
    return materialize(url, into=scratch_dir() / "parts" / key, files=set(chosen))
