"""Group per-row problems into one finding per episode (core layer)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robopipe.validate.findings import FindingCollector


def per_episode(
    out: FindingCollector,
    code: str,
    message: str,
    mask: np.ndarray,
    ep: np.ndarray,
    fi: np.ndarray,
    rel: str,
    expected: Callable[[int], str],
    actual: Callable[[int], str],
    feature: str | None = None,
) -> None:
    """One finding per episode with rows where ``mask`` is true (located by its first such row's frame)."""
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return
    uniq, first, counts = np.unique(ep[rows], return_index=True, return_counts=True)
    for e, j, c in zip(uniq, first, counts):
        r = int(rows[j])
        out.add(
            code,
            message,
            file=rel,
            episode=int(e),
            frame=int(fi[r]),
            feature=feature,
            expected=expected(r),
            actual=actual(r),
            count=int(c),
        )
