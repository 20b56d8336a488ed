"""LeRobot 0.4.4's ``aggregate_stats`` over per-episode stats columns, vectorised (core layer).

Used when an input has no robopipe sketches (written by LeRobot). Rules (reference §6.3): counts add,
means and pooled population variance are count-weighted (exact), min/max are element-wise, and each
quantile is the count-weighted mean of the per-episode quantiles (LeRobot's approximation).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from robopipe.errors import StatsError


def _column_array(col: pa.ChunkedArray) -> np.ndarray:
    """``(rows, *shape)`` float64 array of a nested-list stats column (all rows share one shape)."""
    arr = col.combine_chunks()
    shape: list[int] = []
    values: pa.Array = arr
    while (
        pa.types.is_list(values.type)
        or pa.types.is_large_list(values.type)
        or pa.types.is_fixed_size_list(values.type)
    ):
        if values.null_count:
            raise StatsError(f"stats column has {values.null_count} missing values")
        lengths = (
            values.value_lengths().to_numpy(zero_copy_only=False)
            if not pa.types.is_fixed_size_list(values.type)
            else None
        )
        width = values.type.list_size if lengths is None else (int(lengths[0]) if len(lengths) else 0)
        if lengths is not None and len(lengths) and not (lengths == width).all():
            raise StatsError("stats column rows have different shapes")
        shape.append(width)
        values = values.flatten()
    out = values.to_numpy(zero_copy_only=False).astype(np.float64)
    return out.reshape(len(arr), *shape)


def aggregate_episode_stats(table: pa.Table) -> dict[str, dict[str, np.ndarray]]:
    """``stats.json`` content from the ``stats/<feature>/<stat>`` columns of an episodes table."""
    cols: dict[str, dict[str, pa.ChunkedArray]] = defaultdict(dict)
    for name in table.column_names:
        if name.startswith("stats/"):
            feature, stat = name[len("stats/") :].rsplit("/", 1)
            cols[feature][stat] = table[name]
    out: dict[str, dict[str, np.ndarray]] = {}
    for feature, stats in cols.items():
        if "count" not in stats or "mean" not in stats:
            continue
        count = _column_array(stats["count"]).reshape(-1)
        total = count.sum()
        if total <= 0:
            continue
        mean_i = _column_array(stats["mean"])
        w = count.reshape(-1, *([1] * (mean_i.ndim - 1)))
        mean = (w * mean_i).sum(0) / total
        res: dict[str, np.ndarray] = {}
        if "min" in stats:
            mn = _column_array(stats["min"]).min(0)
            res["min"] = mn.astype(np.int64) if _int_leaf(stats["min"].type) else mn
        if "max" in stats:
            mx = _column_array(stats["max"]).max(0)
            res["max"] = mx.astype(np.int64) if _int_leaf(stats["max"].type) else mx
        res["mean"] = mean
        if "std" in stats:
            std_i = _column_array(stats["std"])
            var = (w * (std_i**2 + (mean_i - mean) ** 2)).sum(0) / total
            res["std"] = np.sqrt(var)
        res["count"] = np.array([int(total)], dtype=np.int64)
        for stat, col in stats.items():
            if stat.startswith("q") and stat[1:].isdigit():
                res[stat] = (w * _column_array(col)).sum(0) / total
        out[feature] = res
    return out


def _int_leaf(t: pa.DataType) -> bool:
    while pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        t = t.value_type
    return pa.types.is_integer(t)
