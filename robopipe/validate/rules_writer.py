"""Rules on the writer's state: saved episodes still in the staging folder, a live writer (core layer).

A dataset whose writer was interrupted loads, but without the episodes that wait in ``.staging/`` (they come
back with ``robopipe repair``); validating or publishing it as it is would silently drop them.
"""

from __future__ import annotations

from pathlib import Path

from robopipe.format.lock import is_locked
from robopipe.validate.findings import FindingCollector


def pending_episodes(root: Path) -> list[str]:
    """Names of the saved (committed) episodes waiting in the writer's staging folder of ``root``."""
    from robopipe.format.writer import STAGING_DIR

    staging = Path(root) / STAGING_DIR
    if not staging.is_dir() or staging.is_symlink():
        return []
    return sorted(
        p.name
        for p in staging.glob("episode-*")
        if not p.name.endswith(".partial") and p.is_dir() and (p / "row.json").is_file()
    )


def writer_holder(root: Path) -> str | None:
    """``PID N (command)`` of a live writer of ``root``, else ``None``."""
    holder = is_locked(root)
    if holder is None:
        return None
    pid, cmd = holder.get("pid"), holder.get("command")
    return f"PID {pid}" + (f" ({cmd})" if isinstance(cmd, str) and cmd else "")


def check_writer_state(root: Path, out: FindingCollector) -> None:
    """RP211 saved episodes pending in ``.staging/``; RP212 a writer is running now; RP213 kept conflicts."""
    from robopipe.format.writer import CONFLICT_DIR, STAGING_DIR

    holder = writer_holder(root)
    if holder is not None:
        out.add("RP212", f"a writer is using this dataset now: {holder}; what is validated may change")
    pending = pending_episodes(root)
    if pending:
        state = f"its writer ({holder}) is still running" if holder else "its writer was interrupted"
        out.add(
            "RP211",
            f"{len(pending)} saved episode(s) are still in the writer's staging folder and not part of the "
            f"dataset ({', '.join(pending[:5])}{', ...' if len(pending) > 5 else ''}): {state}; "
            f"run robopipe repair {root}",
            file=STAGING_DIR,
            expected="no staged episodes",
            actual=f"{len(pending)} staged",
        )
    conflicts = Path(root) / CONFLICT_DIR
    if conflicts.is_dir() and not conflicts.is_symlink() and any(conflicts.iterdir()):
        out.add(
            "RP213",
            f"{CONFLICT_DIR}/ holds staged episodes another writer displaced; they are not in the dataset",
            file=CONFLICT_DIR,
        )
