"""Rules on ``meta/stats.json`` and its agreement with the per-episode stats (core layer).

Aggregation follows LeRobot (reference §6.3): count = sum, min/max = envelope, mean = count-weighted.
Quantiles are not compared (their aggregation is an approximation that changed between versions).
"""

from __future__ import annotations

import numpy as np

from robopipe.format import layout
from robopipe.format.features import FeatureSpec
from robopipe.validate.context import DatasetContext
from robopipe.validate.findings import FindingCollector, Severity

REQUIRED_STATS = ("min", "max", "mean", "std", "count")
QUANTILE_STATS = ("q01", "q10", "q50", "q90", "q99")
S = layout.STATS_PATH


def expected_stat_shape(spec: FeatureSpec) -> tuple[int, ...]:
    """Shape of every stat except ``count`` for a feature (reference §6.1)."""
    if spec.is_visual:
        return (int(spec.shape[2]) if len(spec.shape) == 3 else 3, 1, 1)
    if len(spec.shape) <= 1:
        return (int(spec.shape[0]) if spec.shape else 1,)
    return (int(spec.shape[-1]),)


def check_stats(ctx: DatasetContext, out: FindingCollector) -> None:
    """Presence and shapes of stats.json entries, non-finite values, and global vs per-episode."""
    if ctx.info is None or ctx.stats is None:
        return
    for key, spec in ctx.features.items():
        if spec.is_text:
            continue
        fs = ctx.stats.get(key)
        if fs is None:
            out.add(
                "RP503",
                "feature has no entry in stats.json",
                file=S,
                feature=key,
                expected="stats",
                actual="missing",
            )
            continue
        missing = [s for s in REQUIRED_STATS if s not in fs]
        if missing:
            out.add(
                "RP503",
                f"stats.json lacks {missing}",
                file=S,
                feature=key,
                expected=str(list(REQUIRED_STATS)),
                actual=str(sorted(fs)),
            )
        missing_q = [s for s in QUANTILE_STATS if s not in fs]
        if missing_q and not missing:
            out.add(
                "RP503",
                f"stats.json lacks quantiles {missing_q} (older datasets; normalisation by quantiles fails)",
                file=S,
                feature=key,
                severity=Severity.INFO,
                expected=str(list(QUANTILE_STATS)),
                actual="missing",
            )
        want = expected_stat_shape(spec)
        for stat, value in fs.items():
            shape = tuple(value.shape)
            exp = (1,) if stat == "count" else want
            ok = shape == exp or (spec.is_visual and stat != "count" and shape in ((3, 1, 1), (1, 1, 1)))
            if not ok:
                out.add(
                    "RP504",
                    f"stats {stat} has the wrong shape",
                    file=S,
                    feature=key,
                    expected=str(exp),
                    actual=str(shape),
                )
            elif not np.isfinite(value).all():
                out.add(
                    "RP507",
                    f"stats {stat} holds NaN/Inf",
                    file=S,
                    feature=key,
                    expected="finite",
                    actual=np.array2string(value.reshape(-1)[:6], precision=4),
                )
        _check_against_episodes(ctx, out, key, spec, fs)


def _check_against_episodes(
    ctx: DatasetContext, out: FindingCollector, key: str, spec: FeatureSpec, fs: dict[str, np.ndarray]
) -> None:
    ep = {s: ctx.episode_stat(key, s) for s in ("min", "max", "mean", "count")}
    if any(v is None for v in ep.values()) or ctx.episodes is None or ctx.episodes.num_rows == 0:
        return
    counts = ep["count"][:, 0]  # type: ignore[index]
    checks: list[tuple[str, np.ndarray]] = [
        ("count", np.array([counts.sum()])),
        ("min", ep["min"].min(axis=0)),  # type: ignore[union-attr]
        ("max", ep["max"].max(axis=0)),  # type: ignore[union-attr]
    ]
    if counts.sum() > 0:
        mean = ep["mean"]
        if mean is not None:
            checks.append(("mean", (mean * counts[:, None]).sum(axis=0) / counts.sum()))
    for stat, agg in checks:
        if stat not in fs:
            continue
        glob = fs[stat].reshape(-1).astype(np.float64)
        if glob.size != agg.size:
            continue  # RP504 / episode shape problems are reported elsewhere
        rtol = 1e-4 if stat == "mean" else 1e-6
        with np.errstate(invalid="ignore"):
            bad = ~np.isclose(glob, agg, rtol=rtol, atol=1e-6)
        if bad.any():
            d = int(np.flatnonzero(bad)[0])
            out.add(
                "RP505",
                f"stats.json {stat} disagrees with the per-episode stats",
                file=S,
                feature=key,
                expected=f"[{d}]={agg[d]:.6g} (from {ctx.episodes.num_rows} episodes)",
                actual=f"[{d}]={glob[d]:.6g}",
                count=int(bad.sum()),
            )
