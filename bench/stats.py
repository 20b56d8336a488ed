"""Statistics benchmark: LeRobot (0.4.4, or 0.6.1 with ROBOPIPE_BENCH_LEROBOT=0.6.1) vs robopipe on the same datasets, side by side.

Numeric part (one synthetic dataset, default 1M frames):
  * read ceiling     - just reading the numeric parquet columns into numpy (pyarrow)
  * lerobot          - read the same columns, per-episode ``compute_episode_stats`` + ``aggregate_stats``
                       (LeRobot 0.4.4 in the reference interpreter, timed inside that process)
  * robopipe compute - the same loop with ``summarize_episode`` + ``merge_all`` (in-process)
  * robopipe stats   - the full ``robopipe stats --workers 0`` (also rewrites meta/episodes, sketches, stats.json)
  * robopipe dask N  - the full recompute on a LocalCluster of 1 and 2 workers (cluster start-up shown apart)
Video part (small dataset): LeRobot's ``compute_quantile_stats_for_dataset`` (its only recompute path for
videos, decodes every frame through ``dataset[i]``) vs ``robopipe stats`` decoding LeRobot's sampled frames.

Run small:  .venv/bin/python bench/stats.py --frames 20000 --video-episodes 2
Full:       .venv/bin/python bench/stats.py            (1M frames; needs LEROBOT_PYTHON or the default path)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import lerobot_label, lerobot_python  # noqa: E402

DEFAULT_LEROBOT = "/root/.cache/lerobot-ref/bin/python"

LEROBOT_NUMERIC = r"""
import json, sys, time, glob
import numpy as np, pyarrow.parquet as pq
from lerobot.datasets.compute_stats import compute_episode_stats, aggregate_stats
root, repeat = sys.argv[1], int(sys.argv[2])
info = json.load(open(root + "/meta/info.json"))
feats = {k: v for k, v in info["features"].items() if v["dtype"] not in ("video", "image", "string")}
best = None
for _ in range(repeat):
  t0 = time.perf_counter()
  all_stats, t_read = [], 0.0
  for path in sorted(glob.glob(root + "/data/*/*.parquet")):
    r0 = time.perf_counter()
    table = pq.read_table(path, columns=list(feats))
    cols = {}
    for k, spec in feats.items():
        arr = table[k].combine_chunks()
        n = len(arr)
        while hasattr(arr, "flatten") and arr.type.num_fields == 1:
            arr = arr.flatten()
        cols[k] = arr.to_numpy().reshape((n, *spec["shape"])) if spec["shape"] != [1] else arr.to_numpy()
    t_read += time.perf_counter() - r0
    ep = cols["episode_index"]
    starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
    for a, b in zip(starts, list(starts[1:]) + [len(ep)]):
        all_stats.append(compute_episode_stats({k: v[a:b] for k, v in cols.items()}, feats))
  total = aggregate_stats(all_stats)
  secs = time.perf_counter() - t0
  best = secs if best is None else min(best, secs)
print(json.dumps({"seconds": best, "read_seconds": t_read, "episodes": len(all_stats)}))
"""

LEROBOT_VIDEO = r"""
import json, sys, time, logging
logging.disable(logging.INFO)
from lerobot.datasets.lerobot_dataset import LeRobotDataset
try:
    from lerobot.datasets.v30.augment_dataset_quantile_stats import compute_quantile_stats_for_dataset
except ImportError:  # LeRobot 0.6.1 moved it to lerobot.scripts
    from lerobot.scripts.augment_dataset_quantile_stats import compute_quantile_stats_for_dataset
best = None
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    ds = LeRobotDataset("local/bench", root=sys.argv[1])
    stats = compute_quantile_stats_for_dataset(ds)
    secs = time.perf_counter() - t0
    best = secs if best is None else min(best, secs)
