"""Check data parquet columns against the features ``info.json`` declares, from the schema alone (core layer).

A file's footer says each column's Arrow type, so dtype kind and (for fixed-size lists) the per-frame element
count can be compared with the declared ``dtype``/``shape`` before any value is read or any array is shaped:
a lying ``info.json`` stops with one :class:`FormatError` naming the file and the feature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import CorruptFileError, FormatError
from robopipe.format.features import FeatureSpec

# numpy kind -> Arrow leaf kinds that hold it without loss of meaning (ints and uints mix, bools may be ints)
_COMPATIBLE = {"f": "f", "i": "iu", "u": "iu", "b": "biu"}


def _kind(t: pa.DataType) -> str:
    if pa.types.is_floating(t):
        return "f"
    if pa.types.is_signed_integer(t):
        return "i"
    if pa.types.is_unsigned_integer(t):
        return "u"
    if pa.types.is_boolean(t):
        return "b"
    return "?"


def leaf(t: pa.DataType) -> tuple[pa.DataType, int | None]:
    """The innermost value type and the fixed number of values per row (None when a list is variable).

    Example:
        >>> leaf(pa.list_(pa.list_(pa.float32(), 3), 2))
        (DataType(float), 6)
    """
    count: int | None = 1
    while pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        if pa.types.is_fixed_size_list(t) and count is not None:
            count *= t.list_size
        else:
            count = None
        t = t.value_type
    return t, count


def check_column(path: Path | str, key: str, spec: FeatureSpec, t: pa.DataType) -> None:
    """Raise :class:`FormatError` when column type ``t`` cannot hold feature ``spec``."""
    if not (spec.is_image or spec.dtype == "string" or spec.is_numeric):
        return  # videos have no column; other kinds (LeRobot 0.6 language lists) keep their own checks
    if spec.is_image:
        ok = pa.types.is_struct(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
        expected = "struct<bytes, path> (PNG bytes)"
    elif spec.dtype == "string":
        ok = pa.types.is_string(t) or pa.types.is_large_string(t)
        expected = "string"
    else:
        value, count = leaf(t)
        want = np.dtype(spec.dtype).kind
        ok = _kind(value) in _COMPATIBLE.get(want, want)
        expected = f"{spec.dtype} values"
        if ok and count is not None and count != math.prod(spec.shape):
            raise FormatError(
                f"{path}: column {key!r} holds {count} value(s) per frame, info.json declares shape "
                f"{list(spec.shape)} ({math.prod(spec.shape)} values)"
            )
    if not ok:
        raise FormatError(
            f"{path}: column {key!r} is {t}, info.json declares {spec.dtype} (expected {expected})"
        )


def check_schema(path: Path | str, schema: pa.Schema, features: Mapping[str, FeatureSpec]) -> None:
    """Every declared non-video feature is a column of ``schema`` of a compatible type."""
    names = set(schema.names)
    for key, spec in features.items():
        if spec.is_video:
            continue
        if key not in names:
            raise FormatError(f"{path}: column {key!r} declared in info.json is missing from the data file")
        check_column(path, key, spec, schema.field(key).type)


def check_data_file(path: Path | str, features: Mapping[str, FeatureSpec]) -> pa.Schema:
    """Read only the footer of a data file and :func:`check_schema` it; returns the schema."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(
            f"{path}: unreadable parquet ({exc}); the file is truncated or corrupt"
        ) from exc
    check_schema(path, schema, features)
    return schema


_INT_LOCATION = ("episode_index", "length", "dataset_from_index", "dataset_to_index")


def location_problem(name: str, col: pa.ChunkedArray) -> str | None:
    """What is wrong with an episodes-metadata location column (None: fine, or not a location column).

    Indices and lengths must be integers, video timestamps finite numbers, none empty: index
    arithmetic then never meets a NaN, an infinity or a string.
    """
    if name in _INT_LOCATION or name.endswith(("/chunk_index", "/file_index")):
        if not pa.types.is_integer(col.type):
            return f"is {col.type}, expected integers"
        if col.null_count:
            return f"has {col.null_count} empty value(s), expected integers"
    elif name.startswith("videos/") and name.endswith(("/from_timestamp", "/to_timestamp")):
        if not (
            pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_null(col.type)
        ):
            return f"is {col.type}, expected timestamps in seconds"
        if col.null_count:
            return f"has {col.null_count} empty value(s), expected timestamps"
        if not np.isfinite(col.to_numpy(zero_copy_only=False).astype(np.float64)).all():
            return "holds NaN or infinite timestamps"
    return None


def check_location_types(where: Path | str, table: pa.Table) -> None:
    """Raise :class:`FormatError` for the first bad location column of an episodes table."""
    for name in table.column_names:
        problem = location_problem(name, table[name])
        if problem is not None:
            raise FormatError(f"{where}: meta/episodes column {name!r} {problem}")
