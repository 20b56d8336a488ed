"""The typed ``meta/info.json`` model (core layer).

Unknown keys are kept (``extra="allow"``): LeRobot's own datasets may carry legacy ``total_chunks`` /
``total_videos`` keys, and robopipe round-trips them unchanged. robopipe itself never adds a key of its own:
LeRobot 0.6.1 drops unknown keys (with a warning) when it rewrites ``info.json``, so robopipe's metadata lives in
``meta/robopipe/``. ``tools`` (0.6.1: OpenAI-style tool schemas) is optional and written only when set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robopipe.errors import CorruptFileError, DatasetNotFoundError, FormatError, UnsupportedVersionError
from robopipe.format import layout, safepath
from robopipe.format.atomic import atomic_write_text
from robopipe.format.features import FeatureSpec, parse_features

MAX_FPS = 100_000  # bounds fps (LeRobot datasets run at 5..1000)
MAX_TOTAL = 10**12  # bounds declared totals (checked against the rows present where they are used)


def one_line(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; field: message``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "value"
        parts.append(f"{loc}: {str(err['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


class DatasetInfo(BaseModel):
    """``meta/info.json``; key names and defaults are LeRobot 0.4.4's."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    codebase_version: str = layout.CODEBASE_VERSION
    robot_type: str | None = None
    total_episodes: int = Field(default=0, ge=0, le=MAX_TOTAL)
    total_frames: int = Field(default=0, ge=0, le=MAX_TOTAL)
    total_tasks: int = Field(default=0, ge=0, le=MAX_TOTAL)
    chunks_size: int = Field(default=layout.DEFAULT_CHUNK_SIZE, gt=0)
    data_files_size_in_mb: float = Field(default=layout.DEFAULT_DATA_FILE_SIZE_IN_MB, gt=0)
    video_files_size_in_mb: float = Field(default=layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB, gt=0)
    fps: int = Field(gt=0, le=MAX_FPS)
    splits: dict[str, str] = Field(default_factory=dict)
    data_path: str = layout.DEFAULT_DATA_PATH
    video_path: str | None = layout.DEFAULT_VIDEO_PATH
    features: dict[str, FeatureSpec]
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="OpenAI-style tool schemas (LeRobot 0.6.1); None: the dataset declares none"
    )

    @field_validator("features", mode="before")
    @classmethod
    def _parse_features(cls, v: Any) -> dict[str, FeatureSpec]:
        return parse_features(v)

    @field_validator("data_path")
    @classmethod
    def _safe_data_path(cls, v: str) -> str:
        safepath.check_template(v, safepath.V30_DATA_KEYS, "data_path")
        return v

    @field_validator("video_path")
    @classmethod
    def _safe_video_path(cls, v: str | None) -> str | None:
        if v is not None:
            safepath.check_template(v, safepath.V30_VIDEO_KEYS, "video_path")
        return v

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
        if self.tools is not None:
            out["tools"] = self.tools
        out.update(self.model_extra or {})
        return out


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


MAX_JSON_BYTES = 64 << 20  # info.json / stats.json of real datasets are a few hundred kB


def read_json_bounded(path: Path, limit: int | None = None) -> Any:
    """``json.loads`` of a metadata file, refusing files over ``limit`` bytes before reading them."""
    limit = MAX_JSON_BYTES if limit is None else limit
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"{size} bytes, over the {limit >> 20} MB limit for a metadata file")
    return json.loads(path.read_text(encoding="utf-8"))


def read_json_file(path: Path, fix: str, expect: type = dict) -> Any:
    """A bounded metadata JSON file of type ``expect``, or :class:`CorruptFileError` saying ``fix``."""
    try:
        raw = read_json_bounded(path)
    except (OSError, ValueError, RecursionError) as exc:
        msg = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise CorruptFileError(f"{path}: unreadable JSON ({msg}); {fix}") from exc
    if not isinstance(raw, expect):
        names = {"dict": "object", "list": "array"}
        raise CorruptFileError(
            f"{path}: expected a JSON {names.get(expect.__name__, expect.__name__)}, "
            f"got {names.get(type(raw).__name__, type(raw).__name__)}; {fix}"
        )
    return raw


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
    if path.is_file():
        safepath.inside(Path(root), layout.INFO_PATH, "info.json")
    if not path.is_file():
        raise DatasetNotFoundError(f"{root}: not a LeRobot dataset (missing {layout.INFO_PATH})")
    return info_from_json(read_json_file(path, "restore meta/info.json"), str(path))


def info_from_json(raw: Any, where: str) -> DatasetInfo:
    """The validated model of an ``info.json`` object read from ``where`` (named in errors)."""
    if not isinstance(raw, dict):
        raise CorruptFileError(f"{where}: expected a JSON object, got {type(raw).__name__}; restore it")
    check_version(str(raw.get("codebase_version", "")), where)
    try:
        return DatasetInfo.model_validate(raw)
    except ValidationError as exc:
        raise FormatError(f"{where}: invalid info.json: {one_line(exc)}") from exc


def write_info(root: Path, info: DatasetInfo) -> None:
    """Atomically write ``meta/info.json`` (indent 4, like LeRobot)."""
    atomic_write_text(Path(root) / layout.INFO_PATH, json.dumps(info.to_json(), indent=4, ensure_ascii=False))
