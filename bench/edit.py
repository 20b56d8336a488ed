"""Merge/edit benchmark: LeRobot's dataset tools (0.4.4, or 0.6.1 with ROBOPIPE_BENCH_LEROBOT=0.6.1) vs robopipe on the same data, and ``cp -r`` as the ceiling.

Operations (same inputs for all three):
  delete   delete every 4th episode of BASE            (LeRobot: dataset_tools.delete_episodes)
  split    train=0.8,val=0.2 of BASE                   (LeRobot: dataset_tools.split_dataset)
  merge2   BASE + a copy of BASE                       (LeRobot: aggregate.aggregate_datasets)
  merge16  the 16 shards BASE was made of              (LeRobot: aggregate.aggregate_datasets)

BASE is the robopipe merge of SHARDS datasets written with robopipe's writer (untimed). The copy ceiling
is ``cp -r`` of the operation's input bytes. LeRobot runs in its reference interpreter (LEROBOT_PYTHON),
its time includes loading the dataset, as its CLI does; robopipe's includes loading the metadata.
Targets (issue 6): delete and split >= 20x faster than LeRobot, merge16 >= 5x, all within 2x of the copy.

    .venv/bin/python bench/edit.py [--shards 16 --shard-episodes 2 --frames 150 --height 240 --width 320]
                                   [--cameras 1] [--workers 1] [--skip-lerobot] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import FRAME_SRC, lerobot_label, ratio, run_lerobot

ns: dict = {}
exec(FRAME_SRC, ns)
make_frame, make_vec = ns["make_frame"], ns["make_vec"]

LEROBOT = """
import json, time, shutil
from pathlib import Path
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.datasets.dataset_tools import delete_episodes, split_dataset
from lerobot.datasets.aggregate import aggregate_datasets
W = Path({work!r})
out = {{}}
t0 = time.perf_counter()
ds = LeRobotDataset("bench/base", root={base!r})
delete_episodes(ds, episode_indices={delete!r}, output_dir=W / "lr_delete", repo_id="bench/lr_delete")
out["delete"] = time.perf_counter() - t0
t0 = time.perf_counter()
ds = LeRobotDataset("bench/base", root={base!r})
split_dataset(ds, splits={{"train": 0.8, "val": 0.2}}, output_dir=W / "lr_split")
out["split"] = time.perf_counter() - t0
t0 = time.perf_counter()
aggregate_datasets(["bench/base", "bench/base2"], "bench/lr_merge2", roots=[Path({base!r}), Path({base2!r})],
                   aggr_root=W / "lr_merge2")
out["merge2"] = time.perf_counter() - t0
shards = {shards!r}
t0 = time.perf_counter()
aggregate_datasets([f"bench/shard{{i}}" for i in range(len(shards))], "bench/lr_merge16", roots=[Path(s) for s in shards],
                   aggr_root=W / "lr_merge16")
