"""Scaling benchmark: convert and stats on 1 -> 2 -> 4 Dask worker processes, and a DROID-scale projection.

Runs the recipes the CLI runs (``plan_conversion`` + ``run_conversion``, ``recompute_stats``) on the serial
executor (in process, the per-core baseline) and on ``tasks.executors.DaskExecutor`` over a LocalCluster of
1, 2 and 4 worker processes (one thread each; convert with one encoder thread per camera, so one worker is one
core). The executor is wrapped so every unit reports its own wall and CPU time from inside the worker; the
recipe's wall time is then split into:

  * start-up   - LocalCluster start and worker imports (once per cluster, not per run)
  * plan       - convert: ``plan_conversion`` (the CLI calls it before opening the executor)
  * parallel   - from submitting the units to the last result (per phase: convert shards; stats files, then
                 the rewrite of meta/episodes files)
  * serial     - the rest of the recipe: merge of the shards, metadata, stats aggregation, stats.json

Per-unit CPU time (summed over units) gives the per-core rate (frames per core-second), which depends little on
how busy the machine is; wall-clock speed-ups on a shared 2-core machine do not show what 4 workers would do, so
the script reports the load average around every run. The model printed at the end is

    T(n) = start-up + plan + serial(size) + W / (n * e),   W = frames / per-core rate

with e the measured unit-busy share of worker time (Dask dispatch, scheduling, tail) and the serial part
scaled with the output size, applied to a DROID 1.0.1 port (76k episodes, 350 h at 15 Hz, 3 cameras 180x320,
1.7 TB RLDS) on 64 cores (8 nodes x 8 workers).

    .venv/bin/python bench/scaling.py [--workers 1,2,4] [--episodes 16] [--steps 30] [--frames 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # workers inherit it: no TensorFlow banner per worker

from robopipe.execution import Done, Executor, SerialExecutor, Stream

# DROID 1.0.1 (the projection's target): 76k trajectories / 350 h of interaction (arXiv 2403.12945), ported at
# 15 fps with 3 cameras of 180x320 (huggingface/lerobot examples/port_datasets/port_droid.py); 1.7 TB RLDS and
# ~400 GB LeRobot output, "7+ days for local porting" (huggingface/lerobot docs/source/porting_datasets_v3.mdx).
DROID_EPISODES = 76_000
DROID_FRAMES = 350 * 3600 * 15
DROID_CAMERAS = 3
DROID_OUTPUT_BYTES = 400e9
DROID_SHARDS = 2048
CLUSTER_CORES = 64
CLUSTER_NODES = 8
LEROBOT_DAYS = 7.0
WRITE_RATE = (
    300e6  # bytes/s the merging node writes (assumption: one local NVMe / object-store upload stream)
)


# ---------------------------------------------------------------------------------------------- instrumentation
class _Timed:
    """``fn`` run inside a worker, returning its value with the unit's wall and CPU seconds (picklable)."""

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def __call__(self, context: Any, item: Any) -> tuple[Any, float, float, int]:
        t0, c0 = time.perf_counter(), time.process_time()
        value = self.fn(context, item)
        return value, time.perf_counter() - t0, time.process_time() - c0, os.getpid()


@dataclass
class Phase:
    """One ``map`` call of a recipe: its units' own times and its wall time as the recipe saw it."""

    label: str
    units: int
    start: float
    end: float = 0.0
    busy: float = 0.0  # sum of the units' wall seconds inside the workers
    cpu: float = 0.0  # sum of the units' CPU seconds (every thread of the worker process)
    pids: set[int] = field(default_factory=set)
    main_cpu: float = 0.0  # CPU seconds of this (the recipe's) process while the phase ran
    _cpu0: float = 0.0

    @property
    def wall(self) -> float:
        return self.end - self.start


class _TimedStream(Stream[Any]):
    def __init__(self, inner: Stream[Any], phase: Phase) -> None:
        super().__init__(inner.count)
        self.inner, self.phase = inner, phase

    def __iter__(self) -> Iterator[Done[Any]]:
        for done in self.inner:
            self.phase.end = time.perf_counter()
            self.phase.main_cpu = time.process_time() - self.phase._cpu0
            if done.error is not None:
                yield done
                continue
            value, wall, cpu, pid = done.value
            self.phase.busy += wall
            self.phase.cpu += cpu
            self.phase.pids.add(pid)
            yield Done(done.index, value)

    def cancel(self) -> None:
        self.inner.cancel()


