"""Signals that compare episodes with the rest of the dataset: length, near-duplicates, z-scores (core)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from robopipe.quality.config import QualityConfig
from robopipe.quality.models import Finding


def length_findings(
    lengths: Mapping[int, int], fps: int, cfg: QualityConfig
) -> dict[int, tuple[float, list[Finding]]]:
    """Robust z-score of each episode length and an outlier finding where it is far off."""
    eps = sorted(lengths)
    if not eps:
        return {}
    n = np.array([lengths[e] for e in eps], np.float64)
    med = float(np.median(n))
    scale = max(1.4826 * float(np.median(np.abs(n - med))), 0.1 * med, 1.0)
    out: dict[int, tuple[float, list[Finding]]] = {}
    for e, x in zip(eps, n):
        z = (x - med) / scale
        f: list[Finding] = []
        if x < cfg.length.min_seconds * fps:
            f.append(
                Finding(kind="length", level="warning", message=f"only {int(x)} frames ({x / fps:.2f}s)")
            )
        elif len(eps) >= 5 and abs(z) > cfg.length.mad_k:
            f.append(
                Finding(
                    kind="length",
                    level="warning",
                    message=f"{int(x)} frames vs a median of {med:.0f} ({z:+.1f} robust deviations)",
                )
            )
        out[e] = (float(z), f)
    return out


def duplicate_findings(
    signatures: Mapping[int, np.ndarray], lengths: Mapping[int, int], cfg: QualityConfig
) -> dict[int, list[Finding]]:
    """Later episodes whose signature is within ``duplicates.max_distance`` of an earlier one.

    Candidates are episodes of about the same length (within 2 %), compared in length order within a
    bounded window, so the cost grows like ``n log n``, not ``n²``.
    """
    eps = sorted((lengths[e], e) for e in signatures if signatures[e].size)
    out: dict[int, list[Finding]] = {}
    window = 256
    by_shape: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for n, e in eps:
        by_shape.setdefault(signatures[e].shape, []).append((n, e))
    for group in by_shape.values():
        mat = np.stack([signatures[e] for _, e in group])
        sq = np.einsum("ij,ij->i", mat, mat)
        size = mat.shape[1]
        lens = np.array([n for n, _ in group], np.float64)
        for i in range(1, len(group)):
            lo = max(0, i - window)
            near = lens[lo:i] >= 0.98 * lens[i]
            if not near.any():
                continue
            # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix-vector product per episode
            d2 = np.maximum(sq[lo:i] + sq[i] - 2.0 * (mat[lo:i] @ mat[i]), 0.0) / size
            dist = np.sqrt(d2)
            hits = np.flatnonzero(near & (dist <= cfg.duplicates.max_distance))
            for h in hits:
                e_i, e_j = group[i][1], group[lo + int(h)][1]
                first, dup = sorted((e_i, e_j))
                out.setdefault(dup, []).append(
                    Finding(
                        kind="duplicate_episode",
                        level="error",
                        message=f"near-duplicate of episode {first} (signature distance {dist[h]:.4f})",
                    )
                )
    return out


def zscore_findings(
    means: Mapping[int, Mapping[str, np.ndarray]],
    ranges: Mapping[str, np.ndarray],
    names: Mapping[str, Sequence[str]],
    cfg: QualityConfig,
) -> dict[int, tuple[float, list[Finding]]]:
    """Per feature dimension: episodes whose mean is ``zscore.mad_k`` robust deviations off the others."""
    eps = sorted(means)
    out: dict[int, tuple[float, list[Finding]]] = {e: (0.0, []) for e in eps}
    if len(eps) < 5:
        return out
    for key in sorted({k for m in means.values() for k in m}):
        rows = [e for e in eps if key in means[e]]
        x = np.stack([np.asarray(means[e][key], np.float64).ravel() for e in rows])
        med = np.median(x, axis=0)
        floor = 0.02 * ranges[key] if key in ranges else 1e-9
        scale = np.maximum(1.4826 * np.median(np.abs(x - med), axis=0), floor)
        z = (x - med) / scale
        for r, e in enumerate(rows):
            worst = int(np.argmax(np.abs(z[r])))
            zmax = float(abs(z[r, worst]))
            best, found = out[e]
            if zmax > abs(best):
                best = float(z[r, worst])
            if zmax > cfg.zscore.mad_k:
                label = names.get(key, [])
                dim = str(label[worst]) if worst < len(label) else f"{key}[{worst}]"
                found.append(
                    Finding(
                        kind="feature_outlier",
                        level="info",
                        message=f"mean of {dim} ({key}) is {z[r, worst]:+.1f} robust deviations from the dataset",
                        key=key,
                    )
                )
            out[e] = (best, found)
    return out
