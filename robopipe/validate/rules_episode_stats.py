"""Per-episode stats in meta/episodes against the data rows (core layer)."""

from __future__ import annotations

import numpy as np

from robopipe.validate.context import DatasetContext
from robopipe.validate.findings import FindingCollector


def check_episode_stats(
    ctx: DatasetContext,
    out: FindingCollector,
    rel: str,
    cols: dict[str, np.ndarray],
    positions: dict[int, int],
    starts: np.ndarray,
    stops: np.ndarray,
    run_eps: np.ndarray,
) -> None:
    """Per-episode min/max/count in meta/episodes must equal what the data says (numeric features)."""
    if ctx.episodes is None:
        return
    rows = np.array([positions.get(int(e), -1) for e in run_eps])
    keep = rows >= 0
    if not keep.any():
        return
    for key, m in cols.items():
        if m.shape[0] == 0:
            continue
        for stat, fn in (("min", np.minimum.reduceat), ("max", np.maximum.reduceat)):
            stored = ctx.episode_stat(key, stat)
            if stored is None or stored.shape[1] != m.shape[1]:
                continue
            with np.errstate(invalid="ignore"):
                got = fn(m.astype(np.float64), starts, axis=0)
            want = stored[rows[keep]]
            got = got[keep]
            finite = np.isfinite(got) & np.isfinite(want)
            diff = finite & ~np.isclose(got, want, rtol=1e-6, atol=1e-6)
            for j in np.flatnonzero(diff.any(axis=1))[:20]:
                d = int(np.flatnonzero(diff[j])[0])
                out.add(
                    "RP506",
                    f"per-episode stats {stat} differs from the data",
                    file=rel,
                    episode=int(run_eps[keep][j]),
                    feature=key,
                    expected=f"[{d}]={got[j, d]:.6g}",
                    actual=f"[{d}]={want[j, d]:.6g}",
                )
        count = ctx.episode_stat(key, "count")
        if count is not None and count.shape[1] == 1 and key not in ("timestamp",):
            lengths = (stops - starts)[keep]
            stored_c = count[rows[keep], 0]
            for j in np.flatnonzero(stored_c != lengths)[:20]:
                out.add(
                    "RP506",
                    "per-episode stats count differs from the episode's rows",
                    file=rel,
                    episode=int(run_eps[keep][j]),
                    feature=key,
                    expected=str(int(lengths[j])),
                    actual=str(int(stored_c[j])),
                )
