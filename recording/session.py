"""A recording session: teleoperate a robot, record episodes into a LeRobotDataset v3.0 (recording layer).

``record_session(RecordRequest) -> RecordResult`` is what ``robopipe record`` and the Prefect ``record``
flow call. Differences from ``lerobot-record`` (reference hardware.md §4), each on purpose:

* pacing on absolute deadlines (:mod:`recording.pacing`): no drift, lateness measured;
* frames stream into the encoders while recording (:class:`~robopipe.format.writer.DatasetWriter`, bounded
  queues that block rather than drop), so ``save_episode(wait=False)`` returns at once and the encoders
  finish in the background — the next episode does not wait for a whole-episode encode;
* the robot stays teleoperated in every phase, including while a prompt or a Hub push blocks;
* camera frames carry sequence numbers: a frame recorded twice is counted (``timing/duplicated_frames``);
* every saved episode survives Ctrl-C or a crash (the writer stages each episode durably; ``finalize``
  runs in ``finally``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hardware.base import dataset_features
from hardware.cameras.config import parse_camera_specs
from hardware.cameras.pyav_camera import PyAVCamera, make_camera
from recording.keyboard import CONTROL_LETTERS, KeyBuffer, RecordEvents, TerminalKeys
from recording.loop import (
    Devices,
    LoopOptions,
    control_loop,
    frame_builder,
    keep_controlled,
    realtime_priority,
)
from recording.models import EpisodeReport, RecordRequest, RecordResult
from robopipe.errors import ConfigError, DatasetExistsError, DatasetNotFoundError

logger = logging.getLogger(__name__)

Prompt = Callable[[str], str]


def connect_cameras(cameras: dict[str, PyAVCamera]) -> None:
    """Connect (and warm up) every camera in parallel; the first failure is raised after all tried."""
    errors: list[BaseException] = []

    def run(cam: PyAVCamera) -> None:
        try:
            cam.connect()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,), name=f"connect:{c.name}") for c in cameras.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for cam in cameras.values():
            cam.disconnect()
        raise errors[0]


def build_devices(request: RecordRequest) -> Devices:
    """Robot, teleoperator and session cameras from the request (not connected)."""
    from hardware.factory import device_config, make_robot, make_teleoperator

    timing = request.timing
    robot = make_robot(
        timing.device_overrides(device_config(request.robot, port=request.robot_port, id=request.robot_id))
    )
    teleop = None
    if request.teleop is not None:
        teleop = make_teleoperator(
            timing.device_overrides(
                device_config(request.teleop, port=request.teleop_port, id=request.teleop_id)
            )
        )
    cameras = {
        c.name: make_camera(timing.camera_overrides(c), fps=request.fps)
        for c in parse_camera_specs(request.cameras)
    }
    clash = sorted(set(cameras) & set(robot.observation_features))
    if clash:
        raise ConfigError(f"camera names {clash} clash with the robot's own observation keys; rename them")
    return Devices(robot, teleop, cameras)


class _Recorder:
    """Feature layout + the sink that turns iterations into dataset frames."""

    def __init__(self, devices: Devices, request: RecordRequest) -> None:
        robot = devices.robot
        obs_features = dict(robot.observation_features)
        for name, cam in devices.cameras.items():
            obs_features[name] = cam.shape
        features = {
            **dataset_features(robot.action_features, "action"),
            **dataset_features(obs_features, "observation"),
        }
        rename = dict(request.rename_map)
        unknown = sorted(set(rename) - set(features))
        if unknown:
            raise ConfigError(
                f"rename_map keys {unknown} are not dataset features; features: {sorted(features)}"
            )
        self.features = {rename.get(k, k): v for k, v in features.items()}
        self.rename = rename
        state_names = [k for k, t in robot.observation_features.items() if t is float]
        action_names = [k for k, t in robot.action_features.items() if t is float]
        image_keys = {name: f"observation.images.{name}" for name in devices.cameras}
        robot_images = {
            k: f"observation.images.{k}" for k, t in robot.observation_features.items() if t is not float
        }
        self.build = frame_builder(state_names, action_names, image_keys, robot_images)
        self.task = request.single_task
        self.writer: Any = None

    def sink(self, obs: dict[str, Any], frames: dict[str, Any], sent: dict[str, float]) -> None:
        frame = self.build(obs, frames, sent)
        if self.rename:
            frame = {self.rename.get(k, k): v for k, v in frame.items()}
        self.writer.add_frame(frame, task=self.task)


def _open_writer(request: RecordRequest, features: dict[str, Any], robot_type: str) -> Any:
    from robopipe.format.writer import DatasetWriter

    root = request.dataset_root()
    exists = (root / "meta" / "info.json").exists()
    if request.resume:
        if not exists:
            raise DatasetNotFoundError(
                f"--resume: no dataset at {root} to append to; drop --resume to create it"
            )
        return DatasetWriter.open(root, fps=request.fps, features=features, encoder=request.encoder)
    if exists:
        raise DatasetExistsError(
            f"{root} already holds a dataset; pass --resume to append or choose another --root"
        )
    return DatasetWriter.create(
        root,
        fps=request.fps,
        features=features,
        robot_type=robot_type,
        use_videos=request.video,
        encoder=request.encoder,
    )


def _share_terminal(devices: Devices, request: RecordRequest) -> Callable[[str], None] | None:
    """A keyboard teleoperator gets the keys the recorder does not use (one reader of the terminal, no
    key stolen by the other); its bindings must leave the recorder's letters free."""
    from hardware.robots.keyboard import KeyboardTeleop

    teleop = devices.teleop
    if not request.keyboard or not isinstance(teleop, KeyboardTeleop):
        return None
    clash = sorted(set(teleop.config.bindings) & CONTROL_LETTERS)
    if clash:
        raise ConfigError(
            f"the keyboard teleoperator binds {', '.join(clash)}, which the recorder uses (n next, r re-record, "
            "q stop, s/f success/failure); bind other keys in its config (the bundled 'keyboard' config does)"
        )
    buffer = KeyBuffer()
    teleop.use_key_source(buffer.drain)
    return buffer.feed


