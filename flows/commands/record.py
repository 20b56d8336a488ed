"""``robopipe find-cameras``, ``robopipe record`` and ``robopipe replay`` (LeRobot's vocabulary)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import cyclopts
from cyclopts import Parameter

log = logging.getLogger(__name__)


def find_cameras(
    *,
    output_dir: Annotated[Path, Parameter(help="Save one PNG per camera here.")] = Path(
        "outputs/captured_images"
    ),
    pattern: Annotated[str, Parameter(help="Device glob.")] = "/dev/video*",
    no_capture: Annotated[
        bool, Parameter(name="--no-capture", negative=(), help="Only list, save no frame.")
    ] = False,
    as_json: Annotated[bool, Parameter(name="--json", help="Print the devices as JSON.")] = False,
) -> int:
    """List V4L2 cameras (/dev/video*) with their formats and sizes, and save a sample frame from each.

    Frames are read through PyAV's v4l2 input at the device's default format. Metadata nodes (the
    second /dev/video* of a UVC webcam) are listed but not captured. Prints 'no cameras found' when
    there are none (use `--camera sim:640x480` to record without one).
    """
    from hardware.cameras.config import CameraConfig
    from hardware.cameras.discovery import find_cameras as discover
    from hardware.cameras.pyav_camera import V4L2Camera
    from robopipe.errors import DeviceError

    devices = discover(pattern)
    if as_json:
        print(json.dumps([d.model_dump() for d in devices], indent=2))
    if not devices:
        print(f"no cameras found ({pattern} matches nothing)", file=sys.stderr if as_json else sys.stdout)
        return 0
    failed = 0
    for i, dev in enumerate(devices):
        if not as_json:
            head = f"{dev.path}: {dev.card or '?'} ({dev.driver or '?'}, {dev.bus_info or '?'})"
            print(head if dev.capture or dev.error else f"{head} — metadata node, no video capture")
            if dev.error:
                print(f"  error: {dev.error}")
            for fmt in dev.formats:
                print(f"  {fmt.fourcc} ({fmt.input_format}): {fmt.description} — {' '.join(fmt.sizes)}")
        if no_capture or not dev.capture:
            continue
        cam = V4L2Camera(CameraConfig(name=f"cam{i}", source="v4l2", path=dev.path, warmup_s=0.5))
        try:
            cam.connect()
            image = cam.read()
        except DeviceError as exc:
            print(f"  capture failed: {exc}", file=sys.stderr)
            failed += 1
            continue
        finally:
            cam.disconnect()
        from PIL import Image

        output_dir.mkdir(parents=True, exist_ok=True)
        out = output_dir / f"{Path(dev.path).name}.png"
        Image.fromarray(image).save(out)
        print(
            f"  saved {image.shape[1]}x{image.shape[0]} frame to {out}",
            file=sys.stderr if as_json else sys.stdout,
        )
    return 1 if failed else 0


def record(
    *,
    robot_path: Annotated[
        str | None,
        Parameter(
            name=["--robot-path", "--robot"], help="Robot config YAML, bundled name or type (e.g. sim-so101)."
        ),
    ] = None,
    robot_type: Annotated[
        str | None, Parameter(name="--robot.type", help="Robot type (LeRobot's --robot.type).")
    ] = None,
    robot_port: Annotated[
        str | None, Parameter(name="--robot.port", help="Override the robot's port.")
    ] = None,
    robot_id: Annotated[str | None, Parameter(name="--robot.id", help="Override the robot's id.")] = None,
    robot_cameras: Annotated[
        str | None,
        Parameter(
            name="--robot.cameras",
            help='LeRobot\'s camera dict, e.g. "{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}}".',
        ),
    ] = None,
    teleop_path: Annotated[
        str | None,
        Parameter(
            name=["--teleop-path", "--teleop"],
            help="Teleoperator config YAML, bundled name or type (e.g. sim-so101-leader).",
        ),
    ] = None,
    teleop_type: Annotated[str | None, Parameter(name="--teleop.type", help="Teleoperator type.")] = None,
    teleop_port: Annotated[
        str | None, Parameter(name="--teleop.port", help="Override the teleoperator's port.")
    ] = None,
    teleop_id: Annotated[
        str | None, Parameter(name="--teleop.id", help="Override the teleoperator's id.")
    ] = None,
    camera: Annotated[
        list[str] | None,
        Parameter(
            name="--camera",
            help="Camera spec, repeatable: [name=]sim:WxH[@FPS] or [name=]/dev/videoN[:WxH][@FPS][:input_format].",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        Parameter(
            name=["--config", "--config_path"],
            help="YAML with the whole session: RecordRequest fields, or lerobot-record's / openk-record's nested "
            "layout (robot:, teleop:, dataset:; see configs/). Flags override it.",
        ),
    ] = None,
    repo_id: Annotated[
        str | None, Parameter(name=["--repo-id", "--dataset.repo_id"], help="Dataset name ORG/NAME.")
    ] = None,
    root: Annotated[
        Path | None,
        Parameter(
            name=["--root", "--dataset.root"], help="Dataset folder (default $HF_LEROBOT_HOME/REPO_ID)."
        ),
    ] = None,
    single_task: Annotated[
        str | None,
        Parameter(name=["--single-task", "--dataset.single_task"], help="Task description for every frame."),
    ] = None,
    fps: Annotated[
        int | None, Parameter(name=["--fps", "--dataset.fps"], help="Frames per second (default 30).")
    ] = None,
    num_episodes: Annotated[
        int | None,
        Parameter(name=["--num-episodes", "--dataset.num_episodes"], help="Episodes to record (default 50)."),
    ] = None,
    warmup_time_s: Annotated[
        float | None, Parameter(help="Teleoperate before the first episode (default 0).")
    ] = None,
    episode_time_s: Annotated[
        float | None,
        Parameter(name=["--episode-time-s", "--dataset.episode_time_s"], help="Episode length (default 60)."),
    ] = None,
    reset_time_s: Annotated[
        float | None,
        Parameter(
            name=["--reset-time-s", "--dataset.reset_time_s"],
            help="Reset phase between episodes (default 60).",
        ),
    ] = None,
    video: Annotated[
        bool | None,
        Parameter(
            name=["--video", "--dataset.video"],
            negative=["--no-video"],
            help="Encode cameras to mp4; --no-video (--dataset.video=false) stores PNG images.",
        ),
    ] = None,
    vcodec: Annotated[
        str | None,
        Parameter(
            name=["--vcodec", "--dataset.vcodec", "--dataset.rgb_encoder.vcodec"],
            help="h264 (default, keeps up on 2 cores), hevc or libsvtav1.",
        ),
    ] = None,
    crf: Annotated[
        int | None,
        Parameter(name=["--crf", "--dataset.rgb_encoder.crf"], help="Encoder quality (default 23 for h264)."),
    ] = None,
    gop: Annotated[
        int | None, Parameter(name=["--gop", "--dataset.rgb_encoder.g"], help="GOP size (default 2).")
    ] = None,
    encoder_preset: Annotated[
        str | None,
        Parameter(
            name=["--encoder-preset", "--dataset.rgb_encoder.preset"],
            help="Encoder speed preset (h264 'ultrafast', svtav1 12).",
        ),
    ] = None,
    pix_fmt: Annotated[
        str | None,
        Parameter(
            name=["--pix-fmt", "--dataset.rgb_encoder.pix_fmt"], help="Pixel format (default yuv420p)."
        ),
    ] = None,
    video_encoding_batch_size: Annotated[
        int | None,
        Parameter(
            name="--dataset.video_encoding_batch_size",
            help="Accepted for LeRobot compatibility; robopipe always encodes while recording.",
        ),
    ] = None,
    resume: Annotated[
        bool | None, Parameter(negative=(), help="Append to the dataset at --root (--resume=true).")
    ] = None,
    display_data: Annotated[
        bool | None,
        Parameter(
            name="--display_data",
            negative=(),
            help="Accepted for LeRobot compatibility; robopipe has no viewer.",
        ),
    ] = None,
    push_to_hub: Annotated[
        bool | None,
        Parameter(
            name=["--push-to-hub", "--dataset.push_to_hub"],
            negative=["--no-push-to-hub"],
            help="Publish at the end (default: only when a Hub token is set).",
        ),
    ] = None,
    push_every: Annotated[
        int | None,
        Parameter(name=["--push-every", "--push-freq"], help="Also publish every N saved episodes."),
    ] = None,
    private: Annotated[
        bool | None,
        Parameter(
            name=["--private", "--dataset.private"], negative=(), help="Create the Hub repository as private."
        ),
    ] = None,
    tags: Annotated[
        list[str] | None,
        Parameter(
            name=["--tags", "--dataset.tags"],
            help="Dataset card tags (repeatable, or a list: --dataset.tags='[a, b]').",
        ),
    ] = None,
    rename_map: Annotated[
        str | None,
        Parameter(
            help='JSON object renaming features, e.g. \'{"observation.images.front": "observation.images.top"}\'.'
        ),
    ] = None,
    log_file: Annotated[Path | None, Parameter(help="Also write the log (per-episode timing) here.")] = None,
    success: Annotated[
        bool | None,
        Parameter(
            negative=(), help="Episode metadata 'success' for every episode (--success=false; or keys s/f)."
        ),
    ] = None,
    notes: Annotated[str | None, Parameter(help="Episode metadata 'notes'.")] = None,
    collector: Annotated[str | None, Parameter(help="Episode metadata 'collector' (who recorded).")] = None,
    prompt_metadata: Annotated[
        bool | None, Parameter(negative=(), help="Ask success/notes after each episode.")
    ] = None,
    timing: Annotated[
        str | None,
        Parameter(
            help="Device time budget: 'default' (each device's own, tight for real arms) or 'patient' "
            "(simulators on a loaded machine: 2 s bus timeout, 10 s camera staleness)."
        ),
    ] = None,
    as_json: Annotated[
        bool, Parameter(name="--json", negative=(), help="Print the RecordResult as JSON.")
    ] = False,
) -> int:
    """Teleoperate a robot and record episodes into a LeRobotDataset v3.0.

    Without hardware: `robopipe record --robot sim-so101 --teleop sim-so101-leader --camera sim:640x480
    --repo-id me/demo --single-task "pick the cube" --num-episodes 2 --episode-time-s 5 --reset-time-s 2`.

    Keys (when stdin is a terminal): → or n = end the episode / reset early, ← or r = re-record, Esc or q =
    stop (saved episodes are kept), s / f = mark success / failure. Ctrl-C also keeps every saved episode.
    Per-episode timing (achieved fps, jitter p50/p99, late frames, duplicated camera frames) goes to the
    episode metadata (timing/* columns) and the log.
    """
    from recording.models import RecordRequest, load_record_config
    from recording.session import record_session
    from recording.vocabulary import cameras_dict, merge_encoder, tag_list
    from robopipe.errors import ConfigError
    from robopipe.format.video import VideoEncoderConfig

    robot: Any = robot_path or robot_type
    if robot_cameras is not None:  # LeRobot's camera dict rides on the robot config
        if robot_type is None or robot_path is not None:
            raise ConfigError(
                "--robot.cameras goes with --robot.type (with --robot-path, use --camera specs)"
            )
        robot = {"type": robot_type, "cameras": cameras_dict(robot_cameras)}
    if display_data:
        log.warning("--display_data: robopipe has no rerun viewer; progress and timing go to the log")
    if video_encoding_batch_size not in (None, 1):
        log.warning("--dataset.video_encoding_batch_size: robopipe encodes while recording (ignored)")
    overrides: dict[str, Any] = {
        "robot": robot,
        "robot_port": robot_port,
        "robot_id": robot_id,
        "teleop": teleop_path or teleop_type,
        "teleop_port": teleop_port,
        "teleop_id": teleop_id,
        "cameras": camera,
        "repo_id": repo_id,
        "root": root,
        "single_task": single_task,
        "fps": fps,
        "num_episodes": num_episodes,
        "warmup_time_s": warmup_time_s,
        "episode_time_s": episode_time_s,
        "reset_time_s": reset_time_s,
        "video": video,
        "resume": resume,
        "push_to_hub": push_to_hub,
        "push_every": push_every,
        "private": private,
        "tags": tag_list(tags),
        "log_file": log_file,
        "success": success,
        "notes": notes,
        "collector": collector,
        "prompt_metadata": prompt_metadata,
        "timing": timing,
    }
    if rename_map is not None:
        try:
            overrides["rename_map"] = json.loads(rename_map)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--rename-map must be a JSON object, got {rename_map!r}: {exc}") from exc
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if config is not None:
        request = load_record_config(config, overrides)
    else:
        missing = [f for f in ("robot", "teleop", "repo_id", "single_task") if f not in overrides]
        if missing:
            flags = {
                "robot": "--robot-path",
                "teleop": "--teleop (the actions come from it)",
                "repo_id": "--repo-id",
                "single_task": "--single-task",
            }
            raise ConfigError(
                f"record needs {', '.join(flags[m] for m in missing)} (or --config record.yaml)"
            )
        request = RecordRequest(**overrides)
    changes = {
        k: v
        for k, v in {
            "codec": vcodec,
            "crf": crf,
            "g": gop,
            "preset": encoder_preset,
            "pix_fmt": pix_fmt,
        }.items()
        if v is not None
    }
    if changes:
        enc = merge_encoder(request.encoder.model_dump(), changes)
        request = request.model_copy(update={"encoder": VideoEncoderConfig(**enc)})
    from robopipe.format.atomic import disk_full_reported

    root = request.dataset_root()
    then = f"free space, then run `robopipe repair {root}` (adds staged episodes) or record again"
    with disk_full_reported(root, lambda: _kept_after_failure(root), then):
        result = record_session(request)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print(
            f"{result.root}: {len(result.episodes)} episode(s) recorded this session "
            f"({result.rerecorded} re-recorded); dataset has {result.total_episodes} episodes, "
            f"{result.total_frames} frames"
        )
        for ep in result.episodes:
            t = ep.timing
            print(
                f"  episode {ep.episode_index}: {ep.frames} frames, {t.achieved_fps:.2f} fps, jitter p50/p99 "
                f"{t.jitter_p50_ms:.2f}/{t.jitter_p99_ms:.2f} ms, late {t.late_frames}, "
                f"duplicated {t.duplicated_frames}"
            )
    return 0


def _kept_after_failure(root: Path) -> str:
    """What a failed recording left: finished episodes, and saved ones still staged (repair adds them)."""
    from robopipe.format.info import load_info
    from robopipe.format.writer import STAGING_DIR

    staged = sorted(p.name for p in (root / STAGING_DIR).glob("episode-*") if not p.name.endswith(".partial"))
    try:
        done = f"{load_info(root).total_episodes} finished episode(s) in {root}"
    except Exception:  # no info.json yet: nothing finished
        done = f"no finished episodes in {root}"
    if not staged:
        return done + "; the episode being recorded was dropped"
    return f"{done}, {len(staged)} saved episode(s) staged in {root / STAGING_DIR}; the episode being recorded was dropped"


def replay(
    *,
    robot_path: Annotated[
        str | None,
        Parameter(name=["--robot-path", "--robot"], help="Robot config YAML, bundled name or type."),
    ] = None,
    robot_type: Annotated[str | None, Parameter(name="--robot.type", help="Robot type.")] = None,
    robot_port: Annotated[
        str | None, Parameter(name="--robot.port", help="Override the robot's port.")
    ] = None,
    robot_id: Annotated[str | None, Parameter(name="--robot.id", help="Override the robot's id.")] = None,
    root: Annotated[
        Path, Parameter(help="Dataset folder, or ORG/NAME under $HF_LEROBOT_HOME (where record writes).")
    ],
    episode: Annotated[int, Parameter(help="Episode index.")] = 0,
    dry_run: Annotated[bool, Parameter(help="Print the actions instead of sending them.")] = False,
) -> int:
    """Send a recorded episode's actions back to the robot at the dataset's fps (--dry-run prints them)."""
    from recording.models import ReplayRequest
    from recording.replay import replay_episode
    from robopipe.errors import ConfigError
    from robopipe.format.home import resolve_dataset_root

    robot = robot_path or robot_type
    if robot is None and not dry_run:
        raise ConfigError("replay needs --robot-path (or --robot.type), or --dry-run")
    request = ReplayRequest(
        robot=robot or "dry-run",
        robot_port=robot_port,
        robot_id=robot_id,
        root=resolve_dataset_root(root),
        episode=episode,
        dry_run=dry_run,
    )
    result = replay_episode(request)
    if not dry_run:
        print(f"replayed {result.frames} actions at {result.fps} fps on {robot}")
    return 0


def register(app: cyclopts.App) -> None:
    """Add ``find-cameras``, ``record`` and ``replay`` to the root app."""
    app.command(find_cameras, name="find-cameras")
    app.command(record, name="record")
    app.command(replay, name="replay")