out["merge16"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def make_inputs(work: Path, args: argparse.Namespace) -> tuple[list[Path], Path, Path]:
    import numpy as np

    from robopipe.edit import MergeRequest, merge
    from robopipe.format.video import VideoEncoderConfig
    from robopipe.format.writer import DatasetWriter

    names = [f"j{i}" for i in range(6)]
    feats = {
        "observation.state": {"dtype": "float32", "shape": [6], "names": names},
        "action": {"dtype": "float32", "shape": [6], "names": names},
    }
    for c in range(args.cameras):
        feats[f"observation.images.cam{c}"] = {
            "dtype": "video",
            "shape": [args.height, args.width, 3],
            "names": ["height", "width", "channels"],
        }
    frames = [make_frame(args.height, args.width, e, i) for e in range(2) for i in range(args.frames)]
    shards = []
    for s in range(args.shards):
        root = work / f"shard{s}"
        with DatasetWriter.create(
            root, fps=30, features=feats, robot_type="so101", encoder=VideoEncoderConfig(crf=args.crf)
        ) as w:
            for e in range(args.shard_episodes):
                g = s * args.shard_episodes + e
                cols = {
                    "observation.state": np.stack([make_vec(g, i) for i in range(args.frames)]),
                    "action": np.stack([make_vec(g, i + 1) for i in range(args.frames)]),
                }
                for c in range(args.cameras):
                    base = frames[(g % 2) * args.frames : (g % 2 + 1) * args.frames]
                    cols[f"observation.images.cam{c}"] = np.stack(base)
                w.add_episode(cols, task=f"task {g % 3}")
        shards.append(root)
    base = work / "base"
    merge(MergeRequest(out=base, roots=shards))
    base2 = work / "base2"
    shutil.copytree(base, base2)
    return shards, base, base2


def _cp(srcs: list[Path], dest: Path, sync: bool = False) -> float:
    """``cp -r`` of the inputs (``sync``: then flush the copies to disk, as robopipe's fsyncs do)."""
    dest.mkdir(parents=True)
    subprocess.run(["sync"], check=True)  # start clean: earlier writes are not flushed on our clock
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", *map(str, srcs), str(dest)], check=True)
    if sync:
        subprocess.run(["sync", "-f", str(dest)], check=True)
    return time.perf_counter() - t0


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for r in paths for p in r.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument(
        "--crf",
        type=int,
        default=12,
        help="encoder crf of the inputs; 12 gives ~30 KB/frame at 640x480 on the synthetic frames, the "
        "size of real camera footage at LeRobot's crf 30 (the smooth synthetic frames at crf 30 are ~1 KB)",
    )
    ap.add_argument("--shard-episodes", type=int, default=2)
    ap.add_argument("--frames", type=int, default=150, help="frames per episode")
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="robopipe threads for writing output files")
    ap.add_argument("--skip-lerobot", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    from robopipe.edit import EditRequest, MergeRequest, edit, merge
    from robopipe.execution import ThreadExecutor

    work = args.workdir or Path(tempfile.mkdtemp(prefix="robopipe-bench-edit-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if (work / "base2/meta/info.json").exists():  # --workdir of an earlier run: reuse its inputs
            shards, base, base2 = (
                [work / f"shard{s}" for s in range(args.shards)],
                work / "base",
                work / "base2",
            )
            for old in [*work.glob("[rlc][pr]_*"), *work.glob("cps_*")]:
                shutil.rmtree(old)
            shutil.rmtree(work / "lerobot", ignore_errors=True)
        else:
            shards, base, base2 = make_inputs(work, args)
        n = args.shards * args.shard_episodes
        delete = list(range(0, n, 4))
        print(
            f"inputs: {args.shards} shards x {args.shard_episodes} episodes x {args.frames} frames, "
            f"{args.cameras} camera(s) {args.width}x{args.height}; BASE {_size([base]) / 1e6:.1f} MB "
            f"(made in {time.perf_counter() - t0:.1f}s)"
        )
        runner = ThreadExecutor(args.workers)
        from robopipe.edit import load_source

        load_source(base)  # warm-up: imports and first-use initialisation are not part of an operation
        rp: dict[str, float] = {}
        subprocess.run(["sync"], check=True)
        t0 = time.perf_counter()
        edit(
            EditRequest(operation="delete-episodes", root=base, episodes=delete, out=work / "rp_delete"),
            executor=runner,
        )
        rp["delete"] = time.perf_counter() - t0
        subprocess.run(["sync"], check=True)
        t0 = time.perf_counter()
        edit(
            EditRequest(
                operation="split", root=base, splits={"train": 0.8, "val": 0.2}, out=work / "rp_split"
            ),
            executor=runner,
        )
        rp["split"] = time.perf_counter() - t0
        subprocess.run(["sync"], check=True)
        t0 = time.perf_counter()
        merge(MergeRequest(out=work / "rp_merge2", roots=[base, base2]), executor=runner)
        rp["merge2"] = time.perf_counter() - t0
        subprocess.run(["sync"], check=True)
        t0 = time.perf_counter()
        merge(MergeRequest(out=work / "rp_merge16", roots=shards), executor=runner)
        rp["merge16"] = time.perf_counter() - t0
        cp = {
            "delete": _cp([base], work / "cp_delete"),
            "split": _cp([base], work / "cp_split"),
            "merge2": _cp([base, base2], work / "cp_merge2"),
            "merge16": _cp(shards, work / "cp_merge16"),
        }
        cps = {
            "delete": _cp([base], work / "cps_delete", sync=True),
            "split": _cp([base], work / "cps_split", sync=True),
            "merge2": _cp([base, base2], work / "cps_merge2", sync=True),
            "merge16": _cp(shards, work / "cps_merge16", sync=True),
        }
        lr: dict[str, float] = {}
        if not args.skip_lerobot:
            lr = run_lerobot(
                LEROBOT.format(
                    work=str(work),
                    base=str(base),
                    base2=str(base2),
                    delete=delete,
                    shards=[str(s) for s in shards],
                ),
                work / "lerobot",
            )
        targets = {"delete": 20, "split": 20, "merge2": None, "merge16": 5}
        print(f"\nLeRobot side: {lerobot_label()}")
        print(
            f"{'operation':<9} {'LeRobot s':>10} {'robopipe s':>11} {'cp -r s':>8} {'+sync s':>8} "
            f"{'LeRobot/robopipe':>17} {'robopipe/cp':>12} {'rp/cp+sync':>11}  target"
        )
        for op in ("delete", "split", "merge2", "merge16"):
            lr_s = lr.get(op)
            tgt = targets[op]
            speed = ratio(lr_s, rp[op]) if lr_s is not None else "-"
            target = (f">= {tgt}x vs LeRobot, " if tgt else "") + "<= 2x copy"
            print(
                f"{op:<9} {lr_s if lr_s is not None else float('nan'):>10.2f} {rp[op]:>11.3f} {cp[op]:>8.3f} "
                f"{cps[op]:>8.3f} {speed:>17} {ratio(rp[op], cp[op]):>12} {ratio(rp[op], cps[op]):>11}  {target}"
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
