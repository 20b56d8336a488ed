"""The ingest ledger: a session gets a ``.merged`` marker only once the new master holding it is in place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from robopipe.format.atomic import atomic_write_text

MERGED = ".merged"


def pending_sessions(sessions: Path) -> list[Path]:
    """Recorded sessions (folders with ``meta/info.json``) without a ``.merged`` marker, oldest first."""
    if not sessions.is_dir():
        return []
    return sorted(
        p for p in sessions.iterdir() if (p / "meta" / "info.json").is_file() and not (p / MERGED).exists()
    )


def mark_merged(session: Path) -> None:
    """Record (atomically) that ``session`` is part of the master; a re-run will not merge it again."""
    atomic_write_text(session / MERGED, dt.datetime.now(dt.UTC).isoformat() + "\n")
