"""Frame validation and episode tables for the writer (core layer).

:class:`EpisodeBuffer` collects the parquet-bound values of one episode (numeric, string, language rows, PNG bytes,
TIFF bytes of depth images) and
turns them into one Arrow table with LeRobot's column types. Camera frames of ``video`` features never
enter it: the writer streams them straight to the encoder.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from robopipe.errors import FrameError
from robopipe.format import depth, language
from robopipe.format.features import DEFAULT_FEATURES, FeatureSpec, arrow_type, hf_feature

# PNG encoding (zlib) releases the GIL, so a small pool keeps image-mode recording real-time.
_PNG_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="png")


def encode_png(frame: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of an HxWxC uint8 frame (LeRobot uses level 6 for image features)."""
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def check_value(key: str, spec: FeatureSpec, value: Any) -> np.ndarray | str:
    """Validate one frame value against its feature; returns it as an array of the declared dtype."""
    if spec.is_string:
        if not isinstance(value, str):
            raise FrameError(f"feature {key!r}: expected a str, got {type(value).__name__}")
        return value
    if spec.is_language:
        try:
            language.canonical_array(key, [value])
        except (ValueError, TypeError, pa.ArrowException) as exc:
            raise FrameError(f"feature {key!r}: not a list of message rows: {exc}") from exc
        return value
    arr = np.asarray(value)
    if spec.is_visual and spec.is_depth_map:
        h, w = spec.shape[0], spec.shape[1]
        metres = (spec.info or {}).get("depth_unit") == "m"
        if metres and arr.dtype in (np.float32, np.float64):
            arr = arr.astype(np.float32, copy=False)
        elif arr.dtype != (np.float32 if metres else np.uint16):
            want = "float32 depth frames in metres" if metres else "uint16 depth frames in millimetres"
            raise FrameError(f"feature {key!r}: expected {want}, got dtype {arr.dtype}")
        if arr.shape not in ((h, w), (h, w, 1)):
            raise FrameError(
                f"feature {key!r}: expected depth frame shape {(h, w, 1)} or {(h, w)}, got {arr.shape}"
            )
        return arr.reshape(h, w, 1)
    if spec.is_visual:
        if arr.dtype != np.uint8:
            raise FrameError(f"feature {key!r}: expected uint8 HxWxC frames, got dtype {arr.dtype}")
        if arr.shape != tuple(spec.shape):
            raise FrameError(
                f"feature {key!r}: expected frame shape {tuple(spec.shape)} (H, W, C), got {arr.shape}"
            )
        return arr
    dtype = np.dtype(spec.dtype)
    if arr.shape == () and spec.shape == (1,):
        arr = arr.reshape(1)
    if arr.shape != tuple(spec.shape):
        raise FrameError(f"feature {key!r}: expected shape {tuple(spec.shape)}, got {arr.shape}")
    if arr.dtype != dtype:
        if not np.can_cast(arr.dtype, dtype, casting="same_kind"):
            raise FrameError(
                f"feature {key!r}: expected dtype {dtype}, got {arr.dtype} (not safely castable)"
            )
        arr = arr.astype(dtype)
    return arr


class EpisodeBuffer:
    """Parquet-bound values of the episode being recorded."""

    def __init__(self, features: Mapping[str, FeatureSpec]) -> None:
        self.features = {k: f for k, f in features.items() if not f.is_video and k not in DEFAULT_FEATURES}
        self.values: dict[str, list[Any]] = {k: [] for k in self.features}
        self.tasks: list[str] = []

    def __len__(self) -> int:
        return len(self.tasks)

    def append(self, key: str, value: Any) -> None:
        spec = self.features[key]
        if spec.is_image:
            encode = depth.encode_tiff if spec.is_depth_map else encode_png
            self.values[key].append(_PNG_POOL.submit(encode, value))
        else:
            self.values[key].append(value)

    def columns(self) -> dict[str, np.ndarray]:
        """Numeric columns as ``(T, *shape)`` arrays (what the statistics need)."""
        return {k: np.stack(v) for k, v in self.values.items() if self.features[k].is_numeric and v}

    def to_table(
        self, episode_index: int, first_index: int, fps: int, task_index: Mapping[str, int]
    ) -> pa.Table:
        """The episode's rows: user features then the five default columns, with HF schema metadata."""
        n = len(self)
        arrays: dict[str, pa.Array] = {}
        for key, spec in self.features.items():
            vals = self.values[key]
            if spec.is_image:
                png = [f.result() if isinstance(f, Future) else f for f in vals]
                ext = "tiff" if spec.is_depth_map else "png"
                arrays[key] = pa.array(
                    [{"bytes": b, "path": f"frame-{i:06d}.{ext}"} for i, b in enumerate(png)],
                    type=arrow_type(spec),
                )
            elif spec.is_language:
                arrays[key] = language.canonical_array(key, vals)
            elif spec.is_string:
                arrays[key] = pa.array(vals, type=pa.string())
            else:
                arrays[key] = numeric_array(np.stack(vals), spec)
        frame_index = np.arange(n, dtype=np.int64)
        arrays["timestamp"] = pa.array((frame_index / fps).astype(np.float32))
        arrays["frame_index"] = pa.array(frame_index)
        arrays["episode_index"] = pa.array(np.full(n, episode_index, dtype=np.int64))
        arrays["index"] = pa.array(np.arange(first_index, first_index + n, dtype=np.int64))
        arrays["task_index"] = pa.array(np.array([task_index[t] for t in self.tasks], dtype=np.int64))
        table = pa.table(arrays)
        return table.replace_schema_metadata(hf_schema_metadata({**self.features, **DEFAULT_FEATURES}))


def numeric_array(values: np.ndarray, spec: FeatureSpec) -> pa.Array:
    """``(T, *shape)`` numpy values as the feature's Arrow column (scalar, fixed-size list or nested)."""
    dtype = np.dtype(spec.dtype)
    values = np.ascontiguousarray(values, dtype=dtype)
    n = values.shape[0]
    if spec.shape == (1,):
        return pa.array(values.reshape(n))
    arr: pa.Array = pa.array(values.reshape(-1))
    for dim in reversed(spec.shape):
        arr = pa.FixedSizeListArray.from_arrays(arr, dim)
    return arr


def hf_schema_metadata(features: Mapping[str, FeatureSpec]) -> dict[bytes, bytes]:
    """The ``huggingface`` schema metadata ``datasets`` uses to restore feature types (e.g. Image)."""
    info = {"info": {"features": {k: hf_feature(f, k) for k, f in features.items() if not f.is_video}}}
    return {b"huggingface": json.dumps(info).encode()}
