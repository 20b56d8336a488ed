"""Arrow column helpers shared by the data rules and the GX flattening (core layer)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from robopipe.format.features import FeatureSpec


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def type_problem(t: pa.DataType, spec: FeatureSpec) -> tuple[str, str] | None:
    """``("error"|"warning", reason)`` when column type ``t`` does not fit ``spec``; None when it does.

    Castable differences (float64 for float32, variable-length lists) are warnings: LeRobot casts them.
    """
    if spec.is_language:
        return None  # layout and rows: RP313 (rules_v3)
    if spec.is_string:
        ok = pa.types.is_string(t) or pa.types.is_large_string(t)
        return None if ok else ("error", f"expected a string column, got {t}")
    if spec.is_image:
        if pa.types.is_struct(t) and t.get_field_index("bytes") >= 0:
            return None
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return ("warning", f"image column is plain {t}; LeRobot writes struct<bytes, path>")
        return ("error", f"expected struct<bytes: binary, path: string>, got {t}")
    want = pa.from_numpy_dtype(np.dtype(spec.dtype))
    shape = tuple(spec.shape)
    if shape == (1,):
        if _is_list(t):
            return ("warning", f"shape (1,) feature stored as {t}; LeRobot writes a scalar {want}")
        return _leaf_problem(t, want)
    level = t
    for dim in shape:
        if not _is_list(level):
            return (
                "error",
                f"expected {len(shape)}-level nested list of {want} with shape {list(shape)}, got {t}",
            )
        if pa.types.is_fixed_size_list(level) and level.list_size != dim:
            return ("error", f"expected shape {list(shape)}, got list size {level.list_size} in {t}")
        level = level.value_type
    if _is_list(level):
        return ("error", f"expected shape {list(shape)}, got a deeper nesting {t}")
    leaf = _leaf_problem(level, want)
    if leaf is not None:
        return leaf
    if not all(pa.types.is_fixed_size_list(x) for x in _levels(t, len(shape))):
        return ("warning", f"variable-length list {t}; LeRobot writes fixed_size_list (castable)")
    return None


def _levels(t: pa.DataType, n: int) -> list[pa.DataType]:
    out = []
    for _ in range(n):
        out.append(t)
        t = t.value_type
    return out


def _leaf_problem(t: pa.DataType, want: pa.DataType) -> tuple[str, str] | None:
    if t == want:
        return None
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    if numeric and (pa.types.is_integer(want) or pa.types.is_floating(want) or pa.types.is_boolean(want)):
        if pa.types.is_floating(t) and (pa.types.is_integer(want) or pa.types.is_boolean(want)):
            return ("error", f"expected {want}, got {t} (floats do not cast to {want})")
        return ("warning", f"expected {want}, got {t} (castable)")
    return ("error", f"expected {want}, got {t}")


def to_matrix(col: pa.ChunkedArray | pa.Array, spec: FeatureSpec) -> np.ndarray | None:
    """Numeric column as an ``(n, k)`` array (k = product of the shape); None if lengths are ragged."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    k = int(np.prod(spec.shape)) if spec.shape else 1
    depth = 0
    while _is_list(arr.type):
        if not pa.types.is_fixed_size_list(arr.type):
            lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
            if lengths.size and (np.any(lengths != lengths[0])):
                return None
        arr = arr.flatten()
        depth += 1
    values = arr.to_numpy(zero_copy_only=False)
    if values.size != n * k:
        return None
    if values.dtype == object:
        values = values.astype(np.float64)
    return values.reshape(n, k)


def flat_names(key: str, spec: FeatureSpec) -> list[str]:
    """Per-dimension column names for GX: ``key`` for shape (1,), else ``key_0``, ``key_1``, ..."""
    k = int(np.prod(spec.shape)) if spec.shape else 1
    if tuple(spec.shape) == (1,):
        return [key]
    return [f"{key}_{i}" for i in range(k)]
