"""Record benchmark: robopipe's record loop vs LeRobot 0.4.4's, same simulated arms and synthetic cameras.

Both sides teleoperate a simulated SO-101 follower from a simulated SO-101 leader (robopipe's byte-level
servo simulator on ptys, one process per arm) with 1..3 synthetic 640×480 cameras at 30 fps (PyAV lavfi
``testsrc2``, paced in real time, read by a background thread that keeps the newest frame):

* robopipe: ``record_session`` (absolute-deadline pacing, frames streamed into the encoders,
  ``save_episode(wait=False)``);
* LeRobot: its own ``SO101Follower`` + ``SO101Leader`` classes on the same ptys, its ``record_loop`` and
  ``LeRobotDataset`` (PNG staging via ``add_frame``, then ``save_episode`` encodes), in the reference
  interpreter; its cameras are a LeRobot ``Camera`` subclass over the same lavfi source.

Printed per camera count: frames expected vs recorded (a loop that runs late records fewer rows for the
same wall time), duplicated camera frames, loop jitter (p99 start lateness vs the ideal grid, and p99
period error), and the turnaround from the end of one episode to the start of the next (reset = 0).

    .venv/bin/python bench/record.py [--episode-s 60] [--episodes 2] [--cameras 1 2 3] [--codec h264]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import lerobot_label, lerobot_python, ratio, run_lerobot

LEROBOT = r"""
import json, logging, sys, threading, time
from pathlib import Path
import av, numpy as np
from dataclasses import dataclass
from lerobot.cameras.camera import Camera
from lerobot.cameras.configs import CameraConfig
from lerobot.datasets.lerobot_dataset import LeRobotDataset
try:
    from lerobot.datasets.utils import build_dataset_frame, hw_to_dataset_features
except ImportError:  # LeRobot 0.6.1 moved them to lerobot.utils.feature_utils
    from lerobot.utils.feature_utils import build_dataset_frame, hw_to_dataset_features
from lerobot.utils.robot_utils import precise_sleep
from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig
from lerobot.teleoperators.so_leader import SO101Leader, SO101LeaderConfig


def record_loop(robot, teleop, dataset, fps, control_time_s, single_task):
    # lerobot_record.record_loop@v0.4.4 with a teleop and the default (identity) processors, line for line;
    # importing lerobot_record itself pulls in policies, cv2 and imageio, absent from the reference env.
    timestamp = 0
    start_episode_t = time.perf_counter()
    while timestamp < control_time_s:
        start_loop_t = time.perf_counter()
        obs = robot.get_observation()
        observation_frame = build_dataset_frame(dataset.features, obs, prefix="observation")
        act = teleop.get_action()
        _sent_action = robot.send_action(act)
        action_frame = build_dataset_frame(dataset.features, act, prefix="action")
        dataset.add_frame({**observation_frame, **action_frame, "task": single_task})
        dt_s = time.perf_counter() - start_loop_t
        sleep_time_s = 1 / fps - dt_s
        if sleep_time_s < 0:
            logging.warning(f"Record loop is running slower ({1 / dt_s:.1f} Hz) than the target FPS ({fps} Hz).")
        precise_sleep(max(sleep_time_s, 0.0))
        timestamp = time.perf_counter() - start_episode_t

cfg = json.loads(sys.argv[1])
FPS, H, W, N, E, T = cfg["fps"], cfg["height"], cfg["width"], cfg["cameras"], cfg["episodes"], cfg["episode_s"]


class LavfiCamera(Camera):
    # LeRobot's OpenCVCamera pattern (thread keeps the newest frame) over the same lavfi source as robopipe.
    def __init__(self, config):
        super().__init__(config)
        self.config = config
        self.latest = None
        self.latest_ts = 0.0
        self.seq = 0
        self.last_read = 0
        self.duplicated = 0
        self.lock = threading.Lock()
        self.event = threading.Event()
        self.stop = threading.Event()
        self.thread = None

    @property
    def is_connected(self):
        return self.thread is not None

    @staticmethod
    def find_cameras():
        return []

    def connect(self, warmup=True):
        self.container = av.open(f"testsrc2=size={W}x{H}:rate={FPS},realtime", format="lavfi")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.event.wait(5)
        time.sleep(1.0 if warmup else 0)  # warmup_s=1 like OpenCVCamera

    def _run(self):
        for f in self.container.decode(video=0):
            if self.stop.is_set():
                break
            img = f.to_ndarray(format="rgb24")
            with self.lock:
                self.latest, self.latest_ts = img, time.perf_counter()
                self.seq += 1
            self.event.set()

    def read(self, color_mode=None):
        return self.async_read(10000)

    def async_read(self, timeout_ms=200):
        if not self.event.wait(timeout_ms / 1000):
            raise TimeoutError("no frame")
        with self.lock:
            self.event.clear()
            return self.latest

    def read_latest(self, max_age_ms=500):
        with self.lock:
            if (time.perf_counter() - self.latest_ts) * 1000 > max_age_ms:
                raise TimeoutError("stale frame")
            if self.seq == self.last_read:
                self.duplicated += 1
            self.last_read = self.seq
            return self.latest

    def disconnect(self):
        self.stop.set()
        self.thread.join(5)
        self.container.close()
        self.thread = None