def _refuse_if_in_use(request: RecordRequest) -> None:
    from robopipe.format.lock import acquire

    root = request.dataset_root()
    if root.parent.is_dir():
        acquire(root).release()  # raises DatasetInUseError naming the writer that holds it


def _ask_metadata(request: RecordRequest, events: RecordEvents, prompt: Prompt) -> dict[str, Any]:
    success = events.success if events.success is not None else request.success
    notes = request.notes
    if request.prompt_metadata:
        answer = prompt("episode a success? [y/n, Enter = skip] ").strip().lower()
        if answer in ("y", "yes"):
            success = True
        elif answer in ("n", "no"):
            success = False
        notes = prompt("notes (Enter = none): ").strip() or notes
    meta: dict[str, Any] = {"notes": notes, "collector": request.collector}
    if success is not None:
        meta["success"] = bool(success)
    return meta


def _make_publisher(request: RecordRequest, root: Path) -> Any:
    push = request.push_to_hub
    if push is False and request.push_every is None:
        return None
    try:
        from robopipe.publish import IncrementalPublisher, PublishRequest
        from robopipe.publish.secrets import resolve_token
    except ImportError as exc:
        raise ConfigError(f"--push-to-hub needs robopipe.publish, which is not available: {exc}") from exc
    token = resolve_token()
    if push is None and token is None:
        logger.info(
            "no Hub token configured: not pushing (pass --push-to-hub to publish to the local registry)"
        )
        return None
    req = PublishRequest(
        root=root, repo_id=request.repo_id, private=request.private, card_tags=tuple(request.tags)
    )
    return IncrementalPublisher(req, every=request.push_every or 10**9, token=token)


