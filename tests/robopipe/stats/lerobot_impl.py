"""A verbatim copy of LeRobot 0.4.4's numeric quantile estimator, used as an oracle in tests.

Source: ``huggingface/lerobot:src/lerobot/datasets/compute_stats.py@v0.4.4`` (RunningQuantileStats,
single ``update``). Kept here so the exactness tests also run without the reference interpreter; the
``lerobot``-marked tests compare against the real package.
"""

from __future__ import annotations

import numpy as np

QUANTILES = [0.01, 0.10, 0.50, 0.90, 0.99]


def lerobot_quantiles(batch: np.ndarray, num_bins: int = 5000) -> list[np.ndarray]:
    batch = batch.reshape(-1, batch.shape[-1])
    count = batch.shape[0]
    mins, maxs = np.min(batch, axis=0), np.max(batch, axis=0)
    out = []
    hists, edges_all = [], []
    for i in range(batch.shape[1]):
        edges = np.linspace(mins[i] - 1e-10, maxs[i] + 1e-10, num_bins + 1)
        hist, _ = np.histogram(batch[:, i], bins=edges)
        hists.append(np.zeros(num_bins) + hist)
        edges_all.append(edges)
    for q in QUANTILES:
        target = q * count
        vals = []
        for hist, edges in zip(hists, edges_all):
            cumsum = np.cumsum(hist)
            idx = np.searchsorted(cumsum, target)
            if idx == 0:
                vals.append(edges[0])
                continue
            if idx >= len(cumsum):
                vals.append(edges[-1])
                continue
            before = cumsum[idx - 1]
            in_bin = cumsum[idx] - before
            if in_bin == 0:
                vals.append(edges[idx])
                continue
            vals.append(edges[idx] + (target - before) / in_bin * (edges[idx + 1] - edges[idx]))
        out.append(np.array(vals, dtype=np.float64))
    return out