@CameraConfig.register_subclass("lavfi")
@dataclass
class LavfiCameraConfig(CameraConfig):
    pass


names = ["front", "wrist", "top"][:N]
cams = {n: LavfiCameraConfig(fps=FPS, width=W, height=H) for n in names}
robot = SO101Follower(SO101FollowerConfig(port=cfg["follower_port"], id="bench", calibration_dir=Path(cfg["cal"]) / "f", cameras=cams))
robot.cameras = {n: LavfiCamera(cams[n]) for n in names}
teleop = SO101Leader(SO101LeaderConfig(port=cfg["leader_port"], id="bench", calibration_dir=Path(cfg["cal"]) / "l"))
# LeRobot main retries a failed sync read twice (num_read_retries=2, #4207); 0.4.4 does not, and a single
# reply delayed > 50 ms by CPU contention would end the run. Give 0.4.4 main's retries.
for dev in (robot, teleop):
    _sync_read = dev.bus.sync_read
    dev.bus.sync_read = lambda *a, _f=_sync_read, **kw: _f(*a, **{"num_retry": 2, **kw})
starts = []
get_obs = robot.get_observation
def timed_obs():
    starts.append(time.perf_counter())
    return get_obs()
robot.get_observation = timed_obs

features = {**hw_to_dataset_features(robot.action_features, "action", True),
            **hw_to_dataset_features(robot.observation_features, "observation", True)}
ds = LeRobotDataset.create("bench/record", FPS, root=cfg["root"], robot_type=robot.name, features=features,
                           use_videos=True, image_writer_threads=4 * N)
robot.connect()
teleop.connect()
episodes = []
for e in range(E):
    starts.clear()
    dup0 = sum(c.duplicated for c in robot.cameras.values())
    record_loop(robot, teleop, ds, FPS, T, "bench")
    t_end = time.perf_counter()
    rows = ds.episode_buffer["size"]
    s = np.array(starts)
    ds.save_episode()
    t_ready = time.perf_counter()
    k = np.arange(len(s))
    lateness = (s - s[0] - k / FPS) * 1000
    period_err = np.abs(np.diff(s) - 1 / FPS) * 1000
    episodes.append({"rows": int(rows), "turnaround_s": t_ready - t_end,
                     "duplicated": sum(c.duplicated for c in robot.cameras.values()) - dup0,
                     "lateness_p99_ms": float(np.percentile(lateness, 99)), "lateness_max_ms": float(lateness.max()),
                     "period_err_p99_ms": float(np.percentile(period_err, 99))})
ds.finalize()
teleop.disconnect()
robot.disconnect()
video_frames = {}
for k in ds.meta.video_keys:
    total = 0
    for p in sorted((Path(cfg["root"]) / "videos" / k).rglob("*.mp4")):
        with av.open(str(p)) as c:
            total += sum(1 for pk in c.demux(video=0) if pk.size)
    video_frames[k] = total
