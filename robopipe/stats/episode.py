"""Per-episode statistics: LeRobot's per-episode format plus a mergeable sketch (core layer).

:func:`compute_episode_stats` gives what LeRobot 0.4.4's ``compute_episode_stats`` stores in
``meta/episodes`` for numeric features (same keys, shapes, min/max/count, population std, and the
5000-bin histogram quantiles reproduced exactly, see :mod:`robopipe.stats.lerobot_math`). Mean and
std are computed in float64 (two-pass) and then cast to LeRobot's output dtype, so they are at least
as accurate as LeRobot's own ``sqrt(E[x²] - E[x]²)`` in the data dtype.

To keep the per-episode cost low, columns of the same dtype and length are stacked and handled
by one set of vectorised numpy calls (no Python loop over dimensions or quantiles).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from robopipe.errors import NonFiniteValuesError, StatsError
from robopipe.format.features import FeatureSpec
from robopipe.stats.image import ImageStatsAccumulator
from robopipe.stats.lerobot_math import QUANTILE_KEYS, sorted_quantiles
from robopipe.stats.sketch import QuantileSketch
from robopipe.stats.values import DatasetStats, FeatureStats

if TYPE_CHECKING:  # depth.py builds on this module
    from robopipe.stats.depth import DepthStatsAccumulator

log = logging.getLogger(__name__)

OnNonFinite = Literal["raise", "skip"]
_ORDER = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)


@dataclass(frozen=True)
class _Prepared:
    key: str
    matrix: np.ndarray  # (rows, D): what LeRobot's RunningQuantileStats sees
    shape: tuple[int, ...]  # output shape of the non-count stats
    frames: int  # LeRobot's count
    raw: np.ndarray  # the column as given (for LeRobot's 1-frame multi-dim rule)


@dataclass(frozen=True)
class EpisodeSummary:
    """Both results of one episode.

    Attributes:
        lerobot: feature -> LeRobot per-episode stats (numeric and image/video features), ready for
            the ``stats/*`` columns of ``meta/episodes``.
        sketch: mergeable :class:`DatasetStats` of the same data (stored in the sketch side files).
    """

    lerobot: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    sketch: DatasetStats = field(default_factory=DatasetStats)


def _prepare(key: str, data: Any, spec: FeatureSpec) -> _Prepared:
    arr = np.asarray(data)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise StatsError(
            f"feature {key!r}: no frames in this episode (shape {arr.shape}); cannot compute stats"
        )
    t = arr.shape[0]
    expected = tuple(spec.shape)
    got = arr.shape[1:]
    if got != expected and not (expected == (1,) and got == ()):
        raise StatsError(
            f"feature {key!r}: column has per-frame shape {got}, expected {expected} from info.json features"
        )
    if arr.dtype.kind not in "biuf":
        raise StatsError(f"feature {key!r}: dtype {arr.dtype} is not numeric (info.json says {spec.dtype!r})")
    if arr.ndim == 1:
        return _Prepared(key, arr.reshape(-1, 1), (1,), t, arr)
    if arr.ndim == 2:
        return _Prepared(key, arr, (arr.shape[1],), t, arr)
    # LeRobot reshapes (T, a, ..., b) to (-1, b): statistics over the last axis only.
    return _Prepared(key, arr.reshape(-1, arr.shape[-1]), (arr.shape[-1],), t, arr)


def _mean_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """dtype of ``np.mean`` over ``dtype`` data (what LeRobot stores for mean/std)."""
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _block_stats(x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """LeRobot stats and sketch parts of a finite ``(rows, D)`` block (one dtype), vectorised over D."""
    rows = x.shape[0]
    s = np.sort(x, axis=0)
    mean = x.mean(axis=0, dtype=np.float64)
    dev = x - mean
    m2 = np.einsum("ij,ij->j", dev, dev) if rows > 1 else np.zeros(x.shape[1])
    md = _mean_dtype(x.dtype)
    mean_out = mean.astype(md)
    lr: dict[str, np.ndarray] = {
        "min": s[0].copy(),
        "max": s[-1].copy(),
        "mean": mean_out,
        "std": np.sqrt(m2 / rows).astype(md),
    }
    if rows >= 2:
        lr.update(dict(zip(QUANTILE_KEYS, sorted_quantiles(s))))
    else:  # LeRobot's _compute_basic_stats: every quantile is the mean
        lr.update({k: mean_out.copy() for k in QUANTILE_KEYS})
    parts = {
        "n": np.full(x.shape[1], rows, dtype=np.int64),
        "mean": mean,
        "m2": m2,
        "min": s[0].astype(np.float64),
        "max": s[-1].astype(np.float64),
        "sketch_sorted": s,
    }
    return lr, parts


def _finalize(
    p: _Prepared, lr: dict[str, np.ndarray], parts: dict[str, Any], sketch: QuantileSketch
) -> tuple[dict[str, np.ndarray], FeatureStats]:
    out = {k: lr[k].reshape(p.shape) for k in lr}
    out["count"] = np.array([p.frames], dtype=np.int64)
    if p.raw.ndim >= 3 and p.frames < 2:
        # LeRobot's <2-rows path reduces axis 0 only: stats keep the per-frame shape.
        row = p.raw[0]
        md = _mean_dtype(row.dtype)
        out = {
            "min": row.copy(),
            "max": row.copy(),
            "mean": row.astype(md),
            "std": np.zeros_like(row, dtype=md),
            "count": out["count"],
        }
        out.update({k: row.astype(md) for k in QUANTILE_KEYS})
    fs = FeatureStats(
        shape=p.shape,
        count=p.frames,
        n=parts["n"],
        mean=parts["mean"],
        m2=parts["m2"],
        min=parts["min"],
        max=parts["max"],
        integer=p.matrix.dtype.kind in "biu",
        sketch=sketch,
    )
    return {k: out[k] for k in _ORDER}, fs


def _skip_nonfinite(p: _Prepared) -> tuple[dict[str, np.ndarray], FeatureStats]:
    """Slow path: per-dimension stats of the finite values only."""
    x = p.matrix
    d = x.shape[1]
    md = _mean_dtype(x.dtype)
    lr = {
        k: np.full(d, np.nan, dtype=md if k in ("mean", "std") else np.float64)
        for k in ("mean", "std", *QUANTILE_KEYS)
    }
    lr["min"] = np.full(d, np.nan, dtype=x.dtype)
    lr["max"] = np.full(d, np.nan, dtype=x.dtype)
    parts: dict[str, Any] = {
        "n": np.zeros(d, np.int64),
        "mean": np.zeros(d),
        "m2": np.zeros(d),
        "min": np.full(d, np.inf),
        "max": np.full(d, -np.inf),
    }
    finite_cols = []
    for j in range(d):
        col = x[:, j][np.isfinite(x[:, j])]
        finite_cols.append(col)
        if col.size == 0:
            continue
        sub_lr, sub = _block_stats(col.reshape(-1, 1))
        for k, v in sub_lr.items():
            lr[k][j] = v[0]
        for k in ("n", "mean", "m2", "min", "max"):
            parts[k][j] = sub[k][0]
    return _finalize(p, lr, parts, QuantileSketch.from_values(finite_cols))


def _nonfinite_message(p: _Prepared, bad: np.ndarray) -> str:
    per_dim = bad.sum(axis=0)
    dims = ", ".join(f"dim {i}: {int(c)}" for i, c in enumerate(per_dim) if c)
    return f"feature {p.key!r}: {int(per_dim.sum())} NaN/Inf values ({dims})"


def _numeric(
    columns: Mapping[str, Any], features: Mapping[str, FeatureSpec], on_nonfinite: OnNonFinite
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, FeatureStats]]:
    if on_nonfinite not in ("raise", "skip"):
        raise StatsError(f"on_nonfinite must be 'raise' or 'skip', got {on_nonfinite!r}")
    prepared: list[_Prepared] = []
    for key, data in columns.items():
        spec = features.get(key)
        if spec is None:
            raise StatsError(f"column {key!r} has no feature spec (known features: {sorted(features)})")
        if not spec.is_numeric:
            continue
        prepared.append(_prepare(key, data, spec))

    # NaN/Inf: collect every offending feature before deciding.
    slow: set[str] = set()
    problems = []
    for p in prepared:
        if p.matrix.dtype.kind == "f":
            fin = np.isfinite(p.matrix)
            if not fin.all():
                problems.append(_nonfinite_message(p, ~fin))
                slow.add(p.key)
    if problems and on_nonfinite == "raise":
        raise NonFiniteValuesError(
            "NaN/Inf values in numeric features: "
            + "; ".join(problems)
            + ". Fix the source data, or pass on_nonfinite='skip' (CLI: --skip-nonfinite) to ignore those values."
        )
    if problems:
        log.warning("skipping non-finite values: %s", "; ".join(problems))

    lerobot: dict[str, dict[str, np.ndarray]] = {}
    sketches: dict[str, FeatureStats] = {}
    groups: dict[tuple[str, int], list[_Prepared]] = {}
    for p in prepared:
        if p.key in slow:
            lerobot[p.key], sketches[p.key] = _skip_nonfinite(p)
        else:
            groups.setdefault((p.matrix.dtype.str, p.matrix.shape[0]), []).append(p)
    for members in groups.values():
        block = (
            members[0].matrix if len(members) == 1 else np.concatenate([m.matrix for m in members], axis=1)
        )
        lr, parts = _block_stats(block)
        sk = QuantileSketch.from_sorted(parts["sketch_sorted"])
        start = 0
        for p in members:
            d = p.matrix.shape[1]
            sl = slice(start, start + d)
            start += d
            sub_lr = {k: v[sl] for k, v in lr.items()}
            sub_parts = {k: parts[k][sl] for k in ("n", "mean", "m2", "min", "max")}
            sub_sketch = sk if len(members) == 1 else _slice_sketch(sk, sl)
            lerobot[p.key], sketches[p.key] = _finalize(p, sub_lr, sub_parts, sub_sketch)
    order = [p.key for p in prepared]
    return {k: lerobot[k] for k in order}, {k: sketches[k] for k in order}


def _slice_sketch(sk: QuantileSketch, sl: slice) -> QuantileSketch:
    shift = 20
    dims = sk.ckeys >> shift
    lo, hi = np.searchsorted(dims, [sl.start, sl.stop])
    keys = sk.ckeys[lo:hi] - (np.int64(sl.start) << shift)
    return QuantileSketch(sk.scheme, sl.stop - sl.start, keys, sk.counts[lo:hi])


def compute_episode_stats(
    columns: Mapping[str, np.ndarray],
    features: Mapping[str, FeatureSpec],
    *,
    on_nonfinite: OnNonFinite = "raise",
) -> dict[str, dict[str, np.ndarray]]:
    """LeRobot 0.4.4 per-episode stats of every numeric column (string/image/video are skipped).

    Args:
        columns: feature -> ``(T, *shape)`` array; shape-(1,) features may be ``(T,)`` or ``(T, 1)``.
        features: the dataset's feature specs (``info.json``).
        on_nonfinite: ``"raise"`` raises :class:`NonFiniteValuesError` naming every feature, count and
            dimension with NaN/Inf; ``"skip"`` leaves those values out (per dimension).

    Returns:
        ``{feature: {min, max, mean, std, count, q01, q10, q50, q90, q99}}``; vectors ``(D,)``,
        scalars ``(1,)``, ``count = [T]``.
    """
    return _numeric(columns, features, on_nonfinite)[0]


def summarize_episode(
    columns: Mapping[str, np.ndarray],
    features: Mapping[str, FeatureSpec],
    images: Mapping[str, ImageStatsAccumulator | DepthStatsAccumulator] | None = None,
    *,
    on_nonfinite: OnNonFinite = "raise",
) -> EpisodeSummary:
    """Per-episode LeRobot stats and the mergeable sketch, for numeric columns and camera accumulators.

    Image/video features come from ``images`` (their columns in ``columns``, if any, are ignored);
    their quantiles come from the exact 256-level histograms of LeRobot's sampled frames.
    """
    lerobot, sketch = _numeric(columns, features, on_nonfinite)
    for key, acc in (images or {}).items():
        spec = features.get(key)
        if spec is None or not spec.is_visual:
            raise StatsError(f"image accumulator {key!r} is not an image/video feature of this dataset")
        lerobot[key] = acc.result()
        sketch[key] = acc.sketch()
    order = [k for k in features if k in lerobot]
    return EpisodeSummary(
        lerobot={k: lerobot[k] for k in order}, sketch=DatasetStats({k: sketch[k] for k in order})
    )
