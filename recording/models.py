"""Request/result models of a recording session and of a replay (cross the CLI / Prefect boundary)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator

from hardware.timing import PROFILES, TimingProfile, timing_profile
from recording.pacing import EpisodeTiming
from recording.vocabulary import from_lerobot_layout, ignored_keys, is_lerobot_layout, merge_encoder
from robopipe.errors import ConfigError, pydantic_problems
from robopipe.format.home import lerobot_home
from robopipe.format.video import VideoEncoderConfig
from robopipe.publish.models import check_repo_id

#: Encoder that keeps up with 3 cameras at 640×480×30 fps on 2 cores (≈1.6 ms CPU per frame); LeRobot's
#: libsvtav1 preset 12 needs ≈15 ms per frame, i.e. more than a core for 2 cameras. Pass --vcodec libsvtav1
#: for AV1 when the machine has the headroom.
log = logging.getLogger(__name__)
RECORD_ENCODER = VideoEncoderConfig(codec="h264", preset="ultrafast", crf=23, g=2)

DeviceSource = str | dict[str, Any]


def default_root(repo_id: str) -> Path:
    """LeRobot's default: ``$HF_LEROBOT_HOME/<repo_id>`` (``$HF_HOME/lerobot`` or ``~/.cache/huggingface/lerobot``)."""
    return lerobot_home() / repo_id


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordRequest(_Model):
    """Everything a recording session needs (``lerobot-record`` vocabulary)."""

    robot: DeviceSource = Field(
        description="Follower robot: YAML path, bundled config or type name (so101_follower, sim-so101), or a dict."
    )
    robot_port: str | None = Field(default=None, description="Override the robot config's port.")
    robot_id: str | None = Field(
        default=None, description="Override the robot config's id (calibration file name)."
    )
    teleop: DeviceSource = Field(
        description="Teleoperator (leader arm, keyboard): YAML path, bundled config or type name, or a dict. "
        "Required: it is where the recorded actions come from.",
    )
    teleop_port: str | None = Field(default=None, description="Override the teleoperator config's port.")
    teleop_id: str | None = Field(default=None, description="Override the teleoperator config's id.")
    cameras: list[str] = Field(
        default_factory=list,
        description="Camera specs [name=]sim:WxH[@FPS] or [name=]/dev/videoN[:WxH][@FPS][:input_format].",
    )
    repo_id: str = Field(description="Dataset name ORG/NAME (also the Hub repository when pushing).")

    @field_validator("repo_id")
    @classmethod
    def _strict_repo_id(cls, v: str) -> str:
        return check_repo_id(v)

    root: Path | None = Field(
        default=None, description="Dataset folder (default $HF_LEROBOT_HOME/<repo_id>)."
    )
    single_task: str = Field(description="Task description stored with every frame, e.g. 'pick the cube'.")
    fps: int = Field(default=30, gt=0, description="Recording rate (frames per second).")
    num_episodes: int = Field(
        default=50, ge=1, description="Episodes to record (additional ones with --resume)."
    )
    warmup_time_s: float = Field(
        default=0.0, ge=0, description="Teleoperate this long before the first episode."
    )
    episode_time_s: float = Field(default=60.0, gt=0, description="Length of each episode.")
    reset_time_s: float = Field(default=60.0, ge=0, description="Teleoperated reset phase between episodes.")
    video: bool = Field(default=True, description="Encode cameras to mp4 (False: PNG images in parquet).")
    encoder: VideoEncoderConfig = Field(default=RECORD_ENCODER, description="Video encoder settings.")
    resume: bool = Field(default=False, description="Append to an existing dataset at root.")
    push_to_hub: bool | None = Field(
        None, description="Publish at the end; None = only when a Hub token is configured."
    )
    push_every: int | None = Field(default=None, ge=1, description="Also publish every N saved episodes.")
    private: bool = Field(default=False, description="Create the Hub repository as private.")
    tags: list[str] = Field(default_factory=list, description="Extra dataset-card tags.")
    rename_map: dict[str, str] = Field(
        default_factory=dict, description="Rename dataset features, e.g. observation.images.front -> ...top."
    )
    log_file: Path | None = Field(
        None, description="Also write the session log (with per-episode timing) here."
    )
    success: bool | None = Field(
        None, description="Episode metadata 'success' for every episode (else keys s/f)."
    )
    notes: str = Field(default="", description="Episode metadata 'notes' for every episode.")
    collector: str = Field(default="", description="Episode metadata 'collector' (who recorded).")
    prompt_metadata: bool = Field(
        False, description="Ask success/notes after each episode (the robot stays teleoperated meanwhile)."
    )
    max_camera_age_ms: float = Field(
        default=500.0, gt=0, description="Stop if a camera's newest frame is older."
    )
    # The schema (what Prefect's server checks a dashboard/API run against) takes a profile name too.
    timing: Annotated[
        TimingProfile,
        WithJsonSchema(
            {"anyOf": [{"type": "string", "enum": sorted(PROFILES)}, TimingProfile.model_json_schema()]}
        ),
    ] = Field(
        default_factory=TimingProfile,
        description="Time budget of the devices (bus timeout/retries, camera staleness), by name ('default', "
        "'patient' for simulators on a loaded machine) or field by field; unset fields keep device defaults.",
    )
    keyboard: bool = Field(
        default=True, description="Read control keys from the terminal when stdin is a tty."
    )
    realtime: bool = Field(
        default=True,
        description="Run the loop thread with SCHED_FIFO priority when allowed (steadier timing under load).",
    )

    @field_validator("timing", mode="before")
    @classmethod
    def _timing(cls, v: Any) -> Any:
        return timing_profile(v) if v is None or isinstance(v, str) else v

    def dataset_root(self) -> Path:
        return Path(self.root) if self.root is not None else default_root(self.repo_id)