print(json.dumps({"episodes": episodes, "total_rows": ds.meta.total_frames, "video_frames": video_frames}))
"""


def count_video_frames(root: Path) -> dict[str, int]:
    import av

    out: dict[str, int] = {}
    for key_dir in sorted((root / "videos").iterdir()) if (root / "videos").exists() else []:
        total = 0
        for p in sorted(key_dir.rglob("*.mp4")):
            with av.open(str(p)) as c:
                total += sum(1 for pk in c.demux(video=0) if pk.size)
        out[key_dir.name] = total
    return out


def run_robopipe(n_cams: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Record with robopipe in this process; returns the measured figures."""
    from recording import pacing
    from recording.models import RecordRequest
    from recording.session import record_session
    from robopipe.format.reader import DatasetReader
    from robopipe.format.video import VideoEncoderConfig
    from robopipe.format.writer import DatasetWriter

    phases: list[tuple[np.ndarray, float, float]] = []  # (iteration starts, t0, end) per control_loop call
    orig_timing = pacing.Pacer.timing

    def timing(self: Any, duplicated_frames: int = 0) -> Any:
        phases.append((np.array(self.starts), self.t0, self.end))
        return orig_timing(self, duplicated_frames)

    commits: list[float] = []
    orig_commit = DatasetWriter._commit_episode

    def commit(self: Any, *a: Any, **kw: Any) -> None:
        orig_commit(self, *a, **kw)
        commits.append(time.perf_counter())

    saves: list[float] = []
    orig_save = DatasetWriter.save_episode

    def save(self: Any, *a: Any, **kw: Any) -> int:
        saves.append(time.perf_counter())
        return orig_save(self, *a, **kw)

    pacing.Pacer.timing = timing  # type: ignore[method-assign]
    DatasetWriter._commit_episode = commit  # type: ignore[method-assign]
    DatasetWriter.save_episode = save  # type: ignore[method-assign]
    root = work / f"robopipe-{n_cams}"
    preset = int(args.preset) if str(args.preset).isdigit() else args.preset
    encoder = VideoEncoderConfig(codec=args.codec, preset=preset, crf=args.crf, g=2)
    request = RecordRequest(
        robot="sim-so101",
        teleop="sim-so101-leader",
        cameras=[f"{name}=sim:{args.width}x{args.height}" for name in ["front", "wrist", "top"][:n_cams]],
        repo_id="bench/record",
        root=root,
        single_task="bench",
        fps=args.fps,
        num_episodes=args.episodes,
        episode_time_s=args.episode_s,
        reset_time_s=0,
        keyboard=False,
        encoder=encoder,
        realtime=not args.no_realtime,
    )
    try:
        result = record_session(request)
    finally:
        pacing.Pacer.timing = orig_timing  # type: ignore[method-assign]
        DatasetWriter._commit_episode = orig_commit  # type: ignore[method-assign]
        DatasetWriter.save_episode = orig_save  # type: ignore[method-assign]
    episodes = []
    for i, ep in enumerate(result.episodes):
        starts, t0, end = phases[i]
        k = np.arange(len(starts))
        period_err = np.abs(np.diff(starts) - 1 / args.fps) * 1000
        ready = phases[i + 1][1] if i + 1 < len(phases) else end + ep.save_block_s
        episodes.append(
            {
                "rows": ep.frames,
                "turnaround_s": ready - end,
                "commit_s": commits[i] - saves[i],
                "duplicated": ep.timing.duplicated_frames,
                "skipped_camera_frames": ep.skipped_camera_frames,
                "lateness_p99_ms": float(np.percentile((starts - t0 - k / args.fps) * 1000, 99)),
                "lateness_max_ms": ep.timing.jitter_max_ms,
                "period_err_p99_ms": float(np.percentile(period_err, 99)),
                "late_frames": ep.timing.late_frames,
            }
        )
    reader = DatasetReader(root)
    return {"episodes": episodes, "total_rows": reader.num_frames, "video_frames": count_video_frames(root)}


