"""Leftovers of interrupted edits: find them, finish or undo them (core layer).

An edit writes its output into a hidden stage folder next to it and renames it into place at the end; an
in-place edit keeps the old root aside as a backup until the swap is done; a split into an existing folder
records the outputs it is moving into place in a journal. A ``kill -9`` can leave any of them behind. The
next writer of the same output root (which holds its writer lock, so no live run owns them) and
``robopipe repair`` call :func:`sweep`: stage folders are deleted and a backup whose root is gone is put
back. The next split into the same folder calls :func:`sweep_split`, which also removes the outputs of a
half-committed split so the re-run starts clean.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

EDIT_STAGE = "robopipe-edit"
BACKUP = "robopipe-backup"
SPLIT_STAGE = "robopipe-split"
SPLIT_JOURNAL = ".robopipe-split-journal-"


def stage_dir_for(out: Path) -> Path:
    """A temporary sibling of ``out`` (same filesystem, so the final rename is atomic)."""
    return out.parent / f".{out.name}.{EDIT_STAGE}-{os.getpid()}"


def backup_dir_for(out: Path) -> Path:
    return out.parent / f".{out.name}.{BACKUP}-{os.getpid()}"


def split_stage_for(out_dir: Path) -> Path:
    """Where a split stages its outputs: a sibling of a new ``out_dir`` (renamed at once), else inside it."""
    if out_dir.exists():
        return out_dir / f".{SPLIT_STAGE}-{os.getpid()}"
    return out_dir.parent / f".{out_dir.name}.{SPLIT_STAGE}-{os.getpid()}"


def _siblings(out: Path, kind: str) -> list[Path]:
    parent = out.parent
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.glob(f".{out.name}.{kind}-*") if p.is_dir() and not p.is_symlink())


def write_split_journal(out_dir: Path, targets: list[Path]) -> Path:
    """Record the split outputs about to be renamed into ``out_dir`` (removed again after the last)."""
    path = out_dir / f"{SPLIT_JOURNAL}{os.getpid()}.json"
    path.write_text(json.dumps([t.name for t in targets]))
    return path


def _journal_names(journal: Path) -> list[str]:
    try:
        names = json.loads(journal.read_text())
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _undo_split_journal(journal: Path) -> list[Path]:
    """Remove the outputs a split killed while moving them into place had already moved."""
    removed = []
    for name in _journal_names(journal):
        target = journal.parent / str(name)
        if "/" not in name and name not in (".", "..") and target.is_dir() and not target.is_symlink():
            log.warning(
                "%s: output of an interrupted split (only part of the set was written); removing", target
            )
            shutil.rmtree(target)
            removed.append(target)
    journal.unlink()
    return removed


def sweep_split(out_dir: Path) -> list[Path]:
    """Clean up after interrupted splits into ``out_dir``; the caller holds ``out_dir``'s writer lock."""
    out_dir = Path(out_dir)
    stages = _siblings(out_dir, SPLIT_STAGE)
    if out_dir.is_dir():
        stages += sorted(p for p in out_dir.glob(f".{SPLIT_STAGE}-*") if p.is_dir() and not p.is_symlink())
    for stage in stages:
        log.warning("%s: removing the stage folder of an interrupted split", stage)
        shutil.rmtree(stage, ignore_errors=True)
    undone: list[Path] = []
    if out_dir.is_dir():
        for journal in sorted(out_dir.glob(f"{SPLIT_JOURNAL}*.json")):
            undone += _undo_split_journal(journal)
    return stages + undone


def sweep(out: Path) -> list[Path]:
    """Clean up after interrupted edits of ``out``; the caller holds ``out``'s writer lock. Returns what changed."""
    out = Path(out)
    done: list[Path] = []
    for stage in _siblings(out, EDIT_STAGE):
        log.warning("%s: removing the stage folder of an interrupted edit", stage)
        shutil.rmtree(stage, ignore_errors=True)
        done.append(stage)
    backups = _siblings(out, BACKUP)
    if backups and not out.exists():  # killed between the two renames of an in-place swap: put it back
        newest = max(backups, key=lambda p: p.stat().st_mtime)
        log.warning(
            "%s: an in-place edit was interrupted mid-swap; restoring the original from %s", out, newest
        )
        os.replace(newest, out)
        backups.remove(newest)
        done.append(out)
    for backup in backups:  # the swap finished, only the removal of the old copy was interrupted
        log.warning("%s: removing the old copy left by an interrupted in-place edit", backup)
        shutil.rmtree(backup, ignore_errors=True)
        done.append(backup)
    if out.parent.is_dir():  # ``out`` is one output of a split killed while moving its set into place
        for journal in sorted(out.parent.glob(f"{SPLIT_JOURNAL}*.json")):
            if out.name in _journal_names(journal):
                done += _undo_split_journal(journal)
    return done
