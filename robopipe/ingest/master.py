"""Swap a freshly merged dataset in as the new master (two renames; repairs an interrupted swap).

Both hold the master's writer lock (``robopipe.format.lock``): no other writer touches it mid-swap.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from robopipe.format.lock import writer_lock


def repair_master(master: Path) -> None:
    """Finish or undo a swap interrupted between its two renames (``<master>.previous`` left behind)."""
    with writer_lock(master):
        _repair(Path(master))


def _repair(master: Path) -> None:
    previous = master.with_name(master.name + ".previous")
    if previous.exists() and not master.exists():
        previous.rename(master)  # the new master never arrived: restore the old one
    elif previous.exists():
        shutil.rmtree(previous)  # the new master is in place: drop the old one


def promote_master(staged: Path, master: Path) -> Path:
    """Make ``staged`` the dataset at ``master``; the old master is removed only once the new one is in place."""
    staged, master = Path(staged), Path(master)
    with writer_lock(master):
        _repair(master)
        previous = master.with_name(master.name + ".previous")
        if master.exists():
            master.rename(previous)
        staged.rename(master)
        if previous.exists():
            shutil.rmtree(previous)
    return master
