"""fsspec URLs: materialize a remote tree into local scratch, publish a local tree atomically to a URL."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robopipe.errors import ConfigError, DatasetExistsError, DatasetNotFoundError, TransientError

log = logging.getLogger(__name__)

INFO = "meta/info.json"
MAX_FILES = 1_000_000
STAMP = ".robopipe-materialized.json"  # in a materialized copy: the listing it was copied from


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str | Path) -> bool:
    """True for ``scheme://...`` strings (``file://`` included); paths are local."""
    return isinstance(path, str) and _SCHEME.match(path) is not None


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) of ``url``; the scheme's options come from fsspec's config and
    environment (e.g. ``FSSPEC_S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``)."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"cannot open {_safe(url)}: {exc}") from exc


def _safe(url: str) -> str:
    """``url`` without user:password (never logged or shown)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.split('@', 1)[-1]}" if "@" in rest.split("/", 1)[0] else url


def is_local(fs: Any) -> bool:
    """True for fsspec's local filesystem (``file://`` URLs are read in place, never copied)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


def version_tag(meta: dict[str, Any]) -> str:
    """What changes when a remote file changes (ETag, else modification time) in an fsspec ``info`` entry."""
    return str(meta.get("ETag") or meta.get("etag") or meta.get("mtime") or meta.get("LastModified") or "")


def scratch_dir() -> Path:
    """This machine's (this worker's) private scratch folder."""
    base = os.environ.get("ROBOPIPE_SCRATCH") or os.path.join(tempfile.gettempdir(), "robopipe-scratch")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _listing(fs: Any, root: str) -> dict[str, tuple[int, str]]:
    """relative path -> (size, version tag) of every file under ``root``."""
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"{root}: nothing at this URL") from exc
    except OSError as exc:
        raise TransientError(f"{root}: cannot list ({exc})") from exc
    if len(found) > MAX_FILES:
        raise ConfigError(f"{root}: more than {MAX_FILES} files; refusing to materialize")
    out = {}
    base = root.rstrip("/") + "/"
    for name, meta in found.items():
        if meta.get("type") == "directory" or not name.startswith(base):
            continue
        rel = name[len(base) :]
        if not rel or any(part in ("", ".", "..") for part in rel.split("/")):
            continue  # never a path outside the tree
        out[rel] = (int(meta.get("size") or 0), version_tag(meta))
    return out


def materialize(url: str, *, into: Path | None = None, files: set[str] | None = None) -> Path:
    """A local copy of the tree at ``url`` (``file://`` URLs are used in place); reused while unchanged.

    ``files``: only these relative paths (those present) are copied."""
    fs, root = filesystem(url)
    if is_local(fs):
        local = Path(root)
        if not local.exists():
            raise DatasetNotFoundError(f"{url}: no such file or folder")
        return local
    listing = _listing(fs, root)
    if files is not None:
        listing = {rel: v for rel, v in listing.items() if rel in files}
    if not listing:
        raise DatasetNotFoundError(f"{_safe(url)}: no files at this URL")
    key = hashlib.sha256(_safe(url).encode()).hexdigest()[:16]
    dest = into or scratch_dir() / "materialized" / key
    stamp = dest / STAMP
    want = json.dumps(sorted(listing.items()))
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == want:
        return dest
    tmp = dest.with_name(dest.name + f".tmp-{uuid.uuid4().hex[:8]}")
    try:
        for rel in sorted(listing):
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{root.rstrip('/')}/{rel}", str(target))
        (tmp / stamp.name).write_text(want, encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TransientError(f"{_safe(url)}: download failed ({type(exc).__name__})") from exc
    log.info("materialized %s (%d files) into %s", _safe(url), len(listing), dest)
    return dest


def fetch_file(url: str) -> Path:
    """A local copy of the one file at ``url`` in this machine's scratch folder (``file://``: used in place),
    reused while its size and version tag are unchanged; what a worker calls to read a unit's file itself.

    Raises DatasetNotFoundError (no such file) or TransientError (listing or download failed).
    """
    fs, path = filesystem(url)
    if is_local(fs):
        if not Path(path).is_file():
            raise DatasetNotFoundError(f"{url}: no such file")
        return Path(path)
    try:
        meta = fs.info(path)
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"{_safe(url)}: no such file") from exc
    except OSError as exc:
        raise TransientError(f"{_safe(url)}: cannot stat ({type(exc).__name__})") from exc
    if meta.get("type") == "directory":
        raise DatasetNotFoundError(f"{_safe(url)}: a folder, expected a file")
    want = json.dumps([int(meta.get("size") or 0), version_tag(meta)])
    folder = scratch_dir() / "fetched" / hashlib.sha256(_safe(url).encode()).hexdigest()[:16]
    dest = folder / "file"
    stamp = folder / "stamp.json"
    if dest.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == want:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"file.tmp-{uuid.uuid4().hex[:8]}"  # several processes of one machine may fetch it
    try:
        fs.get_file(path, str(tmp))
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TransientError(f"{_safe(url)}: download failed ({type(exc).__name__})") from exc
    stamp.write_text(want, encoding="utf-8")
    return dest