class TimedExecutor:
    """Any executor, recording one :class:`Phase` per ``map`` call (the recipe itself is unchanged)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.phases: list[Phase] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def workers(self) -> int:
        return self.inner.workers

    def map(
        self,
        fn: Callable[[Any, Any], Any],
        context: Any,
        items: Sequence[Any],
        *,
        weights: Sequence[float] | None = None,
        label: str = "unit",
    ) -> Stream[Any]:
        phase = Phase(label, len(items), time.perf_counter(), _cpu0=time.process_time())
        phase.end = phase.start
        self.phases.append(phase)
        return _TimedStream(self.inner.map(_Timed(fn), context, items, weights=weights, label=label), phase)


@dataclass
class Run:
    workload: str
    executor: str
    workers: int
    frames: int
    episodes: int
    total: float  # recipe wall (plan included)
    plan: float
    phases: list[Phase]
    recipe_cpu: float  # CPU seconds of this process over the recipe (plan included)
    plan_cpu: float = 0.0
    out_bytes: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average before / after

    @property
    def parallel(self) -> float:
        return sum(p.wall for p in self.phases)

    @property
    def serial(self) -> float:
        return self.total - self.plan - self.parallel

    @property
    def serial_cpu(self) -> float:
        """CPU seconds of the recipe outside the plan and the parallel phases (merge, metadata, aggregation)."""
        return self.recipe_cpu - self.plan_cpu - sum(p.main_cpu for p in self.phases)

    @property
    def cpu(self) -> float:
        return sum(p.cpu for p in self.phases)

    @property
    def busy(self) -> float:
        return sum(p.busy for p in self.phases)

    @property
    def efficiency(self) -> float:
        """Share of the workers' time in the parallel phases spent inside units."""
        return self.busy / (self.workers * self.parallel) if self.parallel else float("nan")


def _load() -> float:
    return os.getloadavg()[0]


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------- workloads
def build_rlds(data_dir: Path, episodes: int, steps: int, h: int, w: int) -> Path:
    """OXE-like RLDS (two cameras h x w, JPEG + PNG, state, action, language) written by tfds."""
    from bench.convert import build

    return build(data_dir, episodes, steps, h, w, name="bench_scaling")


def convert_request(data: Path, out: Path, shards: int, episodes: str | None = None) -> Any:
    from robopipe.convert.engine import ConvertRequest, EncoderOptions
    from robopipe.convert.source import SourceSpec

    return ConvertRequest(
        source=SourceSpec(kind="rlds", path=str(data)),
        out=out,
        fps=15,
        encoder=EncoderOptions(threads=1),
        shards=shards,
        episodes=episodes,
    )


def run_convert(
    data: Path, out: Path, shards: int, executor: Executor, label: str, episodes: str | None = None
) -> Run:
    """What ``robopipe convert rlds`` does: plan, then the convert recipe on the executor."""
    from robopipe.convert.engine import plan_conversion, run_conversion

    timed = TimedExecutor(executor)
    req = convert_request(data, out, shards, episodes)
    l0, t0, c0 = _load(), time.perf_counter(), time.process_time()
    plan = plan_conversion(req, timed.workers)
    t_plan, plan_cpu = time.perf_counter() - t0, time.process_time() - c0
    rep = run_conversion(req, timed, plan=plan)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    workload = "convert" if episodes is None else "convert (part)"
    run = Run(workload, label, timed.workers, rep.frames, rep.episodes, total, t_plan, timed.phases, cpu)
    run.out_bytes, run.plan_cpu = _tree_bytes(out), plan_cpu
    run.load = (l0, _load())
    return run


def run_stats(root: Path, workload: str, executor: Executor, label: str) -> Run:
    """What ``robopipe stats ROOT`` does: the stats recipe on the executor."""
    from robopipe.stats.recompute import StatsRequest, recompute_stats

    timed = TimedExecutor(executor)
    l0, t0, c0 = _load(), time.perf_counter(), time.process_time()
    rep = recompute_stats(StatsRequest(root=root), timed)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    run = Run(workload, label, timed.workers, rep.frames, rep.episodes, total, 0.0, timed.phases, cpu)
    run.load = (l0, _load())
    return run


# ---------------------------------------------------------------------------------------------- report
HEADER = (
    f"{'workload':<15} {'executor':<10} {'frames':>8} {'wall s':>7} {'plan':>5} {'parall':>6} {'serial':>6} "
    f"{'ser cpu':>7} {'unit cpu':>8} {'f/core-s':>8} {'busy %':>6} {'x vs 1':>6} {'load':>9}"
)


