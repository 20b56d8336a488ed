"""Typed feature specs of LeRobotDataset v3.0 and their Arrow column types (core layer).

A feature is ``{"dtype", "shape", "names", ["info"]}`` in ``info.json``. ``dtype`` is a numpy dtype
string, ``"string"``, ``"image"`` (PNG bytes in parquet; TIFF for depth maps), ``"video"`` (mp4 files, no parquet
column) or ``"language"`` (LeRobot 0.6.1's message lists, see :mod:`robopipe.format.language`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robopipe.errors import FormatError, pydantic_problems
from robopipe.format import language, safepath

VISUAL_DTYPES = frozenset({"image", "video"})
NON_NUMERIC_DTYPES = frozenset({"image", "video", "string", "language"})
NUMERIC_KINDS = frozenset("biuf")  # numpy kinds of bool, int, uint and float dtypes
# Bounds on what info.json may declare per frame (an 8K RGB frame is 100M values; a bounded rank keeps
# nested list types small). Readers still check shapes against the bytes actually present.
MAX_RANK = 8
MAX_FEATURES = 4096
MAX_FRAME_ELEMENTS = 1 << 27


class FeatureSpec(BaseModel):
    """One entry of ``info.json["features"]``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    dtype: str = Field(description="numpy dtype string, 'string', 'image', 'video' or 'language'")
    shape: tuple[int, ...] = Field(description="per-frame shape; cameras are (H, W, C)")
    names: list[Any] | dict[str, Any] | None = Field(default=None, description="axis / element names")
    info: dict[str, Any] | None = Field(default=None, description="video stream info (video features)")

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, v: str) -> str:
        if v in NON_NUMERIC_DTYPES:
            return v
        try:
            kind = np.dtype(v).kind
        except (TypeError, ValueError, SyntaxError) as exc:
            raise ValueError(
                f"unknown dtype {v!r}: expected a numpy dtype, 'string', 'image', 'video' or 'language'"
            ) from exc
        if kind not in NUMERIC_KINDS:
            raise ValueError(
                f"unsupported dtype {v!r}: expected bool, int, uint or float, 'string', 'image', 'video' or 'language'"
            )
        return v

    @field_validator("shape")
    @classmethod
    def _bounded_shape(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(v) > MAX_RANK:
            raise ValueError(f"shape {list(v)} has {len(v)} dimensions (at most {MAX_RANK})")
        size = 1
        for d in v:
            if d < 0:
                raise ValueError(f"shape {list(v)} has a negative dimension")
            size *= d
            if size > MAX_FRAME_ELEMENTS:
                raise ValueError(f"shape {list(v)} holds over {MAX_FRAME_ELEMENTS} values per frame")
        return v

    @property
    def is_visual(self) -> bool:
        return self.dtype in VISUAL_DTYPES

    @property
    def is_video(self) -> bool:
        return self.dtype == "video"

    @property
    def is_image(self) -> bool:
        return self.dtype == "image"

    @property
    def is_string(self) -> bool:
        return self.dtype == "string"

    @property
    def is_language(self) -> bool:
        return self.dtype == "language"

    @property
    def is_text(self) -> bool:
        """String or language columns: stored as is, no statistics."""
        return self.dtype in ("string", "language")

    @property
    def is_numeric(self) -> bool:
        return self.dtype not in NON_NUMERIC_DTYPES

    @property
    def is_depth_map(self) -> bool:
        """LeRobot 0.6.1's depth marker: ``info.is_depth_map``, or the legacy ``video.is_depth_map``."""
        return is_depth_info(self.info) or is_depth_info((self.model_extra or {}).get("video_info"))

    @property
    def np_dtype(self) -> np.dtype[Any]:
        """numpy dtype of one element (uint8 for cameras)."""
        if self.is_visual:
            return np.dtype(np.uint8)
        if self.is_string:
            return np.dtype(object)
        return np.dtype(self.dtype)

    def to_json(self) -> dict[str, Any]:
        """The dict written into ``info.json`` (shape as a list, ``info`` only when set)."""
        out: dict[str, Any] = {"dtype": self.dtype, "shape": list(self.shape), "names": self.names}
        if self.info is not None:
            out["info"] = self.info
        out.update(self.model_extra or {})
        return out


def is_depth_info(info: Mapping[str, Any] | None) -> bool:
    """True when a feature ``info`` block marks a depth map (``is_depth_map`` or legacy ``video.is_depth_map``)."""
    return bool(info) and bool(info.get("is_depth_map") or info.get("video.is_depth_map"))  # type: ignore[union-attr]


def _scalar(dtype: str, shape: tuple[int, ...], names: None = None) -> FeatureSpec:
    return FeatureSpec(dtype=dtype, shape=shape, names=names)


DEFAULT_FEATURES: dict[str, FeatureSpec] = {
    "timestamp": _scalar("float32", (1,)),
    "frame_index": _scalar("int64", (1,)),
    "episode_index": _scalar("int64", (1,)),
    "index": _scalar("int64", (1,)),
    "task_index": _scalar("int64", (1,)),
}


def validate_feature_key(key: str) -> None:
    """Raise :class:`FormatError` for keys LeRobot refuses (``/`` is used by column flattening) and keys
    that are unsafe as a folder name (video keys name ``videos/<key>/``)."""
    if not isinstance(key, str) or not key or "/" in key:
        raise FormatError(f"feature key {key!r} is invalid: keys must be non-empty and must not contain '/'")
    safepath.check_component(key, "feature key")


def parse_features(raw: Mapping[str, Any]) -> dict[str, FeatureSpec]:
    """Typed features from a JSON mapping; raises :class:`FormatError` naming the bad key."""
    if not isinstance(raw, Mapping):
        raise FormatError(f"features must be a mapping of key -> spec, got {type(raw).__name__}")
    if len(raw) > MAX_FEATURES:
        raise FormatError(f"{len(raw)} features declared (at most {MAX_FEATURES})")
    out: dict[str, FeatureSpec] = {}
    for key, spec in raw.items():
        validate_feature_key(key)
        try:
            out[key] = spec if isinstance(spec, FeatureSpec) else FeatureSpec.model_validate(spec)
        except ValidationError as exc:
            raise FormatError(f"feature {key!r}: {'; '.join(pydantic_problems(exc))}") from exc
        except ValueError as exc:
            raise FormatError(f"feature {key!r}: invalid spec: {exc}") from exc
    return out


def with_default_features(features: Mapping[str, FeatureSpec]) -> dict[str, FeatureSpec]:
    """User features followed by the five default ones, as LeRobot writes them."""
    out = {k: v for k, v in features.items() if k not in DEFAULT_FEATURES}
    out.update(DEFAULT_FEATURES)
    return out


def arrow_type(spec: FeatureSpec, key: str = language.LANGUAGE_EVENTS) -> pa.DataType:
    """Arrow type of a feature's parquet column (what LeRobot writes; ``key`` picks a language layout)."""
    if spec.is_image:
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    if spec.is_string:
        return pa.string()
    if spec.is_language:
        return language.arrow_type(key)
    if spec.is_video:
        raise FormatError("video features have no parquet column")
    value = pa.from_numpy_dtype(np.dtype(spec.dtype))
    if spec.shape == (1,):
        return value
    if len(spec.shape) == 1:
        return pa.list_(value, spec.shape[0])
    # Arrays of rank >= 2 are nested fixed-size lists (datasets' ArrayND reads them back).
    t: pa.DataType = value
    for dim in reversed(spec.shape):
        t = pa.list_(t, dim)
    return t


def hf_feature(spec: FeatureSpec, key: str = language.LANGUAGE_EVENTS) -> dict[str, Any]:
    """The HuggingFace ``datasets`` feature dict for the parquet schema metadata."""
    if spec.is_language:
        return language.hf_feature(key)
    if spec.is_image:
        return {"_type": "Image"}
    if spec.is_string:
        return {"dtype": "string", "_type": "Value"}
    if spec.shape == (1,):
        return {"dtype": spec.dtype, "_type": "Value"}
    if len(spec.shape) == 1:
        return {"feature": {"dtype": spec.dtype, "_type": "Value"}, "length": spec.shape[0], "_type": "List"}
    return {"shape": list(spec.shape), "dtype": spec.dtype, "_type": f"Array{len(spec.shape)}D"}


def camera_keys(features: Mapping[str, FeatureSpec]) -> list[str]:
    return [k for k, f in features.items() if f.is_visual]


def video_keys(features: Mapping[str, FeatureSpec]) -> list[str]:
    return [k for k, f in features.items() if f.is_video]


def image_keys(features: Mapping[str, FeatureSpec]) -> list[str]:
    return [k for k, f in features.items() if f.is_image]


def data_column_keys(features: Mapping[str, FeatureSpec]) -> list[str]:
    """Features stored as parquet columns: everything except videos."""
    return [k for k, f in features.items() if not f.is_video]
