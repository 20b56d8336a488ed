"""K-way merge of many :class:`~robopipe.stats.DatasetStats` at once (core layer).

Merging thousands of per-episode sketches pairwise re-sorts the growing bucket arrays at every step;
merging them in one pass (one concatenation and one sort per feature) gives the same counts, min,
max and sketch exactly, and mean/variance equal to the pairwise result up to float64 rounding
(pooled with the k-way form of Chan's formula). Used for the global stats of an edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from robopipe.errors import StatsError
from robopipe.stats import DatasetStats, FeatureStats, QuantileSketch


def merge_features(parts: Sequence[FeatureStats]) -> FeatureStats:
    """Pool ``parts`` of one feature (same shape and sketch scheme)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    for p in parts[1:]:
        if p.shape != first.shape or p.sketch.scheme != first.sketch.scheme:
            raise StatsError(
                f"cannot merge stats of shape {p.shape}/{p.sketch.scheme} with {first.shape}/{first.sketch.scheme}"
            )
    n_i = np.stack([p.n for p in parts])
    mean_i = np.stack([p.mean for p in parts])
    n = n_i.sum(0)
    nf = n.astype(np.float64)
    w = n_i.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, (w * mean_i).sum(0) / nf, 0.0)
    dev = np.where(n_i > 0, mean_i - mean, 0.0)
    m2 = np.stack([p.m2 for p in parts]).sum(0) + (w * dev * dev).sum(0)
    keys = np.concatenate([p.sketch.ckeys for p in parts])
    counts = np.concatenate([p.sketch.counts for p in parts])
    order = np.argsort(keys, kind="stable")
    sketch = (
        QuantileSketch._from_sorted_composite(
            first.sketch.scheme, first.sketch.dims, keys[order], counts[order]
        )
        if keys.size
        else QuantileSketch.empty(first.sketch.dims, first.sketch.scheme)
    )
    return FeatureStats(
        first.shape,
        sum(p.count for p in parts),
        n,
        mean,
        m2,
        np.stack([p.min for p in parts]).min(0),
        np.stack([p.max for p in parts]).max(0),
        all(p.integer for p in parts),
        sketch,
    )


def merge_many(values: Iterable[DatasetStats]) -> DatasetStats:
    """Feature-wise k-way merge (union of features, sorted keys like ``DatasetStats.merge``)."""
    by_feature: dict[str, list[FeatureStats]] = {}
    for v in values:
        for k, fs in v.items():
            by_feature.setdefault(k, []).append(fs)
    return DatasetStats({k: merge_features(by_feature[k]) for k in sorted(by_feature)})