def show(run: Run, base: Run | None) -> None:
    rate = run.frames / run.cpu if run.cpu else float("nan")
    speed = f"{base.total / run.total:5.2f}x" if base is not None else "     -"
    print(
        f"{run.workload:<15} {run.executor:<10} {run.frames:8d} {run.total:7.2f} {run.plan:5.2f} "
        f"{run.parallel:6.2f} {run.serial:6.2f} {run.serial_cpu:7.2f} {run.cpu:8.2f} {rate:8.0f} {100 * run.efficiency:6.0f} "
        f"{speed:>6} {run.load[0]:4.1f}/{run.load[1]:<4.1f}",
        flush=True,
    )
    for p in run.phases:
        print(
            f"{'':<15}   {p.label:<22} {p.units:3d} units on {len(p.pids)} process(es): "
            f"phase {p.wall:.2f} s, unit wall {p.busy:.2f} s, unit cpu {p.cpu:.2f} s",
            flush=True,
        )


def _fmt_hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds < 2 * 86400 else f"{seconds / 86400:.1f} days"


def finish_model(full: Run, part: Run) -> tuple[float, float, str]:
    """Serial finish (merge, metadata, stats aggregation) of a DROID-size port, in CPU seconds, from two
    serial conversions of different sizes (same shards): slope per episode and per frame. The bench's episodes
    are shorter than DROID's (~250 frames), so the per-episode projection is a lower and the per-frame one an
    upper bound; the upper bound is used. Returns (upper, lower, text)."""
    d_cpu = full.serial_cpu - part.serial_cpu
    d_frames = full.frames - part.frames
    if d_cpu <= 0 or d_frames <= 0:  # lost in the noise: the full run's cost per frame, constants included
        upper = full.serial_cpu / full.frames * DROID_FRAMES
        return upper, upper, "full run's per-frame cost (difference lost in noise)"
    per_frame = d_cpu / d_frames
    per_ep = d_cpu / (full.episodes - part.episodes)
    upper, lower = per_frame * DROID_FRAMES, per_ep * DROID_EPISODES
    text = (
        f"{1000 * per_ep:.1f} ms CPU per episode = {1000 * per_frame:.2f} ms per frame: "
        f"{_fmt_hours(lower)} (per episode) to {_fmt_hours(upper)} (per frame) for DROID"
    )
    return upper, lower, text


