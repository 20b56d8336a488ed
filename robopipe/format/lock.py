"""One writer at a time per dataset root: an advisory ``flock`` on a sibling lock file (core layer).

Every command that writes a dataset (record, record --resume, repair, edits in place, the output root of an
edit/merge/convert, the stats rewrite) holds :func:`writer_lock` for its whole run; a second writer is
refused at once with :class:`DatasetInUseError` naming the holder (PID, host, command), instead of both
crashing half-way and leaving a dataset that no longer loads.

Why a sibling (``<parent>/.<name>.robopipe-lock``) and not a file inside the root: an in-place edit swaps the
whole root folder by renames, which would carry a lock file inside it away with the old folder; and the root
may not exist yet when its first writer starts. The kernel drops a ``flock`` when its holder dies (even on
``kill -9``), so a dead writer never blocks the next one; the PID/host/command written into the file only
serve the message. Two writers inside one process also conflict (each lock is its own open file).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robopipe.errors import DatasetInUseError

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".robopipe-lock"
_MAX_COMMAND = 200


def lock_path(root: str | Path) -> Path:
    """The lock file of ``root``: a hidden sibling, so it survives the root being replaced by a rename."""
    root = Path(root).resolve()
    return root.parent / f".{root.name}{LOCK_SUFFIX}"


def _command() -> str:
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = " ".join(argv)
    return text if len(text) <= _MAX_COMMAND else text[: _MAX_COMMAND - 3] + "..."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_holder(path: Path) -> dict[str, Any]:
    """What the lock file says about its holder (empty when unreadable: the message then says less)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")[:4096])
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _in_use_message(root: Path, holder: dict[str, Any]) -> str:
    pid, host, cmd = holder.get("pid"), holder.get("host"), holder.get("command")
    who = f"PID {pid}" if isinstance(pid, int) else "another process"
    if isinstance(host, str) and host != socket.gethostname():
        who += f" on {host}"
    elif isinstance(pid, int) and pid == os.getpid():
        who += " (this process)"
    elif isinstance(pid, int) and not _pid_alive(pid):
        who += " (gone; a process it started still holds the lock)"
    if isinstance(cmd, str) and cmd:
        who += f" ({cmd})"
    return f"dataset {root} is in use by {who}; wait for it to finish or stop it, then retry"


class WriterLock:
    """An acquired writer lock; :meth:`release` (or leaving :func:`writer_lock`) frees it. Idempotent."""

    def __init__(self, root: Path, path: Path, fd: int) -> None:
        self.root = root
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Unlink while still holding the lock: a waiter that opened the old file notices (inode check).
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                self.path.unlink()
        os.close(fd)


def acquire(root: str | Path, command: str | None = None) -> WriterLock:
    """Take the writer lock of ``root`` or raise :class:`DatasetInUseError` at once (never waits)."""
    root = Path(root)
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):  # retried only when the holder released (and unlinked) between open and lock
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            raise DatasetInUseError(_in_use_message(root, read_holder(path))) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        stale = read_holder(path)
        if stale.get("pid") not in (None, os.getpid()):
            log.info("%s: taking over the writer lock of PID %s, which ended", root, stale.get("pid"))
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or _command(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        return WriterLock(root, path, fd)
    raise DatasetInUseError(
        f"dataset {root}: its lock file {path} keeps changing; another writer is starting"
    )


@contextlib.contextmanager
def writer_lock(root: str | Path, command: str | None = None) -> Iterator[WriterLock]:
    """Hold the writer lock of ``root`` for the ``with`` block (see :func:`acquire`)."""
    lock = acquire(root, command)
    try:
        yield lock
    finally:
        lock.release()


def is_locked(root: str | Path) -> dict[str, Any] | None:
    """The holder record if a live writer holds ``root`` now, else ``None`` (for info/validate/publish)."""
    path = lock_path(root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return read_holder(path) or {"pid": None}
    finally:
        os.close(fd)
    return None
