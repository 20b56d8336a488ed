"""Validation throughput: hand-written rules, GX serial and GX on Dask, numeric and video datasets.

Run: ``.venv/bin/python bench/validate.py [--frames 1000000] [--work DIR] [--skip-video]``

Datasets are written once with robopipe's writer into ``--work`` (default /tmp/robopipe-bench/validate)
and reused. Prints frames/s and frames/min per configuration; the target is >= 1M frames/min with GX
on (2-core machine). LeRobot has no validator to compare against, so there is no ratio column.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from robopipe.format.info import load_info
from robopipe.format.writer import DatasetWriter, VideoEncoderConfig
from robopipe.validate import ValidationReport, validate_dataset

STATE = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def numeric_dataset(root: Path, frames: int, episode_len: int = 1000) -> Path:
    """``frames`` rows of state/action (6,) float32 in episodes of ``episode_len`` frames, ~8 MB data files."""
    if (root / "meta/info.json").is_file() and load_info(root).total_frames == frames:
        return root
    feats = {k: {"dtype": "float32", "shape": [6], "names": STATE} for k in ("observation.state", "action")}
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with DatasetWriter.create(
        root, fps=30, features=feats, robot_type="so101", data_files_size_in_mb=8, exist_ok=True
    ) as w:
        left = frames
        while left > 0:
            n = min(episode_len, left)
            x = rng.normal(size=(n, 6)).astype(np.float32)
            w.add_episode({"observation.state": x, "action": x + 0.01}, task="pick")
            left -= n
    print(f"  wrote {frames} numeric frames in {time.perf_counter() - t0:.1f}s -> {root}")
    return root


def video_dataset(root: Path, episodes: int = 20, length: int = 300, hw: tuple[int, int] = (96, 128)) -> Path:
    """``episodes`` x ``length`` frames with one h264 camera (smooth moving gradients)."""
    if (root / "meta/info.json").is_file() and load_info(root).total_frames == episodes * length:
        return root
    h, w = hw
    feats = {
        "observation.state": {"dtype": "float32", "shape": [6], "names": STATE},
        "action": {"dtype": "float32", "shape": [6], "names": STATE},
        "observation.images.front": {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
        },
    }
    yy, xx = np.mgrid[0:h, 0:w]
    t0 = time.perf_counter()
    with DatasetWriter.create(
        root, fps=30, features=feats, encoder=VideoEncoderConfig(codec="h264"), exist_ok=True
    ) as wr:
        rng = np.random.default_rng(0)
        for e in range(episodes):
            frames = np.stack(
                [
                    np.stack([(xx * 2 + i * 3) % 256, (yy * 2 + e * 9) % 256, (xx + yy + i) % 256], -1)
                    for i in range(length)
                ]
            ).astype(np.uint8)
            x = rng.normal(size=(length, 6)).astype(np.float32)
            wr.add_episode(
                {"observation.state": x, "action": x, "observation.images.front": frames}, task="pick"
            )
    print(f"  wrote {episodes * length} video frames in {time.perf_counter() - t0:.1f}s -> {root}")
    return root


def run(label: str, root: Path, frames: int, **kwargs: object) -> ValidationReport:
    t0 = time.perf_counter()
    report = validate_dataset(root, **kwargs)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    status = "valid" if report.valid else f"INVALID {report.counts}"
    print(
        f"  {label:<44} {dt:7.2f}s  {frames / dt:12,.0f} frames/s  {frames / dt * 60 / 1e6:7.2f} M frames/min  {status}"
    )
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/robopipe-bench/validate"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-video", action="store_true")
    ap.add_argument("--video-episodes", type=int, default=30)
    ap.add_argument("--video-length", type=int, default=600, help="frames per episode")
    args = ap.parse_args()
    import distributed  # noqa: F401 - configures its loggers on import; quieten them afterwards

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("distributed", "great_expectations"):
        logging.getLogger(name).setLevel(logging.ERROR)

    from robopipe.execution import Execution
    from tasks.executors import open_executor

    print(f"numeric dataset: {args.frames} frames")
    num = numeric_dataset(args.work / f"numeric-{args.frames}", args.frames)
    files = len(list((num / "data").glob("*/*.parquet")))
    print(f"  ({files} data files)")
    run("hand-written rules (GX off)", num, args.frames, gx=False)
    run("GX on, serial", num, args.frames, gx=True)
    t0 = time.perf_counter()
    with open_executor(Execution(kind="dask-local", workers=args.workers)) as runner:
        print(f"  (LocalCluster with {args.workers} workers started in {time.perf_counter() - t0:.1f}s)")
        run(f"GX on, Dask LocalCluster x{args.workers} (warm-up)", num, args.frames, gx=True, executor=runner)
        run(f"GX on, Dask LocalCluster x{args.workers}", num, args.frames, gx=True, executor=runner)
    t0 = time.perf_counter()
    with open_executor(Execution(kind="dask-local", workers=args.workers)) as runner:
        run(
            f"GX on, Dask cold (incl. cluster start {args.workers}w)",
            num,
            args.frames,
            gx=True,
            executor=runner,
        )
    print(f"  (cold run incl. cluster start+stop: {time.perf_counter() - t0:.1f}s)")

    if args.skip_video:
        return
    vid = video_dataset(
        args.work / f"video-{args.video_episodes}x{args.video_length}", args.video_episodes, args.video_length
    )
    n = load_info(vid).total_frames
    print(f"video dataset: {n} frames in {args.video_episodes} episodes, one 128x96 h264 camera (GOP 2)")
    run("video metadata, GX off", vid, n, gx=False)
    run("video metadata, GX on (serial)", vid, n, gx=True)
    run("video full decode, GX off", vid, n, gx=False, full_decode=True)
    run("video full decode, GX on (serial)", vid, n, gx=True, full_decode=True)


if __name__ == "__main__":
    main()