def model(runs: list[Run], startup: dict[int, float], cams: int) -> None:
    """The Amdahl-style projection of a DROID-scale port from the measured convert runs."""
    conv = [r for r in runs if r.workload == "convert"]
    dask = [r for r in conv if r.executor.startswith("dask")]
    full = next(r for r in conv if r.executor == "serial")
    part = next(r for r in runs if r.workload == "convert (part)")
    # per-core rate: the least disturbed run (lowest unit CPU per frame), scaled from the bench's cameras to
    # DROID's three (all of convert's per-frame cost is taken as camera work: decode + encode).
    here = min(r.cpu / r.frames for r in conv)
    cpu_frame = here * DROID_CAMERAS / cams
    # unit-busy share of the workers: from the Dask run with one worker (no contention between workers)
    eff = next((r.efficiency for r in dask if r.workers == 1), min((r.efficiency for r in dask), default=1.0))
    serial, lower, how = finish_model(full, part)
    write = DROID_OUTPUT_BYTES / WRITE_RATE  # the output's bytes written once more by the merge
    serial, lower = serial + write, lower + write
    plan = max(r.plan for r in conv)
    start = max(startup.values()) if startup else 0.0
    work = DROID_FRAMES * cpu_frame
    par = work / (CLUSTER_CORES * eff)
    tail = work / DROID_SHARDS / eff  # the last shard running alone
    total = start + plan + par + tail + serial
    low = total - serial + lower
    one = start + plan + work / eff + serial
    print()
    print("== Model (Amdahl-style): T(n) = start-up + plan + serial finish + W / (n * e) + one-shard tail")
    print(
        f"  per-core convert rate: {1 / here:.1f} frames/core-s here ({cams} cameras); "
        f"{1 / cpu_frame:.1f} frames/core-s for DROID's {DROID_CAMERAS} cameras (camera work x {DROID_CAMERAS}/{cams})"
    )
    print(f"  unit-busy share e:     {100 * eff:.0f} % (Dask, 1 worker: dispatch, scheduling, waits)")
    print(
        f"  serial finish (merge, metadata, stats aggregation): {full.serial_cpu:.2f} CPU s for "
        f"{full.episodes} episodes, {part.serial_cpu:.2f} for {part.episodes}: {how}; "
        f"+ {write / 3600:.1f} h writing 400 GB at {WRITE_RATE / 1e6:.0f} MB/s"
    )
    print(f"  start-up {start:.1f} s, plan {plan:.2f} s (constant)")
    print(
        f"DROID 1.0.1: {DROID_EPISODES:,} episodes, {DROID_FRAMES / 1e6:.1f}M frames (350 h x 15 fps), "
        f"~400 GB output, {DROID_SHARDS} shards"
    )
    print(
        f"  W = {work / 3600:,.0f} core-hours; {CLUSTER_CORES} cores ({CLUSTER_NODES} nodes x "
        f"{CLUSTER_CORES // CLUSTER_NODES} workers): parallel {_fmt_hours(par)} + last-shard tail "
        f"{_fmt_hours(tail)} + serial finish {_fmt_hours(serial)} + start-up/plan {start + plan:.0f} s"
    )
    print(
        f"  projected: {_fmt_hours(total)} (LeRobot documents 7+ days for a local port: "
        f"{LEROBOT_DAYS * 86400 / total:.0f}x less); same model on 1 core {_fmt_hours(one)}, "
        f"so 64 cores give {one / total:.0f}x (serial share {100 * (serial + start + plan) / one:.2f} %)"
    )
    print(
        f"  with the merge following episodes instead of frames (the bench's episodes are shorter than "
        f"DROID's): {_fmt_hours(low)}"
    )


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="1,2,4", help="Dask worker counts")
    ap.add_argument("--episodes", type=int, default=16, help="RLDS episodes")
    ap.add_argument("--steps", type=int, default=30, help="steps per RLDS episode")
    ap.add_argument("--size", default="180x320", help="camera HxW (DROID: 180x320)")
    ap.add_argument(
        "--shards", type=int, default=8, help="convert shards (same units for every worker count)"
    )
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames of the numeric stats dataset")
    ap.add_argument("--data-file-mb", type=float, default=10.0, help="numeric data file size (stats units)")
    ap.add_argument("--video-episodes", type=int, default=8, help="episodes of the video stats dataset")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "robopipe-bench-scaling")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    h, w = (int(x) for x in args.size.split("x"))

    from bench.stats import build_numeric, build_video
    from tasks.dask_cluster import dask_client
    from tasks.executors import DaskExecutor

    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    try:
        data = build_rlds(work / "rlds", args.episodes, args.steps, h, w)
        numeric = build_numeric(args.workdir / "numeric", args.frames, 500, 14, args.data_file_mb)
        video = build_video(args.workdir / "video", args.video_episodes, 90, 240, 320, "libsvtav1")
        import robopipe.convert.rlds  # noqa: F401  (TensorFlow imported before any timing)

        print(
            f"convert: RLDS {args.episodes} episodes x {args.steps} steps, 2 cameras {h}x{w}, "
            f"{args.shards} shards; stats: {args.frames:,} numeric frames + {args.video_episodes} x 90 "
            f"frames 240x320 AV1"
        )
        print(HEADER, flush=True)
        runs: list[Run] = []
        startup: dict[int, float] = {}
        base: dict[str, Run] = {}

        def record(run: Run) -> None:
            runs.append(run)
            show(run, base.get(run.workload))
            if run.executor == "dask 1":
                base[run.workload] = run

        serial = SerialExecutor()
        from robopipe.convert.engine import run_conversion

        # in-process warm-up too (first use of the reader, encoder and writer), like the workers' below
        run_conversion(convert_request(data, work / "warm-serial", 1, "0:1"), serial)
        record(run_convert(data, work / "out-serial", args.shards, serial, "serial"))
        half = f"0:{args.episodes // 2}"  # the serial finish's slope: the same port at half the episodes
        record(run_convert(data, work / "out-part", args.shards, serial, "serial", half))
        record(run_stats(numeric, "stats numeric", serial, "serial"))
        record(run_stats(video, "stats video", serial, "serial"))
        for n in counts:
            t0 = time.perf_counter()
            with dask_client(None, n) as client:
                # workers started and warm (imports, TensorFlow, encoder) before the clock starts
                client.run(__import__, "robopipe.convert.rlds")
                client.run(__import__, "robopipe.stats.recompute")
                startup[n] = time.perf_counter() - t0
                ex = DaskExecutor(client)
                t1 = time.perf_counter()
                run_conversion(convert_request(data, work / f"warm{n}", n, f"0:{n}"), ex)
                print(
                    f"-- {n} worker(s): cluster start-up + imports {startup[n]:.1f} s, "
                    f"warm-up conversion {time.perf_counter() - t1:.1f} s (not in the rows)",
                    flush=True,
                )
                record(run_convert(data, work / f"out{n}", args.shards, ex, f"dask {n}"))
                record(run_stats(numeric, "stats numeric", ex, f"dask {n}"))
                record(run_stats(video, "stats video", ex, f"dask {n}"))
        print(
            "columns: parall = wall of the parallel phases; serial = the rest of the recipe (merge, metadata, "
            "stats aggregation, writes); ser cpu = CPU seconds of the recipe's process outside the plan and the parallel phases; unit cpu = CPU seconds inside the units (all worker threads); "
            "f/core-s = frames per unit CPU second; busy % = unit wall / (workers x parallel wall); "
            "load = 1-min load average before/after"
        )
        model(runs, startup, cams=2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