def upload_tree(local: Path, url: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Upload every file under ``local`` to ``url`` (same relative paths), except ``skip``; returns them."""
    fs, root = filesystem(url)
    return _upload(fs, Path(local), root.rstrip("/"), skip)


def _upload(fs: Any, local: Path, root: str, skip: tuple[str, ...]) -> list[str]:
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    fs.invalidate_cache()
    sent = []
    for rel in files:
        if rel in skip:
            continue
        fs.makedirs(f"{root}/{rel}".rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(local / rel), f"{root}/{rel}")
        sent.append(rel)
    return sent


def publish_tree(local: Path, url: str, *, replace: bool = False, only: str = "") -> None:
    """Publish the dataset at ``local`` to ``url``: upload under a temporary prefix, copy into place, write
    ``meta/info.json`` last (the commit point) and drop the temporary prefix.

    ``replace``: an existing dataset at ``url`` is updated (its ``meta/info.json`` is removed first, so a
    reader never sees a half-updated dataset as complete); otherwise an existing one is refused. ``only``: a
    sub-folder (``meta/``) that is all that changed; remote files under it that are gone locally are removed.
    """
    local = Path(local)
    if not (local / INFO).is_file():
        raise DatasetNotFoundError(f"{local}: no {INFO}; nothing to publish")
    fs, root = filesystem(url)
    root = root.rstrip("/")
    if fs.exists(f"{root}/{INFO}"):
        if not replace:
            raise DatasetExistsError(f"{_safe(url)}: a dataset already exists there")
        fs.rm_file(f"{root}/{INFO}")
    tmp = f"{root}.robopipe-tmp-{uuid.uuid4().hex[:12]}"
    base = local / only if only else local
    fs.invalidate_cache()  # listings cached before this upload must not hide its files
    try:
        for rel in _upload(fs, base, tmp, (INFO.removeprefix(only),)):
            rel = f"{only.rstrip('/')}/{rel}" if only else rel
            tmp_rel = rel.removeprefix(only) if only else rel
            fs.makedirs(f"{root}/{rel}".rsplit("/", 1)[0], exist_ok=True)
            fs.cp_file(f"{tmp}/{tmp_rel}", f"{root}/{rel}")
        if only:
            remote = _listing(fs, f"{root}/{only.rstrip('/')}") if fs.exists(f"{root}/{only}") else {}
            for rel in remote:
                if not (base / rel).is_file():
                    fs.rm_file(f"{root}/{only.rstrip('/')}/{rel}")
        fs.put_file(str(local / INFO), f"{root}/{INFO}")  # the commit point
    finally:
        fs.invalidate_cache()
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
    log.info("published %s to %s", local, _safe(url))


@contextmanager
def dataset_at(root: str | Path, *, write: bool = False) -> Iterator[Path]:
    """A local dataset root for ``root``: a path as is, a URL materialized into scratch; with ``write`` the
    changed ``meta/`` folder is published back (``meta/info.json`` last) when the block succeeds."""
    if not is_url(str(root)):
        yield Path(root)
        return
    url = str(root)
    local = materialize(url)
    yield local
    fs, _ = filesystem(url)
    if write and not is_local(fs):
        publish_tree(local, url, replace=True, only="meta/")
        (local / STAMP).unlink(missing_ok=True)  # the copy no longer matches
