"""The control loop: observe, teleoperate, act, hand the frame to a sink — paced on absolute deadlines.

One function runs every phase of a session (warm-up, episode, reset): only the sink differs (the
dataset writer during an episode, nothing otherwise), so the robot is controlled the same way whether
or not frames are recorded. :func:`keep_controlled` runs the same loop in a background thread while the
main thread is busy with something that blocks (a metadata prompt, a Hub push).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardware.base import Robot, Teleoperator
from hardware.cameras.pyav_camera import CameraFrame, CameraTimeoutError, PyAVCamera
from recording.keyboard import RecordEvents
from recording.pacing import EpisodeTiming, Pacer

logger = logging.getLogger(__name__)

#: Called once per iteration with (robot observation, camera frames, action actually sent).
FrameSink = Callable[[dict[str, Any], dict[str, CameraFrame], dict[str, float]], None]


@dataclass
class Devices:
    """What the loop drives: a robot, an optional teleoperator, and cameras read by the session."""

    robot: Robot
    teleop: Teleoperator | None = None
    cameras: dict[str, PyAVCamera] = field(default_factory=dict)


@dataclass
class LoopOptions:
    """Knobs of the loop (defaults fit 30 fps recording).

    Args:
        fps: iterations per second.
        max_age_ms: a camera frame older than this stops the session (the camera stalled).
        fresh_wait: when a camera has no frame newer than the one last recorded, wait up to this fraction
            of a period for one before reusing it (counted as duplicated). Keeps a camera running at the
            loop rate from repeating frames because of small phase jitter.
        clock, sleep: injectable time functions.
        on_tick: called as ``on_tick(k, events)`` before iteration ``k`` of every phase (UIs, scripted
            key presses in tests).
    """

    fps: float
    max_age_ms: float = 500.0
    fresh_wait: float = 0.4
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    on_tick: Callable[[int, RecordEvents], None] | None = None


@dataclass
class CameraTracker:
    """Per-episode duplicate/skip counting from frame sequence numbers."""

    last_seq: dict[str, int] = field(default_factory=dict)
    duplicated: int = 0
    skipped: int = 0

    def see(self, name: str, frame: CameraFrame) -> None:
        prev = self.last_seq.get(name)
        if prev is not None:
            if frame.seq == prev:
                self.duplicated += 1
            elif frame.seq > prev + 1:
                self.skipped += frame.seq - prev - 1
        self.last_seq[name] = frame.seq


def read_cameras(
    cameras: dict[str, PyAVCamera], tracker: CameraTracker, options: LoopOptions
) -> dict[str, CameraFrame]:
    """Newest frame of every camera, preferring a frame not recorded yet (see ``LoopOptions.fresh_wait``)."""
    frames: dict[str, CameraFrame] = {}
    wait_ms = options.fresh_wait * 1000 / options.fps
    for name, cam in cameras.items():
        last = tracker.last_seq.get(name)
        frame = cam.read_latest_frame(options.max_age_ms)
        if last is not None and frame.seq == last and wait_ms > 0:
            # no newer frame in time: record the same one again (counted as duplicated)
            with contextlib.suppress(CameraTimeoutError):
                frame = cam.async_read_frame(wait_ms)
        tracker.see(name, frame)
        frames[name] = frame
    return frames


def step(devices: Devices, tracker: CameraTracker, options: LoopOptions) -> tuple[Any, Any, dict[str, float]]:
    """One iteration: observation, camera frames, teleop action → robot; returns all three."""
    obs = devices.robot.get_observation()
    frames = read_cameras(devices.cameras, tracker, options)
    sent: dict[str, float] = {}
    if devices.teleop is not None:
        sent = devices.robot.send_action(devices.teleop.get_action())
    return obs, frames, sent


def control_loop(
    devices: Devices,
    duration_s: float,
    events: RecordEvents,
    options: LoopOptions,
    sink: FrameSink | None = None,
    stop: threading.Event | None = None,
) -> tuple[EpisodeTiming, CameraTracker]:
    """Run ``floor(duration_s * fps + 0.5)`` iterations (fewer if ``events.exit_early`` or ``stop`` is set).

    Returns the measured timing and the camera tracker. Exceptions from devices propagate: the caller
    decides what is kept (every saved episode is).
    """
    n = math.floor(duration_s * options.fps + 0.5 + 1e-9)
    pacer = Pacer(options.fps, clock=options.clock, sleep=options.sleep)
    tracker = CameraTracker()
    pacer.start()
    for k in range(n):
        if options.on_tick is not None:
            options.on_tick(k, events)
        if events.exit_early or (stop is not None and stop.is_set()):
            break
        pacer.wait()
        obs, frames, sent = step(devices, tracker, options)
        if sink is not None:
            sink(obs, frames, sent)
        pacer.done()
    return pacer.timing(tracker.duplicated), tracker


@contextmanager
def keep_controlled(devices: Devices, options: LoopOptions) -> Iterator[None]:
    """Keep teleoperating (nothing recorded) in a background thread while the body of the ``with`` runs."""
    stop = threading.Event()
    error: list[BaseException] = []
    quiet = RecordEvents()
    hold_options = dataclasses.replace(options, on_tick=None)

    def run() -> None:
        try:
            while not stop.is_set():
                control_loop(devices, 3600.0, quiet, hold_options, sink=None, stop=stop)
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run, name="record-hold", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
    if error:
        raise error[0]


def frame_builder(
    state_names: list[str],
    action_names: list[str],
    image_keys: dict[str, str],
    robot_image_keys: dict[str, str],
) -> Callable[[dict[str, Any], dict[str, CameraFrame], dict[str, float]], dict[str, Any]]:
    """A function turning one iteration into a dataset frame.

    Args:
        state_names: robot observation keys gathered (in order) into ``observation.state``.
        action_names: action keys gathered into ``action``.
        image_keys: session camera name → dataset feature key.
        robot_image_keys: image key in the robot's observation → dataset feature key.
    """

    def build(obs: dict[str, Any], frames: dict[str, CameraFrame], sent: dict[str, float]) -> dict[str, Any]:
        frame: dict[str, Any] = {}
        if state_names:
            frame["observation.state"] = np.array([obs[k] for k in state_names], dtype=np.float32)
        if action_names:
            frame["action"] = np.array([sent[k] for k in action_names], dtype=np.float32)
        for name, key in image_keys.items():
            frame[key] = frames[name].image
        for name, key in robot_image_keys.items():
            frame[key] = obs[name]
        return frame

    return build


@contextmanager
def realtime_priority(enabled: bool = True, priority: int = 10) -> Iterator[bool]:
    """Run the calling thread under ``SCHED_FIFO`` (Linux) so other processes cannot delay its wake-ups.

    ``SCHED_RESET_ON_FORK`` keeps threads started later (encoders, prompts) at normal priority. Without
    the permission (not root, no ``CAP_SYS_NICE`` or ``ulimit -r``) it logs a hint and carries on. Yields
    whether real-time scheduling is active; the previous policy is restored on exit.
    """
    if not enabled or not hasattr(os, "SCHED_FIFO"):
        yield False
        return
    try:
        old_policy, old_param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except (PermissionError, OSError) as exc:
        logger.info(
            "real-time priority unavailable (%s): loop timing may suffer under load; allow it with "
            "`ulimit -r %d` or CAP_SYS_NICE",
            exc,
            priority,
        )
        yield False
        return
    try:
        yield True
    finally:
        try:
            os.sched_setscheduler(0, old_policy, old_param)
        except OSError as exc:  # dropping priority cannot really fail; log rather than mask the body's error
            logger.warning("could not restore the scheduling policy: %s", exc)
