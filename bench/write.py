"""Write benchmark: LeRobot's add_frame/save_episode vs robopipe's DatasetWriter on the same episodes.

Prints frames/s for each, their ratio, the raw encoder throughput on the same frames (the ceiling) and
peak memory per episode count. Targets (issue 3): robopipe >= 4x LeRobot and >= 80 % of the ceiling.

    [ROBOPIPE_BENCH_LEROBOT=0.6.1] .venv/bin/python bench/write.py [--episodes 10] [--frames 300] [--height 240 --width 320] [--codec libsvtav1]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import FRAME_SRC, lerobot_label, ratio, run_lerobot

ns: dict = {}
exec(FRAME_SRC, ns)
make_frame, make_vec = ns["make_frame"], ns["make_vec"]

LEROBOT = (
    FRAME_SRC
    + """
import json, time, resource
from lerobot.datasets.lerobot_dataset import LeRobotDataset
E, T, H, W, FPS = {E}, {T}, {H}, {W}, 30
names = [f"j{{i}}" for i in range(6)]
feats = {{"observation.state": {{"dtype": "float32", "shape": (6,), "names": names}},
          "action": {{"dtype": "float32", "shape": (6,), "names": names}},
          "observation.images.front": {{"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]}}}}
frames = [[make_frame(H, W, e, i) for i in range(T)] for e in range(E)]  # generated before timing
ds = LeRobotDataset.create("bench/write", fps=FPS, root={root!r}, features=feats, robot_type="so101", use_videos=True)
t0 = time.perf_counter()
for e in range(E):
    for i in range(T):
        ds.add_frame({{"observation.state": make_vec(e, i), "action": make_vec(e, i + 1),
                      "observation.images.front": frames[e][i], "task": "pick"}})
    ds.save_episode()
ds.finalize()
dt = time.perf_counter() - t0
print(json.dumps({{"seconds": dt, "fps": E * T / dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
)


def encoder_ceiling(frames: list, codec: str, fps: int, path: Path) -> float:
    """Frames/s of one bare PyAV encoder on the same frames: the throughput no writer can beat."""
    import av

    from robopipe.format.video import VideoEncoderConfig

    cfg = VideoEncoderConfig(codec=codec)
    t0 = time.perf_counter()
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=fps, options=cfg.stream_options())
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.codec_context.time_base = Fraction(1, fps)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return len(frames) / (time.perf_counter() - t0)


def run_robopipe(root: Path, frames: list, E: int, T: int, codec: str) -> dict:
    from robopipe.format.video import VideoEncoderConfig
    from robopipe.format.writer import DatasetWriter

    H, W = frames[0][0].shape[:2]
    names = [f"j{i}" for i in range(6)]
    feats = {
        "observation.state": {"dtype": "float32", "shape": [6], "names": names},
        "action": {"dtype": "float32", "shape": [6], "names": names},
        "observation.images.front": {
            "dtype": "video",
            "shape": [H, W, 3],
            "names": ["height", "width", "channels"],
        },
    }
    rss = []
    t0 = time.perf_counter()
    w = DatasetWriter.create(
        root, fps=30, features=feats, robot_type="so101", encoder=VideoEncoderConfig(codec=codec)
    )
    for e in range(E):
        for i in range(T):
            w.add_frame(
                {
                    "observation.state": make_vec(e, i),
                    "action": make_vec(e, i + 1),
                    "observation.images.front": frames[e][i],
                },
                task="pick",
            )
        w.save_episode(wait=False)
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    w.finalize()
    dt = time.perf_counter() - t0
    return {"seconds": dt, "fps": E * T / dt, "rss_by_episode": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--codec", default="libsvtav1")
    ap.add_argument("--skip-lerobot", action="store_true")
    a = ap.parse_args()
    E, T, H, W = a.episodes, a.frames, a.height, a.width
    work = Path(tempfile.mkdtemp(prefix="rp-bench-write-"))
    try:
        print(f"write benchmark: {E} episodes x {T} frames, one {W}x{H} camera, 6-D state/action, {a.codec}")
        frames = [[make_frame(H, W, e, i) for i in range(T)] for e in range(E)]
        ceiling = encoder_ceiling([f for ep in frames for f in ep], a.codec, 30, work / "ceiling.mp4")
        rp = run_robopipe(work / "robopipe", frames, E, T, a.codec)
        print(f"  raw encoder ceiling : {ceiling:8.1f} frames/s")
        print(
            f"  robopipe            : {rp['fps']:8.1f} frames/s  ({rp['seconds']:.1f} s)  "
            f"= {100 * rp['fps'] / ceiling:.0f}% of ceiling"
        )
        rss = rp["rss_by_episode"]
        mid = len(rss) // 2
        print(
            f"  robopipe peak RSS   : after episode 1 {rss[0]:.0f} MB, episode {mid + 1} {rss[mid]:.0f} MB, "
            f"episode {E} {rss[-1]:.0f} MB (second half grew {rss[-1] - rss[mid]:+.0f} MB; includes "
            f"{E * T * H * W * 3 / 1e6:.0f} MB of pre-generated frames)"
        )
        if not a.skip_lerobot:
            lr = run_lerobot(LEROBOT.format(E=E, T=T, H=H, W=W, root=str(work / "lerobot")), work / "lr")
            print(f"  {lerobot_label():<20}: {lr['fps']:8.1f} frames/s  ({lr['seconds']:.1f} s)")
            print(f"  robopipe / LeRobot  : {ratio(rp['fps'], lr['fps'])}   (target >= 4x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
