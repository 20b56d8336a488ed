"""Killed edits and splits: stage folders are swept by the next run and by repair; a split is all or nothing.

Each edit runs in a child process that stops itself at a chosen step (after writing every output file,
or between two renames) and waits; the test then SIGKILLs it, so the kill point is exact (no sleeps).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from robopipe.edit import EditRequest, edit
from robopipe.edit.leftovers import SPLIT_JOURNAL
from robopipe.errors import DatasetInUseError
from robopipe.execution import SerialExecutor
from robopipe.format.lock import writer_lock
from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import make_dataset
from tests.robopipe.edit.helpers import check_structure, tree_hash

REPO = str(Path(__file__).resolve().parents[3])

CHILD = """
import os, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from typing import Any
import robopipe.edit.finish as finish
import robopipe.edit.ops as ops
from robopipe.edit import EditRequest, edit

def pause(what):
    print("PAUSED", what, flush=True)
    sys.stdin.readline()  # never answered: the test kills us here

STOP = {stop!r}
runs = []
real_write_files = ops.write_files
def write_files(plan, executor):
    result = real_write_files(plan, executor)
    runs.append(plan)
    if STOP == "staged" or (STOP == "second-split" and len(runs) == 2):
        pause("staged")
    return result

real_replace = os.replace
def replace(src, dst):
    real_replace(src, dst)
    if STOP == "mid-swap" and ".robopipe-backup-" in str(dst):
        pause("mid-swap")
    if STOP == "mid-move" and Path(dst).parent.name == "splits":
        pause("mid-move")
finish.os.replace = ops.os.replace = replace  # the same os module: patch it for this child only

ops.write_files = write_files
edit(EditRequest.model_validate_json({request!r}))
print("DONE", flush=True)
"""


def _run_until_paused(tmp_path: Path, request: EditRequest, stop: str) -> None:
    code = CHILD.format(repo=REPO, stop=stop, request=request.model_dump_json())
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PAUSED"), line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _hidden(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".") and "robopipe-lock" not in p.name
    )


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "src", episodes=4, frames=6, codec="h264")


def test_killed_edit_leaves_a_stage_folder_the_next_run_sweeps(src: Path, tmp_path: Path) -> None:
    before = tree_hash(src)
    out = tmp_path / "out"
    req = EditRequest(operation="delete-episodes", root=src, episodes=[1], out=out)
    _run_until_paused(tmp_path, req, "staged")
    assert not out.exists()
    [stage] = _hidden(tmp_path)
    assert stage.startswith(".out.robopipe-edit-")  # the leftover the issue saw
    assert main(["delete-episodes", str(src), "--episodes", "1", "--out", str(out)]) == 0
    assert _hidden(tmp_path) == [] and check_structure(out).num_episodes == 3
    assert tree_hash(src) == before


def test_repair_sweeps_a_killed_in_place_edit(src: Path, tmp_path: Path) -> None:
    before = tree_hash(src)
    req = EditRequest(operation="set-task", root=src, task="new", in_place=True)
    _run_until_paused(tmp_path, req, "staged")
    [stage] = _hidden(tmp_path)
    assert stage.startswith(".src.robopipe-edit-")
    assert main(["repair", str(src)]) == 0
    assert _hidden(tmp_path) == [] and tree_hash(src) == before


def test_in_place_edit_killed_mid_swap_is_undone_by_repair(src: Path, tmp_path: Path) -> None:
    before = tree_hash(src)
    req = EditRequest(operation="set-task", root=src, task="new", in_place=True)
    _run_until_paused(tmp_path, req, "mid-swap")
    assert not src.exists()  # the original sits in the backup, the edit in its stage
    assert main(["repair", str(src)]) == 0
    assert _hidden(tmp_path) == [] and tree_hash(src) == before
    assert DatasetReader(src).num_episodes == 4


def test_failed_edit_removes_its_stage(src: Path, tmp_path: Path) -> None:
    class Broken(SerialExecutor):
        def map(self, *args: object, **kwargs: object) -> Any:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        edit(EditRequest(operation="set-task", root=src, task="x", out=tmp_path / "o"), Broken())
    assert _hidden(tmp_path) == [] and not (tmp_path / "o").exists()


def test_edit_output_is_locked_against_a_second_writer(src: Path, tmp_path: Path) -> None:
    with writer_lock(src):
        with pytest.raises(DatasetInUseError):
            edit(EditRequest(operation="set-task", root=src, task="x", in_place=True))
        with pytest.raises(DatasetInUseError):
            other = make_dataset(tmp_path / "other", episodes=1, frames=4, codec="h264")
            edit(EditRequest(operation="set-task", root=other, task="x", out=src))
    assert main(["set-task", str(src), "--task", "x", "--in-place"]) == 0


def test_killed_split_into_a_new_folder_leaves_no_half_set(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits"
    req = EditRequest(operation="split", root=src, splits={"train": 0.5, "val": 0.5}, out=out)
    _run_until_paused(tmp_path, req, "second-split")
    assert not out.exists()  # nothing that looks like a split set
    [stage] = _hidden(tmp_path)
    assert stage.startswith(".splits.robopipe-split-")
    assert main(["split", str(src), "--splits", "train=0.5,val=0.5", "--out-dir", str(out)]) == 0
    assert _hidden(tmp_path) == []
    assert sorted(p.name for p in out.iterdir()) == ["train", "val"]
    assert [check_structure(out / n).num_episodes for n in ("train", "val")] == [2, 2]


def test_killed_split_into_an_existing_folder_is_undone_by_the_rerun(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    req = EditRequest(operation="split", root=src, splits={"train": 0.5, "val": 0.5}, out=out)
    _run_until_paused(tmp_path, req, "mid-move")
    assert (out / "train").is_dir() and not (out / "val").exists()  # half moved, with its journal
    assert len(list(out.glob(f"{SPLIT_JOURNAL}*"))) == 1
    assert main(["split", str(src), "--splits", "train=0.5,val=0.5", "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "train", "val"]
    assert [check_structure(out / n).num_episodes for n in ("train", "val")] == [2, 2]