class EpisodeReport(_Model):
    """One saved episode."""

    episode_index: int
    frames: int
    timing: EpisodeTiming
    skipped_camera_frames: int = Field(description="Camera frames that arrived but were never recorded.")
    save_block_s: float = Field(
        description="Time save_episode() kept the loop waiting (encoders finish later)."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class RecordResult(_Model):
    """What a session did."""

    root: Path
    repo_id: str
    episodes: list[EpisodeReport] = Field(default_factory=list)
    rerecorded: int = Field(default=0, description="Episodes discarded with ← / r.")
    stopped_early: bool = Field(default=False, description="Esc / q ended the session before num_episodes.")
    total_episodes: int = Field(default=0, description="Episodes in the dataset after the session.")
    total_frames: int = Field(default=0, description="Frames in the dataset after the session.")
    pushed: list[str] = Field(default_factory=list, description="Commit ids / revisions published.")


class ReplayRequest(_Model):
    """Send one recorded episode's actions back to a robot."""

    robot: DeviceSource = Field(description="Robot: YAML path, bundled config, type name or dict.")
    robot_port: str | None = None
    robot_id: str | None = None
    root: Path = Field(description="Dataset folder.")
    episode: int = Field(default=0, ge=0, description="Episode index to replay.")
    dry_run: bool = Field(default=False, description="Print the actions instead of sending them.")
    action_key: str = Field(default="action", description="Dataset feature holding the actions.")


class ReplayResult(_Model):
    frames: int
    fps: int
    names: list[str]
    timing: EpisodeTiming | None = None
    final_action: dict[str, float] = Field(default_factory=dict)


def load_record_config(path: Path, overrides: dict[str, Any]) -> RecordRequest:
    """A :class:`RecordRequest` from a YAML file (whole session) with CLI ``overrides`` on top."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read record config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"record config {path} must be a mapping of RecordRequest fields")
    if is_lerobot_layout(data):  # lerobot-record / openk-record nested layout
        for note in ignored_keys(data):
            log.warning("%s: %s is accepted but has no effect in robopipe", path, note)
        data, encoder = from_lerobot_layout(data, str(path))
        if encoder:
            data["encoder"] = merge_encoder(RECORD_ENCODER.model_dump(), encoder)
    data = {k.replace("-", "_"): v for k, v in data.items()}
    data.update(overrides)
    try:
        return RecordRequest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid record config {path}: {'; '.join(pydantic_problems(exc))}") from exc
