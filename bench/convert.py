"""Benchmark: port one RLDS dataset with a LeRobot-style loop and with robopipe, side by side.

1. Build an OXE-like RLDS dataset with tfds (two JPEG cameras, state, action, language per step).
2. LeRobot 0.4.4 (reference interpreter, no TensorFlow there): the episodes are pre-extracted to .npz
   first (decoded images; this extraction is *not* timed, which favours LeRobot), then ported by the
   usual ``LeRobotDataset.create`` / ``add_frame`` / ``save_episode`` / ``finalize`` loop (libsvtav1).
3. robopipe: ``robopipe convert rlds`` engine reading the RLDS itself (TF read + JPEG decode included),
   libsvtav1, first in one process (1 worker, no Dask), then on a Dask LocalCluster with 2 workers.

Prints frames/s (wall), CPU-seconds per 1000 frames, the robopipe/LeRobot ratios (wall, and per core =
CPU time) and robopipe's scaling from 1 to 2 workers. No pass/fail: timings on a shared machine vary.

MCAP case (``--case mcap``): a folder of ROS 2 MCAP logs (JointState 200 Hz, a raw bgr8 camera and a JPEG
CompressedImage camera at 30 Hz with jitter) converted by ``convert mcap`` in one process, against the
ceiling for the same frames: decode every source image (raw reshape / JPEG) and encode both cameras with
the same encoder, nothing else (no message decoding, alignment, parquet, stats). The ratio of CPU time per
frame is robopipe's per-core throughput as a share of that ceiling (goal >= 80 %).

    .venv/bin/python bench/convert.py [--case rlds|mcap|all] [--episodes 8] [--steps 60] [--size 128]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import lerobot_label, ratio, run_lerobot

LEROBOT_LOOP = """
import glob, json, time, resource, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
files = sorted(glob.glob({npz_dir!r} + "/*.npz"))
first = np.load(files[0])
h, w = first["image"].shape[1:3]
features = {{
    "observation.state": {{"dtype": "float32", "shape": (first["state"].shape[1],), "names": None}},
    "action": {{"dtype": "float32", "shape": (first["action"].shape[1],), "names": None}},
    "observation.images.image": {{"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}},
    "observation.images.wrist_image": {{"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}},
}}
ru0 = resource.getrusage(resource.RUSAGE_SELF); rc0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
ds = LeRobotDataset.create("bench/convert", fps=10, root={root!r}, features=features, use_videos=True)
frames = 0
for f in files:
    z = np.load(f)
    tasks = [str(t) for t in z["task"]]
    for t in range(len(z["action"])):
        ds.add_frame({{"observation.state": z["state"][t], "action": z["action"][t],
                      "observation.images.image": z["image"][t], "observation.images.wrist_image": z["wrist"][t],
                      "task": tasks[t]}})
        frames += 1
    ds.save_episode()
ds.finalize()
wall = time.perf_counter() - t0
ru1 = resource.getrusage(resource.RUSAGE_SELF); rc1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) + (rc1.ru_utime + rc1.ru_stime - rc0.ru_utime - rc0.ru_stime)
print(json.dumps({{"frames": frames, "wall": wall, "cpu": cpu}}))
"""


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def build(
    data_dir: Path, episodes: int, steps: int, size: int, width: int | None = None, name: str = "bench_oxe"
) -> Path:
    """OXE-like RLDS written by tfds: two cameras ``size`` x ``width`` (default square), state, action, language."""
    import tensorflow_datasets as tfds

    from tests.fixtures import rlds as fx

    fx.H, fx.W = size, width or size  # the fixture's image size
    rng = np.random.default_rng(0)
    eps = [fx.oxe_episode(i, steps, rng) for i in range(episodes)]
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version="1.0.0",
        features=fx._oxe_features(tfds, "jpeg"),
        data_dir=str(data_dir),
        split_datasets={"train": eps},
        download_config=tfds.download.DownloadConfig(num_shards=4),
        disable_shuffling=True,
    )
    return data_dir


def extract_npz(data_dir: Path, npz_dir: Path) -> int:
    """Decode every episode once (robopipe's reader + mapping) into .npz files for the LeRobot side."""
    from robopipe.convert.apply import map_episode
    from robopipe.convert.infer import infer_mapping
    from robopipe.convert.rlds import RldsReader

    reader = RldsReader(data_dir)
    m = infer_mapping(reader.describe())
    npz_dir.mkdir(parents=True)
    frames = 0
    for ep in reader.read(0, None):
        assert not hasattr(ep, "error"), ep
        me = map_episode(m, ep)  # type: ignore[arg-type]
        np.savez(
            npz_dir / f"ep{ep.index:05d}.npz",
            state=me.columns["observation.state"],
            action=me.columns["action"],  # type: ignore[union-attr]
            image=me.columns["observation.images.image"],
            wrist=me.columns["observation.images.wrist_image"],
            task=np.asarray(me.tasks),
        )
        frames += me.num_frames
    return frames


def run_robopipe(
    data_dir: Path,
    out: Path,
    workers: int,
    address: str | None = None,
    shards: int | None = None,
    encoder_threads: int | None = None,
) -> dict[str, float]:
    """One conversion; ``workers == 1`` runs in process, else on Dask (``address``: an already warm cluster)."""
    from robopipe.convert.engine import ConvertRequest, EncoderOptions, run_conversion
    from robopipe.convert.source import SourceSpec

    req = ConvertRequest(
        source=SourceSpec(kind="rlds", path=str(data_dir)),
        out=out,
        fps=10,
        encoder=EncoderOptions(threads=encoder_threads),
        shards=shards or workers,
    )
    from robopipe.execution import Execution
    from tasks.executors import open_executor

    c0, t0 = _cpu(), time.perf_counter()
    with open_executor(Execution.from_options(0 if workers == 1 else workers, address)) as executor:
        rep = run_conversion(req, executor)
    return {"frames": rep.frames, "wall": time.perf_counter() - t0, "cpu": _cpu() - c0}


def run_warm(
    data_dir: Path, work: Path, workers: int, encoder_threads: int | None = None
) -> dict[str, float]:
    """Steady state on Dask: workers started and warmed up (imports, TF tracing, encoder start) by a
    one-episode-per-worker conversion before the clock starts."""
    from robopipe.convert.engine import ConvertRequest, EncoderOptions, run_conversion
    from robopipe.convert.source import SourceSpec
    from tasks.dask_cluster import dask_client
    from tasks.executors import DaskExecutor

    tag = f"{workers}-{encoder_threads or 'auto'}"
    with dask_client(None, workers) as client:
        address = client.scheduler.address
        warm = ConvertRequest(
            source=SourceSpec(kind="rlds", path=str(data_dir)),
            out=work / f"warmup{tag}",
            fps=10,
            encoder=EncoderOptions(threads=encoder_threads),
            episodes=f"0:{workers}",
            shards=workers,
        )
        run_conversion(warm, DaskExecutor(client))
        r = run_robopipe(
            data_dir,
            work / f"warm{tag}",
            workers,
            address,
            shards=2 * workers,
            encoder_threads=encoder_threads,
        )
    r["cpu"] = float("nan")  # worker CPU is not visible from here
    return r


def build_mcap(root: Path, episodes: int, seconds: float, size: int) -> list[Path]:
    """One ROS 2 MCAP log per episode (rosbags writer); returns the .mcap files."""
    from tests.fixtures import robot_logs as fx

    fx.H = fx.W = size
    fx.WRIST_FORMAT = "JPEG"
    root.mkdir(parents=True)
    files = []
    for e in range(episodes):
        fx.write_ros2(root / f"bag{e}", storage="mcap", seconds=seconds, seed=e)
        mcap = next((root / f"bag{e}").glob("*.mcap"))
        files.append(mcap.rename(root / f"episode_{e:03d}.mcap"))
    return files


def run_mcap_ceiling(files: list[Path], out: Path, size: int) -> dict[str, float]:
    """Decode the camera messages' images and encode them with robopipe's encoder: the floor of the work."""
    import io

    from mcap.reader import make_reader
    from PIL import Image

    from robopipe.format.video import SegmentEncoder, VideoEncoderConfig

    out.mkdir(parents=True)
    cfg = VideoEncoderConfig()
    c0, t0 = _cpu(), time.perf_counter()
    frames = 0
    for e, path in enumerate(files):
        encoders: dict[str, SegmentEncoder] = {}
        with open(path, "rb") as fh:
            reader = make_reader(fh)
            topics = ["/cam/front/image_raw", "/cam/wrist/compressed"]
            for _schema, channel, message in reader.iter_messages(topics=topics):
                data = message.data
                if channel.topic == "/cam/wrist/compressed":
                    # CDR: the JPEG is the tail of the message (header and format string before it)
                    start = data.find(b"\xff\xd8\xff")
                    img = np.asarray(Image.open(io.BytesIO(data[start:])).convert("RGB"))
                else:
                    # CDR: the pixels are the message's last field
                    raw = np.frombuffer(data, np.uint8)
                    img = raw[len(raw) - size * size * 3 :].reshape(size, size, 3)[..., ::-1]
                h, w = img.shape[:2]
                enc = encoders.get(channel.topic)
                if enc is None:
                    enc = encoders[channel.topic] = SegmentEncoder(
                        out / f"{e}-{len(encoders)}.mp4", 30, w, h, cfg
                    )
                enc.put(np.ascontiguousarray(img))
                frames += channel.topic == "/cam/front/image_raw"
        for enc in encoders.values():
            enc.close()
    return {"frames": frames, "wall": time.perf_counter() - t0, "cpu": _cpu() - c0}


def run_mcap_robopipe(root: Path, out: Path) -> dict[str, float]:
    from robopipe.convert.engine import ConvertRequest, run_conversion
    from robopipe.convert.source import SourceSpec

    mapping = out.parent / "mcap-mapping.yaml"
    mapping.write_text(
        "fps: 30\ncameras: {front: cam/front/image_raw, wrist: cam/wrist/compressed}\n"
        "state: [joint_states/position]\n"
    )
    req = ConvertRequest(
        source=SourceSpec(kind="mcap", path=str(root)), out=out, mapping=str(mapping), shards=1
    )
    c0, t0 = _cpu(), time.perf_counter()
    rep = run_conversion(req)
    return {"frames": rep.frames, "wall": time.perf_counter() - t0, "cpu": _cpu() - c0}


def mcap_case(work: Path, episodes: int, seconds: float, size: int) -> None:
    files = build_mcap(work / "mcap", episodes, seconds, size)
    print(
        f"MCAP: {episodes} logs x {seconds:.0f} s, JointState 200 Hz + 2 cameras {size}x{size} at 30 Hz "
        "(raw bgr8 + JPEG)"
    )
    print(f"{'':46s} {'frames':>7s} {'wall s':>8s} {'frames/s':>9s} {'cpu s/1k frames':>16s}", flush=True)
    rows = {}
    for name, fn in (
        ("decode + encode ceiling (same frames)", lambda: run_mcap_ceiling(files, work / "ceiling", size)),
        ("robopipe convert mcap, 1 worker", lambda: run_mcap_robopipe(work / "mcap", work / "mcap-out")),
    ):
        r = rows[name] = fn()
        print(
            f"{name:46s} {int(r['frames']):7d} {r['wall']:8.2f} {r['frames'] / r['wall']:9.1f} "
            f"{1000 * r['cpu'] / r['frames']:16.2f}",
            flush=True,
        )
    ceil, rp = rows.values()
    per_core = (ceil["cpu"] / ceil["frames"]) / (rp["cpu"] / rp["frames"])
    wall = (ceil["wall"] / ceil["frames"]) / (rp["wall"] / rp["frames"])
    print(f"robopipe MCAP throughput per core vs the ceiling: {100 * per_core:.0f} % (goal >= 80 %)")
    print(f"robopipe MCAP wall throughput vs the ceiling:     {100 * wall:.0f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=12)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--size", type=int, default=128, help="camera height = width")
    ap.add_argument("--skip-lerobot", action="store_true")
    ap.add_argument("--case", choices=["rlds", "mcap", "all"], default="all")
    ap.add_argument("--mcap-seconds", type=float, default=8.0, help="length of each MCAP log")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-convert-"))
    try:
        if args.case in ("mcap", "all"):
            mcap_case(work, args.episodes, args.mcap_seconds, args.size)
        if args.case == "mcap":
            return
        data = build(work / "rlds", args.episodes, args.steps, args.size)
        import robopipe.convert.rlds  # noqa: F401  (TF imported before timing)

        print(f"RLDS: {args.episodes} episodes x {args.steps} steps, 2 cameras {args.size}x{args.size} JPEG")
        rows: dict[str, dict[str, float]] = {}
        header = f"{'':46s} {'frames':>7s} {'wall s':>8s} {'frames/s':>9s} {'cpu s/1k frames':>16s}"

        def show(name: str, r: dict[str, float]) -> dict[str, float]:
            cpu = "-" if r["cpu"] != r["cpu"] else f"{1000 * r['cpu'] / r['frames']:.2f}"
            print(
                f"{name:46s} {int(r['frames']):7d} {r['wall']:8.2f} {r['frames'] / r['wall']:9.1f} {cpu:>16s}",
                flush=True,
            )
            rows[name] = r
            return r

        print(header, flush=True)
        if not args.skip_lerobot:
            frames = extract_npz(data, work / "npz")
            lr = run_lerobot(
                LEROBOT_LOOP.format(npz_dir=str(work / "npz"), root=str(work / "lerobot_out")), work / "lr"
            )
            assert lr["frames"] == frames
            show(f"{lerobot_label()} add_frame loop (npz input)", lr)
        r1 = show("robopipe, 1 worker (in process)", run_robopipe(data, work / "rp1", 1))
        r2 = show("robopipe, 2 Dask workers (cold start)", run_robopipe(data, work / "rp2", 2))
        w1 = show("robopipe, 1 Dask worker (warm cluster)", run_warm(data, work, 1))
        w2 = show("robopipe, 2 Dask workers (warm cluster)", run_warm(data, work, 2))
        if f"{lerobot_label()} add_frame loop (npz input)" in rows:
            lr = rows[f"{lerobot_label()} add_frame loop (npz input)"]
            print(f"robopipe 1 worker vs LeRobot, wall:            {ratio(lr['wall'], r1['wall'])}")
            print(f"robopipe vs LeRobot per core (CPU time/frame): {ratio(lr['cpu'], r1['cpu'])}")
            print(f"robopipe 2 workers vs LeRobot, wall:           {ratio(lr['wall'], r2['wall'])}")
        print(
            f"robopipe scaling 1 -> 2 workers, cold (incl. worker start + TF import): {ratio(r1['wall'], r2['wall'])}"
        )
        print(f"robopipe scaling 1 -> 2 workers, warm cluster:  {ratio(w1['wall'], w2['wall'])}")
        # Scale-out setting: one encoder thread per camera, so each worker uses one core and parallelism
        # comes from workers (on a cluster node with N cores, run N workers this way).
        t1 = show("robopipe, 1 Dask worker, 1 encoder thread (warm)", run_warm(data, work, 1, 1))
        t2 = show("robopipe, 2 Dask workers, 1 encoder thread (warm)", run_warm(data, work, 2, 1))
        print(f"robopipe scaling 1 -> 2 workers, 1 encoder thread each: {ratio(t1['wall'], t2['wall'])}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