def run_lerobot_side(n_cams: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """LeRobot's SO101Follower/Leader on robopipe's pty simulators, its record_loop and dataset."""
    from hardware.calibration import save_calibration
    from hardware.sim.presets import preset_calibration
    from hardware.sim.pty_host import SimulatorProcess

    cal = work / f"cal-{n_cams}"
    save_calibration(preset_calibration("so101-follower"), cal / "f" / "bench.json")
    save_calibration(preset_calibration("so101-leader"), cal / "l" / "bench.json")
    with SimulatorProcess(["so101-follower"]) as follower, SimulatorProcess(["so101-leader"]) as leader:
        cfg = {
            "fps": args.fps,
            "height": args.height,
            "width": args.width,
            "cameras": n_cams,
            "episodes": args.episodes,
            "episode_s": args.episode_s,
            "follower_port": follower.ports[0],
            "leader_port": leader.ports[0],
            "cal": str(cal),
            "root": str(work / f"lerobot-{n_cams}"),
        }
        script = LEROBOT.replace("sys.argv[1]", repr(json.dumps(cfg)))
        return dict(run_lerobot(script, work / f"lerobot-work-{n_cams}", timeout=7200))


def summarize(name: str, res: dict[str, Any], expected: int) -> dict[str, Any]:
    eps = res["episodes"]
    rows = res["total_rows"]
    videos = res["video_frames"]
    return {
        "side": name,
        "expected": expected,
        "rows": rows,
        "missing_rows": expected - rows,
        "video_mismatch": sum(abs(v - rows) for v in videos.values()),
        "duplicated": sum(e["duplicated"] for e in eps),
        "lateness_p99_ms": max(e["lateness_p99_ms"] for e in eps),
        "period_err_p99_ms": max(e["period_err_p99_ms"] for e in eps),
        "turnaround_s": max(e["turnaround_s"] for e in eps[:-1]) if len(eps) > 1 else eps[0]["turnaround_s"],
        "commit_s": max((e.get("commit_s", float("nan")) for e in eps), default=float("nan")),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episode-s", type=float, default=60.0)
    p.add_argument("--episodes", type=int, default=2, help="episodes per run (>= 2 to see the turnaround)")
    p.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--codec", default="h264", help="robopipe encoder (LeRobot uses its default, libsvtav1)")
    p.add_argument("--preset", default="ultrafast")
    p.add_argument("--crf", type=int, default=23)
    p.add_argument("--skip-lerobot", action="store_true")
    p.add_argument("--no-realtime", action="store_true", help="robopipe loop without SCHED_FIFO priority")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    p.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness of the whole bench (simulators, both recorders; inherited by children) so other "
        "programs on a shared machine disturb both sides less; 0 = unchanged",
    )
    args = p.parse_args()
    if args.nice:
        try:
            os.nice(args.nice)
        except PermissionError:
            print(
                f"cannot change niceness by {args.nice} (not permitted); running at the default",
                file=sys.stderr,
            )
    import logging

    logging.basicConfig(level=logging.WARNING)
    load0 = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-record-"))
    expected = args.episodes * int(args.episode_s * args.fps + 0.5)
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    failures: list[str] = []
    try:
        for n in args.cameras:
            print(f"== {n} camera(s): robopipe ...", flush=True)
            try:
                rp = run_robopipe(n, args, work)
            except Exception as exc:  # a starved simulator on a shared machine: report it, go on
                print(f"   robopipe run failed: {type(exc).__name__}: {exc}", flush=True)
                failures.append(f"robopipe {n} cam: {type(exc).__name__}: {exc}")
            else:
                raw[f"robopipe-{n}"] = rp
                rows.append({"cams": n, **summarize("robopipe", rp, expected)})
            if not args.skip_lerobot and lerobot_python():
                print(f"== {n} camera(s): {lerobot_label()} ...", flush=True)
                try:
                    lr = run_lerobot_side(n, args, work)
                except (Exception, SystemExit) as exc:
                    print(f"   LeRobot run failed: {exc}", flush=True)
                    failures.append(f"lerobot {n} cam: {exc}")
                else:
                    raw[f"lerobot-{n}"] = lr
                    rows.append({"cams": n, **summarize("lerobot", lr, expected)})
            shutil.rmtree(work / f"robopipe-{n}", ignore_errors=True)
            shutil.rmtree(work / f"lerobot-{n}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nload average (1 min) at start {load0:.2f}, at end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; nice {args.nice}"
    )
    print(
        f"{args.episodes} episodes × {args.episode_s:g} s at {args.fps} fps, {args.width}x{args.height} cameras; "
        f"robopipe encoder {args.codec} preset {args.preset} crf {args.crf}; LeRobot libsvtav1 (its default)"
    )
    head = (
        f"{'cams':>4} {'side':<9} {'rows/expected':>14} {'missing':>7} {'vid≠rows':>8} {'dup cam':>7} "
        f"{'late p99 ms':>11} {'period err p99':>14} {'turnaround s':>12} {'commit s':>8}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['cams']:>4} {r['side']:<9} {r['rows']:>6}/{r['expected']:<7} {r['missing_rows']:>7} "
            f"{r['video_mismatch']:>8} {r['duplicated']:>7} {r['lateness_p99_ms']:>11.2f} "
            f"{r['period_err_p99_ms']:>14.2f} {r['turnaround_s']:>12.3f} {r['commit_s']:>8.2f}"
        )
    for n in args.cameras:
        pair = [r for r in rows if r["cams"] == n]
        if len(pair) == 2:
            print(
                f"{n} camera(s): turnaround LeRobot/robopipe = {ratio(pair[1]['turnaround_s'], pair[0]['turnaround_s'])}"
            )
    for f in failures:
        print(f"FAILED: {f}")
    if args.json:
        args.json.write_text(json.dumps({"summary": rows, "raw": raw}, indent=2))


if __name__ == "__main__":
    main()
