"""The writer lock: one writer per dataset root, refused with the holder's PID; repair keeps staged episodes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from robopipe.errors import DatasetInUseError
from robopipe.format.lock import acquire, is_locked, lock_path, writer_lock
from robopipe.format.reader import DatasetReader
from robopipe.format.writer import CONFLICT_DIR, STAGING_DIR, DatasetWriter
from tests.fixtures.datasets import default_features, episode_columns

REPO = str(Path(__file__).resolve().parents[3])

HOLDER = """
import sys
sys.path.insert(0, {repo!r})
from robopipe.format.writer import DatasetWriter
from tests.fixtures.datasets import default_features, episode_columns
feats = default_features()
w = DatasetWriter.create({root!r}, fps=10, features=feats)
w.add_episode(episode_columns(feats, 8, 0), task="t")  # saved and staged, not flushed yet
print("HOLDING", flush=True)
if sys.stdin.readline().strip() == "finish":
    w.add_episode(episode_columns(feats, 8, 1), task="t")
    w.finalize()
    print("DONE", flush=True)
"""


def _holder(root: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(repo=REPO, root=str(root))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "HOLDING", line
    return proc


def test_a_second_lock_is_refused_and_released_locks_are_free(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with writer_lock(root, command="first") as lock:
        assert lock.path == lock_path(root) and lock.path.parent == tmp_path
        assert is_locked(root) == json.loads(lock.path.read_text())
        with pytest.raises(
            DatasetInUseError, match=rf"in use by PID {os.getpid()} \(this process\) \(first\)"
        ):
            acquire(root)
    assert is_locked(root) is None and not lock_path(root).exists()
    acquire(tmp_path / "ds" / ".." / "ds").release()  # another spelling of the same root


def test_second_process_writer_is_refused_until_the_first_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    proc = _holder(root)
    try:
        staged = sorted((root / STAGING_DIR).glob("episode-*"))
        assert [p.name for p in staged] == ["episode-000000"]
        with pytest.raises(DatasetInUseError) as err:
            DatasetWriter.open(root)
        assert f"in use by PID {proc.pid} (" in str(err.value) and "wait for it" in str(err.value)
        with pytest.raises(DatasetInUseError):
            DatasetWriter.create(root, fps=10, features=default_features(), exist_ok=True)
        assert main(["repair", str(root)]) == 2  # refused: it must not replay the live writer's episode
        assert f"in use by PID {proc.pid}" in capsys.readouterr().err
        assert sorted((root / STAGING_DIR).glob("episode-*")) == staged  # untouched
        assert proc.stdin is not None
        proc.stdin.write("finish\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=120)
        assert "DONE" in out and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    r = DatasetReader(root)
    assert r.num_episodes == 2 and r.num_frames == 16
    DatasetWriter.open(root).finalize()  # free again


def test_a_killed_writers_lock_is_stale_and_its_episode_recovered(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = _holder(root)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads(lock_path(root).read_text())["pid"] == proc.pid  # file left behind, lock gone
    assert is_locked(root) is None
    w = DatasetWriter.open(root)  # takes over the stale lock and replays the staged episode
    w.finalize()
    assert DatasetReader(root).num_episodes == 1


def _dataset(root: Path, episodes: int, seed: int, finalize: bool = True) -> DatasetWriter:
    feats = default_features()
    w = DatasetWriter.create(root, fps=10, features=feats)
    for e in range(episodes):
        w.add_episode(episode_columns(feats, 8 + e, e, seed=seed), task="t")
    if finalize:
        w.finalize()
    return w


def test_repair_keeps_a_staged_episode_whose_index_another_writer_took(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _dataset(root, 2, seed=0)
    other = _dataset(tmp_path / "other", 2, seed=7, finalize=False)  # its episode 1 is still staged
    stray = root / STAGING_DIR / "episode-000001"
    shutil.copytree(other.root / STAGING_DIR / "episode-000001", stray)
    other.finalize()
    before = DatasetReader(root).read_episode(1)
    assert main(["repair", str(root)]) == 0
    kept = list((root / CONFLICT_DIR).glob("episode-000001-*"))
    assert len(kept) == 1 and (kept[0] / "data.parquet").exists() and (kept[0] / "row.json").exists()
    r = DatasetReader(root)
    assert r.num_episodes == 2 and r.read_episode(1).equals(before)


def test_repair_drops_a_staged_copy_of_a_flushed_episode(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    w = _dataset(root, 2, seed=0, finalize=False)
    copy = tmp_path / "copy"
    shutil.copytree(root / STAGING_DIR / "episode-000001", copy)
    w.finalize()  # flushed: staging removed
    shutil.copytree(copy, root / STAGING_DIR / "episode-000001")  # as if the cleanup had been interrupted
    assert main(["repair", str(root)]) == 0
    assert not (root / STAGING_DIR).exists() and not (root / CONFLICT_DIR).exists()
    assert DatasetReader(root).num_episodes == 2


def test_master_swap_of_the_ingest_pipeline_is_refused_while_another_writer_holds_the_master(
    tmp_path: Path,
) -> None:
    from robopipe.ingest.master import promote_master

    master, staged = tmp_path / "master", tmp_path / "master.next"
    staged.mkdir()
    with writer_lock(master), pytest.raises(DatasetInUseError):
        promote_master(staged, master)
    assert staged.is_dir() and not master.exists()
    promote_master(staged, master)
    assert master.is_dir() and not staged.exists()