print(json.dumps({"seconds": best, "frames": len(ds)}))
"""


def run_lerobot(py: str, code: str, root: Path, repeat: int) -> dict[str, Any] | None:
    if not Path(py).is_file():
        print(f"  (LeRobot reference interpreter not found at {py}; skipping the LeRobot run)")
        return None
    work = Path(tempfile.mkdtemp(prefix="bench-lerobot-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_"))}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(work / "hf"),
            "HF_LEROBOT_HOME": str(work / "lr"),
            "HF_DATASETS_CACHE": str(work / "hfd"),
        }
    )
    script = work / "bench.py"
    script.write_text(code)
    proc = subprocess.run(
        [py, str(script), str(root), str(repeat)], capture_output=True, text=True, env=env, cwd=work
    )
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:])
        raise SystemExit("LeRobot run failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build_numeric(root: Path, frames: int, episode_length: int, dims: int, file_mb: float) -> Path:
    from robopipe.format.writer import DatasetWriter

    marker = root / ".bench-params"
    params = json.dumps([frames, episode_length, dims, file_mb])
    if marker.is_file() and marker.read_text() == params:
        return root
    shutil.rmtree(root, ignore_errors=True)
    feats = {
        "observation.state": {"dtype": "float32", "shape": [dims], "names": None},
        "action": {"dtype": "float32", "shape": [dims], "names": None},
    }
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with DatasetWriter.create(
        root, fps=30, features=feats, robot_type="bench", use_videos=False, data_files_size_in_mb=file_mb
    ) as w:
        done = 0
        while done < frames:
            n = min(
                episode_length + int(rng.integers(-episode_length // 5, episode_length // 5 + 1)),
                frames - done,
            )
            n = max(n, 2)
            walk = np.cumsum(rng.normal(size=(n, dims)) * 0.01, axis=0) + rng.normal(size=dims) * 30
            w.add_episode(
                {
                    "observation.state": walk.astype(np.float32),
                    "action": (walk + rng.normal(size=(n, dims)) * 0.1).astype(np.float32),
                },
                task="bench",
            )
            done += n
    marker.write_text(params)
    print(f"  built {root} ({frames} frames) in {time.perf_counter() - t0:.1f}s")
    return root


def build_video(root: Path, episodes: int, frames: int, h: int, w: int, codec: str) -> Path:
    from tests.fixtures.datasets import make_dataset

    marker = root / ".bench-params"
    params = json.dumps([episodes, frames, h, w, codec])
    if marker.is_file() and marker.read_text() == params:
        return root
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    make_dataset(root, episodes=episodes, frames=frames, fps=30, cameras={"front": (h, w)}, codec=codec)
    marker.write_text(params)
    print(f"  built {root} ({episodes}x{frames} frames of {w}x{h}) in {time.perf_counter() - t0:.1f}s")
    return root


def read_ceiling(root: Path) -> float:
    from robopipe.format.info import load_info
    from robopipe.format.layout import DATA_DIR, sorted_files
    from robopipe.format.reader import column_to_numpy

    feats = {k: f for k, f in load_info(root).features.items() if f.is_numeric}
    t0 = time.perf_counter()
    for path in sorted_files(root, DATA_DIR, ".parquet"):
        table = pq.read_table(path, columns=list(feats))
        for k, spec in feats.items():
            column_to_numpy(table[k], spec)
    return time.perf_counter() - t0


def robopipe_compute(root: Path) -> float:
    """Same work as the LeRobot loop: read, per-episode stats (LeRobot format + sketches), merge."""
    from robopipe.format.info import load_info
    from robopipe.format.layout import DATA_DIR, sorted_files
    from robopipe.format.reader import column_to_numpy
    from robopipe.stats import DatasetStats, merge_all
    from robopipe.stats.batch import file_numeric_stats

    feats = {k: f for k, f in load_info(root).features.items() if f.is_numeric}
    t0 = time.perf_counter()
    totals = []
    for path in sorted_files(root, DATA_DIR, ".parquet"):
        table = pq.read_table(path, columns=list(feats))
        cols = {k: column_to_numpy(table[k], spec) for k, spec in feats.items()}
        ep = cols["episode_index"].ravel()
        starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
        fs = file_numeric_stats(cols, feats, np.diff(np.r_[starts, len(ep)]))
        totals.append(DatasetStats(fs.total))
    merge_all(totals).to_lerobot()
    return time.perf_counter() - t0


REPEAT = 1


def timed(fn: Any) -> float:
    """Best of ``REPEAT`` runs (the machine may be shared; the minimum is the least disturbed run)."""
    best = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def row(name: str, seconds: float, frames: int, ref: float | None) -> None:
    ratio = f"{ref / seconds:6.1f}x" if ref else "     -"
    print(f"  {name:<34} {seconds:8.2f} s {frames / seconds:14,.0f} frames/s   vs LeRobot {ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames of the numeric dataset")
    ap.add_argument("--episode-length", type=int, default=500, help="mean episode length (±20%%)")
    ap.add_argument("--dims", type=int, default=14, help="state/action dimensions")
    ap.add_argument(
        "--data-file-mb", type=float, default=20.0, help="data file size (sets the number of Dask units)"
    )
    ap.add_argument("--video-episodes", type=int, default=6, help="episodes of the video dataset (0: skip)")
    ap.add_argument("--video-frames", type=int, default=90, help="frames per video episode")
    ap.add_argument("--video-size", default="240x320", help="HxW of the video camera")
    ap.add_argument("--codec", default="libsvtav1", help="libsvtav1 or h264")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "robopipe-bench-stats")
    ap.add_argument("--lerobot-python", default=lerobot_python() or DEFAULT_LEROBOT)
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask runs")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is reported")
    args = ap.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)

    from robopipe.stats.recompute import StatsRequest, recompute_stats

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"== numeric: {args.frames:,} frames, ~{args.episode_length}-frame episodes, 2x{args.dims} dims")
    root = build_numeric(
        args.workdir / "numeric", args.frames, args.episode_length, args.dims, args.data_file_mb
    )
    n = args.frames
    ceiling = timed(lambda: read_ceiling(root))
    lr = run_lerobot(args.lerobot_python, LEROBOT_NUMERIC, root, REPEAT)
    ref = lr["seconds"] if lr else None
    if lr:
        row(f"{lerobot_label()} ({lr['episodes']} episodes)", lr["seconds"], n, ref)
    row("read ceiling (pyarrow -> numpy)", ceiling, n, ref)
    row("robopipe compute (same loop)", timed(lambda: robopipe_compute(root)), n, ref)
    row(
        "robopipe stats --workers 0",
        timed(lambda: recompute_stats(StatsRequest(root=root))),
        n,
        ref,
    )
    if not args.no_dask:
        from robopipe.execution import Execution
        from tasks.executors import open_executor

        for workers in (1, 2):
            t0 = time.perf_counter()
            with open_executor(Execution(kind="dask-local", workers=workers)) as executor:
                startup = time.perf_counter() - t0
                secs = timed(lambda ex=executor: recompute_stats(StatsRequest(root=root), ex))
            row(f"robopipe dask {workers} worker(s)", secs, n, ref)
            print(f"  {'':<34} (+{startup:.1f} s LocalCluster start-up, not included)")

    if args.video_episodes > 0:
        h, w = (int(x) for x in args.video_size.split("x"))
        print(
            f"== video: {args.video_episodes} episodes x {args.video_frames} frames of {w}x{h} ({args.codec})"
        )
        vroot = build_video(args.workdir / "video", args.video_episodes, args.video_frames, h, w, args.codec)
        vn = args.video_episodes * args.video_frames
        lv = run_lerobot(args.lerobot_python, LEROBOT_VIDEO, vroot, REPEAT)
        vref = lv["seconds"] if lv else None
        if lv:
            row(f"{lerobot_label()} quantile_stats", lv["seconds"], vn, vref)
        row(
            "robopipe stats --workers 0",
            timed(lambda: recompute_stats(StatsRequest(root=vroot))),
            vn,
            vref,
        )
        row(
            "robopipe stats --no-images",
            timed(lambda: recompute_stats(StatsRequest(root=vroot, images=False))),
            vn,
            vref,
        )
        if not args.no_dask:
            from robopipe.execution import Execution
            from tasks.executors import open_executor

            with open_executor(Execution(kind="dask-local", workers=2)) as executor:
                secs = timed(lambda: recompute_stats(StatsRequest(root=vroot), executor))
            row("robopipe dask 2 workers", secs, vn, vref)


if __name__ == "__main__":
    main()
