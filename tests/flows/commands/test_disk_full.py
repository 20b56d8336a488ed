"""A full disk in every writer: one ``disk full`` line (exit 2) saying what was kept, nothing half-written.

Each test mounts a small tmpfs (needs root; skipped otherwise) so ENOSPC is real, not simulated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.cli import main
from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a small tmpfs needs root"
)


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def leftovers(folder: Path) -> list[Path]:
    """Files a failed writer must not leave behind: temporaries and half-built outputs."""
    return [
        p for p in folder.rglob("*") if p.is_file() and (".tmp-" in p.name or p.name.startswith(".stage"))
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    mounted: list[Path] = []

    def mount(size_bytes: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30)


def fill(disk: Path, leave_bytes: int) -> None:
    """Take all but ``leave_bytes`` of the disk with a filler file."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_bytes))


def assert_disk_full_line(err: list[str], *needles: str) -> str:
    errors = [line for line in err if line.startswith("error: ")]
    assert errors and errors[-1] == err[-1], err
    assert not any("Traceback" in line or "Exception ignored" in line for line in err), err
    line = errors[-1]
    assert line.startswith("error: disk full writing") and "kept: " in line and "nothing half-written" in line
    for n in needles:
        assert n in line, line
    return line


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("inputs")
    kw = {"episodes": 4, "frames": 40, "cameras": {"front": (96, 128)}, "codec": "h264"}
    return make_dataset(base / "a", seed=0, **kw), make_dataset(base / "b", seed=1, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "argv",
    [
        ["merge", "{out}", "{a}", "{b}"],
        ["delete-episodes", "{a}", "--episodes", "0", "--out", "{out}"],
        ["split", "{a}", "--out-dir", "{out}", "--splits", "train=0.5,val=0.5"],
        ["remove-feature", "{a}", "--feature", "action", "--out", "{out}"],
        ["rename-feature", "{a}", "--rename", "action=act", "--out", "{out}"],
        ["set-task", "{a}", "--task", "stack", "--out", "{out}"],
    ],
    ids=lambda a: a[0],
)
def test_edit_to_a_full_disk(
    argv: list[str],
    inputs: tuple[Path, Path],
    small_disk: Callable[[int], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = inputs
    before = tree_hash(a), tree_hash(b)
    disk = small_disk(64 * 1024)
    out = disk / "out"
    code = main([x.format(out=out, a=a, b=b) for x in argv])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert_disk_full_line(err, "the input")
    assert (tree_hash(a), tree_hash(b)) == before
    assert [p for p in disk.rglob("*") if p.is_file()] == []  # no partial output of any kind


@pytest.mark.parametrize(
    "argv",
    [
        ["delete-episodes", "{root}", "--episodes", "0", "--in-place"],
        ["set-task", "{root}", "--task", "stack", "--in-place"],
        ["remove-feature", "{root}", "--feature", "action", "--in-place"],
        ["stats", "{root}", "--workers", "0"],
    ],
    ids=lambda a: a[0],
)
@pytest.mark.parametrize("free_fraction", [0.1, 0.5])
def test_in_place_writer_on_a_full_disk_keeps_the_dataset(
    argv: list[str],
    free_fraction: float,
    inputs: tuple[Path, Path],
    small_disk: Callable[[int], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, _ = inputs
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    disk = small_disk(4 * size)
    root = disk / "ds"
    shutil.copytree(src, root)
    fill(disk, int(size * free_fraction))
    before = tree_hash(root)
    code = main([x.format(root=root) for x in argv])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert_disk_full_line(err, str(root), "unchanged")
    assert tree_hash(root) == before
    assert leftovers(disk) == []
    (disk / "filler").unlink()
    assert main(["validate", str(root), "--no-gx"]) == 0


def test_record_on_a_full_disk_keeps_saved_episodes_for_repair(
    small_disk: Callable[[int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    disk = small_disk(160 * 1024)
    root = disk / "rec"
    argv = ["record", "--robot", "sim-so101", "--teleop", "sim-so101-leader", "--camera", "sim:160x120"]
    argv += [
        "--repo-id",
        "lab/full",
        "--root",
        str(root),
        "--single-task",
        "t",
        "--fps",
        "30",
        "--timing",
        "patient",
    ]
    code = main([*argv, "--num-episodes", "8", "--episode-time-s", "1", "--reset-time-s", "0"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert_disk_full_line(err, "robopipe repair", "the episode being recorded was dropped")
    assert leftovers(disk) == []
    subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True, capture_output=True, timeout=30)
    assert main(["repair", str(root)]) == 0
    assert main(["validate", str(root), "--no-gx"]) == 0
    capsys.readouterr()


def test_repair_on_a_full_disk_keeps_the_staged_episodes(
    small_disk: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from robopipe.format.writer import STAGING_DIR

    disk = small_disk(2 * 1024 * 1024)
    root = disk / "ds"
    # an interrupted writer (its process ends without finalize): three episodes staged, none flushed
    script = f"""
import os
from pathlib import Path
from robopipe.format.writer import DatasetWriter
from tests.fixtures.datasets import default_features, episode_columns
features = default_features({{"front": (96, 128)}})
w = DatasetWriter.create(Path({str(root)!r}), fps=10, features=features, robot_type="so101")
for e in range(3):
    cols = episode_columns(features, 30, e)
    for i in range(30):
        w.add_frame({{k: v[i] for k, v in cols.items()}}, task="t")
    w.save_episode()
os._exit(0)
"""
    project = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(project)}
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300, env=env, cwd=project)
    staged = sorted(p.name for p in (root / STAGING_DIR).iterdir())
    fill(disk, 8 * 1024)
    code = main(["repair", str(root)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert_disk_full_line(err, "staged episodes still staged")
    assert sorted(p.name for p in (root / STAGING_DIR).iterdir()) == staged
    assert leftovers(disk) == []
    (disk / "filler").unlink()
    assert main(["repair", str(root)]) == 0
    assert main(["validate", str(root), "--no-gx"]) == 0


def big_hook() -> Iterator[dict[str, object]]:
    """A conversion source: 4 episodes of 400 steps (~90 KB of parquet once converted)."""
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(4):
        yield {
            "observation/state": rng.normal(size=(400, 6)).astype(np.float32),
            "action": rng.normal(size=(400, 6)).astype(np.float32),
            "task": "t",
        }


def test_convert_to_a_full_disk_resumes_after_freeing_space(
    small_disk: Callable[[int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    disk = small_disk(60 * 1024)
    out = disk / "out"
    argv = ["convert", "hook", f"{__name__}:big_hook", "--out", str(out), "--fps", "10"]
    assert main(argv) == 2
    assert_disk_full_line(capsys.readouterr().err.splitlines(), "the source, unchanged", "out.shards")
    assert not out.exists()
    subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True, capture_output=True, timeout=30)
    assert main(argv) == 0
    assert main(["validate", str(out), "--no-gx"]) == 0
