"""The dataset at a glance: what ``robopipe info`` shows and ``--json`` prints (core layer).

LeRobot's ``info.json`` key names for the totals; the JSON keys are the field names below, in this order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from robopipe.format import depth, layout
from robopipe.format.features import FeatureSpec
from robopipe.format.reader import DatasetReader
from robopipe.format.video import ENCODER_INFO_KEYS


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureSummary(_Frozen):
    dtype: str
    shape: list[int]
    names: Any = Field(description="as info.json gives them (a list, a dict of lists, or null)")


class CameraSummary(_Frozen):
    key: str
    dtype: str
    height: int
    width: int
    codec: str | None = Field(description="video codec, or png/tiff for image features")
    pix_fmt: str | None
    depth: dict[str, Any] | None = Field(description="depth unit and quantiser (depth maps only)")
    encoder: dict[str, Any] = Field(description="encoder settings LeRobot records (video.g, video.crf, ...)")


class EpisodeLengths(_Frozen):
    min: int
    mean: float
    max: int


class FileCounts(_Frozen):
    data: int
    videos: int
    episodes_metadata: int


class DatasetDescription(_Frozen):
    """What ``robopipe info`` prints."""

    root: str
    codebase_version: str
    robot_type: str | None
    fps: int
    total_episodes: int
    total_frames: int
    total_tasks: int
    features: dict[str, FeatureSummary]
    cameras: list[CameraSummary]
    language: list[str]
    tools: list[str]
    tasks: list[str]
    episode_length: EpisodeLengths
    files: FileCounts
    size_bytes: int


def describe(reader: DatasetReader) -> DatasetDescription:
    """The dataset at a glance (what ``robopipe info`` prints); only metadata and a file listing are read."""
    info = reader.info
    lengths = reader.episode_lengths() if reader.num_episodes else np.zeros(0, np.int64)
    cameras = []
    for k, f in reader.features.items():
        if f.is_visual:
            vi = f.info or {}
            cameras.append(
                CameraSummary(
                    key=k,
                    dtype=f.dtype,
                    height=f.shape[0],
                    width=f.shape[1],
                    codec=_text(
                        vi.get("video.codec", ("tiff" if f.is_depth_map else "png") if f.is_image else None)
                    ),
                    pix_fmt=_text(vi.get("video.pix_fmt")),
                    depth=_depth_summary(f) if f.is_depth_map else None,
                    encoder={
                        k.removeprefix("video."): vi[k]
                        for k in ENCODER_INFO_KEYS
                        if k in vi and vi[k] not in (None, {})
                    },
                )
            )
    files = FileCounts(
        data=reader.file_count(layout.DATA_DIR, ".parquet"),
        videos=sum(reader.file_count(f"{layout.VIDEO_DIR}/{k}", ".mp4") for k in reader.video_keys),
        episodes_metadata=reader.file_count(layout.EPISODES_DIR, ".parquet"),
    )
    if reader.remote is not None:
        listing = reader.remote.listing
        size = sum(n for rel, n in listing.items() if ".staging" not in rel.split("/"))
        has_tasks = layout.TASKS_PATH in listing
    else:
        size = sum(
            p.stat().st_size for p in reader.root.rglob("*") if p.is_file() and ".staging" not in p.parts
        )
        has_tasks = (reader.root / layout.TASKS_PATH).exists()
    return DatasetDescription(
        root=str(reader.where),
        codebase_version=info.codebase_version,
        robot_type=info.robot_type,
        fps=info.fps,
        total_episodes=info.total_episodes,
        total_frames=info.total_frames,
        total_tasks=info.total_tasks,
        features={
            k: FeatureSummary(dtype=f.dtype, shape=list(f.shape), names=f.names)
            for k, f in reader.features.items()
        },
        cameras=cameras,
        language=[k for k, f in reader.features.items() if f.is_language],
        tools=[
            str((t.get("function") or {}).get("name", "?")) for t in info.tools or [] if isinstance(t, dict)
        ],
        tasks=reader.tasks if has_tasks else [],
        episode_length=EpisodeLengths(
            min=int(lengths.min()) if lengths.size else 0,
            mean=float(lengths.mean()) if lengths.size else 0.0,
            max=int(lengths.max()) if lengths.size else 0,
        ),
        files=files,
        size_bytes=size,
    )


def _text(value: Any) -> str | None:
    """A free-form info.json value as text (a hostile file may put anything there)."""
    return None if value is None else str(value)


def _depth_summary(spec: FeatureSpec) -> dict[str, Any]:
    """Unit and (video) quantiser settings of a depth feature."""
    vi = spec.info or {}
    out: dict[str, Any] = {"unit": vi.get("depth_unit")}
    if spec.is_video:
        cfg = depth.DepthEncoderConfig.from_info(vi)
        out.update(min_m=cfg.depth_min, max_m=cfg.depth_max, shift_m=cfg.shift, log=cfg.use_log)
    return out
