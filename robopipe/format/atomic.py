"""Atomic file writes: temporary name in the same folder, fsync, rename (core layer).

A reader (or a crash) never sees a half-written file: either the old content or the new one.
Temporary files are named ``.<name>.tmp-<pid>-<n>`` so a later run can recognise and remove leftovers.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from robopipe.errors import DiskFullError

_counter = itertools.count()
TMP_MARKER = ".tmp-"


def tmp_path_for(path: Path) -> Path:
    """A unique temporary sibling of ``path`` (same directory, so rename is atomic)."""
    return path.with_name(f".{path.name}{TMP_MARKER}{os.getpid()}-{next(_counter)}")


def fsync_dir(directory: Path) -> None:
    """Persist a rename in ``directory`` (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(tmp: Path, final: Path) -> None:
    """fsync ``tmp`` and rename it over ``final``."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_tmp_files(root: Path) -> list[Path]:
    """Delete leftovers of interrupted atomic writes under ``root``; returns what was removed."""
    removed = []
    for p in Path(root).rglob(f".*{TMP_MARKER}*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` or an error it was raised from is ENOSPC/EDQUOT (also pyarrow's and PyAV's, and
    errors that report a worker's ENOSPC in their message)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e).lower()  # also errors that carry a worker's ENOSPC as text (Dask, shard reports)
        if "[errno 28]" in text or "no space left on device" in text:
            return True
        e = e.__cause__ or e.__context__
    return False


@contextlib.contextmanager
def disk_full_reported(
    target: Path | str,
    kept: str | Callable[[], str],
    then: str = "free space and run the command again",
) -> Iterator[None]:
    """Turn a full disk inside the block into :class:`DiskFullError` saying what was written and what was kept.

    ``kept`` (a string, or a function asked after the failure) names what survives, e.g. "the inputs,
    unchanged" or "2 saved episodes in ROOT/.staging". Writers are atomic, so nothing half-written stays.
    """
    try:
        yield
    except DiskFullError:
        raise
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        what = kept() if callable(kept) else kept
        raise DiskFullError(
            f"disk full writing {target}; kept: {what}; nothing half-written was left; {then}"
        ) from exc