def record_session(
    request: RecordRequest,
    *,
    events: RecordEvents | None = None,
    prompt: Prompt = input,
    devices: Devices | None = None,
    options: LoopOptions | None = None,
) -> RecordResult:
    """Record ``request.num_episodes`` episodes; see the module docstring.

    Args:
        request: the session.
        events: control flags (tests set them from another thread); keys are read into it on a tty.
        prompt: line input for metadata prompts (``input`` by default).
        devices: already built devices (tests, benchmarks); built from the request when omitted.
        options: loop options (injected clock in tests); default from ``request.fps``.
    """
    _refuse_if_in_use(request)  # before starting any device; the writer's own lock stays authoritative
    events = events or RecordEvents()
    max_age_ms = request.timing.camera_max_age_ms or request.max_camera_age_ms
    options = options or LoopOptions(fps=request.fps, max_age_ms=max_age_ms)
    devices = devices or build_devices(request)
    root = request.dataset_root()
    reports: list[EpisodeReport] = []
    rerecorded = 0
    pushed: list[str] = []
    old_switch = sys.getswitchinterval()
    with ExitStack() as stack:
        if request.log_file is not None:
            handler = logging.FileHandler(request.log_file)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger().addHandler(handler)
            root_logger = logging.getLogger()
            if root_logger.level > logging.INFO:
                stack.callback(root_logger.setLevel, root_logger.level)
                root_logger.setLevel(logging.INFO)
            stack.callback(logging.getLogger().removeHandler, handler)
            stack.callback(handler.close)
        passthrough = _share_terminal(devices, request)
        connect_cameras(devices.cameras)
        for cam in devices.cameras.values():
            stack.callback(cam.disconnect)
        devices.robot.connect()
        stack.callback(devices.robot.disconnect)
        if devices.teleop is not None:
            devices.teleop.connect()
            stack.callback(devices.teleop.disconnect)
        recorder = _Recorder(devices, request)
        writer = _open_writer(request, recorder.features, getattr(devices.robot, "name", "robot"))
        recorder.writer = writer
        publisher = _make_publisher(request, root)
        keys = TerminalKeys(events, passthrough=passthrough) if request.keyboard else None
        if keys is not None:
            stack.enter_context(keys)

        def held(fn: Callable[[], Any]) -> Any:
            ctx = keys.paused() if keys is not None else ExitStack()
            with ctx, keep_controlled(devices, options):
                return fn()

        # A shorter GIL switch interval lets the loop thread wake on time while encoder/camera threads run.
        sys.setswitchinterval(0.0005)
        stack.callback(sys.setswitchinterval, old_switch)
        stack.enter_context(realtime_priority(request.realtime))
        try:
            if request.warmup_time_s > 0:
                logger.info("warm-up: teleoperating for %.1f s (not recorded)", request.warmup_time_s)
                control_loop(devices, request.warmup_time_s, events, options)
                events.new_phase()
            recorded = 0
            while recorded < request.num_episodes and not events.stop_recording:
                index = writer.num_episodes
                logger.info("recording episode %d (%d/%d): %.1f s", index, recorded + 1, request.num_episodes,
                            request.episode_time_s)  # fmt: skip
                events.new_phase()
                events.success = None
                timing, tracker = control_loop(
                    devices, request.episode_time_s, events, options, recorder.sink
                )
                events.new_phase()
                last = recorded >= request.num_episodes - 1
                if (
                    not events.stop_recording
                    and (not last or events.rerecord_episode)
                    and request.reset_time_s > 0
                ):
                    logger.info("reset: %.1f s (→ to skip)", request.reset_time_s)
                    control_loop(devices, request.reset_time_s, events, options)
                    events.new_phase()
                if writer.episode_buffer_size == 0:  # stopped before the first frame: nothing to keep
                    writer.clear_episode()
                    events.rerecord_episode = False
                    continue
                if events.rerecord_episode:
                    logger.info(
                        "re-recording episode %d (%d frames discarded)", index, writer.episode_buffer_size
                    )
                    writer.clear_episode()
                    events.rerecord_episode = False
                    rerecorded += 1
                    continue
                meta = held(lambda: _ask_metadata(request, events, prompt)) if request.prompt_metadata else (
                    _ask_metadata(request, events, prompt))  # fmt: skip
                meta.update(timing.metadata())
                t0 = time.perf_counter()
                saved = writer.save_episode(meta, wait=False)
                block = time.perf_counter() - t0
                recorded += 1
                report = EpisodeReport(
                    episode_index=saved,
                    frames=timing.frames,
                    timing=timing,
                    skipped_camera_frames=tracker.skipped,
                    save_block_s=block,
                    metadata=meta,
                )
                reports.append(report)
                logger.info(
                    "episode %d saved: %d frames, %.2f fps achieved, jitter p50/p99 %.2f/%.2f ms, "
                    "late %d, duplicated camera frames %d, save returned in %.1f ms",
                    saved, timing.frames, timing.achieved_fps, timing.jitter_p50_ms, timing.jitter_p99_ms,
                    timing.late_frames, timing.duplicated_frames, block * 1000,
                )  # fmt: skip
                if publisher is not None and request.push_every:

                    def checkpoint() -> Any:
                        writer.flush()
                        return publisher.episode_saved()

                    result = held(checkpoint)
                    if result is not None:
                        pushed.append(str(result.commit))
        finally:
            writer.finalize()  # keeps every saved episode; discards a partial one
        if events.stop_recording and len(reports) < request.num_episodes:
            logger.info("stopped after %d episode(s)", len(reports))
        if publisher is not None and request.push_to_hub is not False:
            final = publisher.finish()
            pushed.append(str(final.commit))
    info = writer.info
    return RecordResult(
        root=root,
        repo_id=request.repo_id,
        episodes=reports,
        rerecorded=rerecorded,
        stopped_early=events.stop_recording and len(reports) < request.num_episodes,
        total_episodes=info.total_episodes,
        total_frames=info.total_frames,
        pushed=pushed,
    )
