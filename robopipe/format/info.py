"""The typed ``meta/info.json`` model (core layer).

Unknown keys are kept (``extra="allow"``): LeRobot's own datasets may carry legacy ``total_chunks`` /
``total_videos`` or newer ``tools`` keys, and robopipe must round-trip them unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robopipe.errors import CorruptFileError, DatasetNotFoundError, FormatError, UnsupportedVersionError
from robopipe.format import layout
from robopipe.format.atomic import atomic_write_text
from robopipe.format.features import FeatureSpec, parse_features


class DatasetInfo(BaseModel):
    """``meta/info.json``; key names and defaults are LeRobot 0.4.4's."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    codebase_version: str = layout.CODEBASE_VERSION
    robot_type: str | None = None
    total_episodes: int = 0
    total_frames: int = 0
    total_tasks: int = 0
    chunks_size: int = Field(default=layout.DEFAULT_CHUNK_SIZE, gt=0)
    data_files_size_in_mb: float = Field(default=layout.DEFAULT_DATA_FILE_SIZE_IN_MB, gt=0)
    video_files_size_in_mb: float = Field(default=layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB, gt=0)
    fps: int = Field(gt=0)
    splits: dict[str, str] = Field(default_factory=dict)
    data_path: str = layout.DEFAULT_DATA_PATH
    video_path: str | None = layout.DEFAULT_VIDEO_PATH
    features: dict[str, FeatureSpec]

    @field_validator("features", mode="before")
    @classmethod
    def _parse_features(cls, v: Any) -> dict[str, FeatureSpec]:
        return parse_features(v)

    @field_validator("fps", mode="before")
    @classmethod
    def _int_fps(cls, v: Any) -> Any:
        # LeRobot writes an int; v2.1 converters sometimes left 30.0.
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    def to_json(self) -> dict[str, Any]:
        """The dict written to disk, in LeRobot's key order."""
        out: dict[str, Any] = {
            "codebase_version": self.codebase_version,
            "robot_type": self.robot_type,
            "total_episodes": self.total_episodes,
            "total_frames": self.total_frames,
            "total_tasks": self.total_tasks,
            "chunks_size": self.chunks_size,
            "data_files_size_in_mb": _num(self.data_files_size_in_mb),
            "video_files_size_in_mb": _num(self.video_files_size_in_mb),
            "fps": self.fps,
            "splits": self.splits,
            "data_path": self.data_path,
            "video_path": self.video_path,
            "features": {k: f.to_json() for k, f in self.features.items()},
        }
        out.update(self.model_extra or {})
        return out


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def check_version(version: str, where: str) -> None:
    """Accept v3.x; explain how to convert older datasets."""
    try:
        v = Version(version.lstrip("v"))
    except InvalidVersion as exc:
        raise UnsupportedVersionError(
            f"{where}: codebase_version {version!r} is not a version string"
        ) from exc
    if v.major < 3:
        raise UnsupportedVersionError(
            f"{where}: dataset is LeRobot {version}, robopipe reads v3.x. "
            f"Convert it first: robopipe convert v21 {Path(where).parent.parent} --out NEW_ROOT"
        )
    if v.major > 3:
        raise UnsupportedVersionError(
            f"{where}: codebase_version {version!r} is newer than v3.x (expected v3.x)"
        )


def load_info(root: Path) -> DatasetInfo:
    """Read and validate ``<root>/meta/info.json``."""
    path = Path(root) / layout.INFO_PATH
    if not path.is_file():
        raise DatasetNotFoundError(f"{root}: not a LeRobot dataset (missing {layout.INFO_PATH})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{path}: unreadable JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise CorruptFileError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    check_version(str(raw.get("codebase_version", "")), str(path))
    try:
        return DatasetInfo.model_validate(raw)
    except ValidationError as exc:
        raise FormatError(f"{path}: invalid info.json: {exc}") from exc


def write_info(root: Path, info: DatasetInfo) -> None:
    """Atomically write ``meta/info.json`` (indent 4, like LeRobot)."""
    atomic_write_text(Path(root) / layout.INFO_PATH, json.dumps(info.to_json(), indent=4, ensure_ascii=False))
