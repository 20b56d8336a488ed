"""Value rules on numeric data columns: NaN/Inf and configured bounds (core layer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from robopipe.errors import ConfigError
from robopipe.format.features import DEFAULT_FEATURES
from robopipe.validate.bounds import FeatureBounds
from robopipe.validate.context import DatasetContext
from robopipe.validate.findings import FindingCollector
from robopipe.validate.rows import per_episode


def check_values(
    ctx: DatasetContext,
    out: FindingCollector,
    rel: str,
    cols: dict[str, np.ndarray],
    bounds: Mapping[str, FeatureBounds],
) -> None:
    if "episode_index" not in cols:
        return
    ep = cols["episode_index"][:, 0].astype(np.int64)
    fi = cols["frame_index"][:, 0].astype(np.int64) if "frame_index" in cols else np.arange(ep.size)
    for key, m in cols.items():
        if key in DEFAULT_FEATURES and key != "timestamp":
            continue
        if m.dtype.kind == "f":
            finite = np.isfinite(m)
            if not finite.all():
                bad_rows = ~finite.all(axis=1)
                per_episode(
                    out,
                    "RP311",
                    "NaN/Inf values",
                    bad_rows,
                    ep,
                    fi,
                    rel,
                    _const("finite"),
                    _values_at(m, ~finite),
                    key,
                )
        b = bounds.get(key)
        if b is not None:
            try:
                lo, hi = b.arrays(m.shape[1])
            except ConfigError as exc:
                if not out.has("RP312"):
                    out.add(
                        "RP312", str(exc), feature=key, expected=f"{m.shape[1]} values", actual="bounds file"
                    )
                continue
            with np.errstate(invalid="ignore"):
                viol = (m < lo) | (m > hi)
            if viol.any():
                per_episode(
                    out,
                    "RP312",
                    "values outside the configured bounds",
                    np.asarray(viol.any(axis=1)),
                    ep,
                    fi,
                    rel,
                    _limits_at(lo, hi, viol),
                    _values_at(m, viol),
                    key,
                )


def _const(text: str) -> Callable[[int], str]:
    return lambda r: text


def _values_at(m: np.ndarray, mask: np.ndarray) -> Callable[[int], str]:
    return lambda r: _dims_values(m[r], mask[r])


def _limits_at(lo: np.ndarray, hi: np.ndarray, mask: np.ndarray) -> Callable[[int], str]:
    return lambda r: _dims_values(lo, mask[r], hi)


def _dims_values(values: np.ndarray, mask: np.ndarray, hi: np.ndarray | None = None) -> str:
    dims = np.flatnonzero(mask)[:6]
    if hi is None:
        return ", ".join(f"[{d}]={values[d]:.6g}" for d in dims)
    return ", ".join(f"[{d}] in [{values[d]:.6g}, {hi[d]:.6g}]" for d in dims)
