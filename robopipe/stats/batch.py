"""Per-episode statistics of every episode of a whole data file at once (core layer).

Same results as :func:`robopipe.stats.compute_episode_stats` / :func:`summarize_episode` on each
episode (quantiles and sketches bit for bit; mean/std to float64 rounding), but each step runs once
over ``(episodes, quantiles, dims)`` arrays instead of once per episode: per-episode sorts are the
only Python loop. The count-in-bin searches of LeRobot's histogram rule become a vectorised
bisection inside each episode's sorted segment.

:func:`file_numeric_stats` raises :class:`NeedsPerEpisodePath` when a block holds NaN/Inf or a
feature has rank >= 2; the caller then uses the per-episode functions (which raise or skip).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from robopipe.format.features import FeatureSpec
from robopipe.stats.lerobot_math import QUANTILE_KEYS, edge_dtype, histogram_quantiles
from robopipe.stats.sketch import _DIM_SHIFT, F32_SCHEME, QuantileSketch, _uint_dtype, float_keys
from robopipe.stats.values import DatasetStats, FeatureStats, pack_blob


class NeedsPerEpisodePath(Exception):
    """Internal signal: this file must be processed episode by episode."""


@dataclass(frozen=True)
class FileStats:
    """Results for all B episodes of a file.

    Attributes:
        lerobot: feature -> stat -> array ``(B, *stat_shape)`` (``count``: ``(B, 1)``).
        blobs: per episode, the serialised :class:`DatasetStats` of its numeric features.
        total: feature -> :class:`FeatureStats` of the whole file.
    """

    lerobot: dict[str, dict[str, np.ndarray]]
    blobs: list[bytes]
    total: dict[str, FeatureStats]

    def episode(self, e: int) -> DatasetStats:
        """Episode ``e``'s sketch as an object."""
        return DatasetStats.from_bytes(self.blobs[e])


def _segment_count_less(f: np.ndarray, seg: np.ndarray, n: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``count(x < e)`` inside each (episode, dim) sorted segment of ``f``; ``e`` is ``(B, Q, D)``."""
    lo = np.zeros(e.shape, dtype=np.int64)
    hi = np.broadcast_to(n[:, None, None], e.shape).astype(np.int64)
    base = seg[:, None, :]
    last = f.shape[0] - 1
    for _ in range(int(n.max()).bit_length() + 1):
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        less = f[np.minimum(base + mid, last)] < e
        lo = np.where(active & less, mid + 1, lo)
        hi = np.where(active & ~less, mid, hi)
    return lo


def _block(x: np.ndarray, off: np.ndarray, n: np.ndarray) -> dict[str, Any]:
    """Vectorised stats of one ``(N, D)`` block (one compute dtype) split into episodes.

    The sorted values are laid out episode by episode, dimension by dimension (``f``), so every
    (episode, dim) segment is contiguous: order statistics are plain gathers and the sketch's run
    lengths come out already grouped per episode.
    """
    big_n, d = x.shape
    f = np.empty(big_n * d, dtype=x.dtype)
    for a, t in zip(off.tolist(), n.tolist()):
        f[a * d : (a + t) * d] = np.sort(x[a : a + t].T, axis=1).ravel()
    seg = off[:, None] * d + np.arange(d)[None, :] * n[:, None]  # (B, D) segment starts
    mins, maxs = f[seg], f[seg + n[:, None] - 1]
    mean = np.add.reduceat(x, off, axis=0, dtype=np.float64) / n[:, None]
    dev = x - np.repeat(mean, n, axis=0)
    dev *= dev
    m2 = np.add.reduceat(dev, off, axis=0)
    del dev
    cmp = f.astype(np.result_type(f.dtype, edge_dtype(f.dtype)), copy=False)
    quants = histogram_quantiles(
        mins,
        maxs,
        n,
        lambda m: f[seg[:, None, :] + (m - 1)[:, :, None]],
        lambda e: _segment_count_less(cmp, seg, n, e),
    )
    return {
        "f": f,
        "seg": seg,
        "mins": mins,
        "maxs": maxs,
        "mean": mean,
        "m2": m2,
        "q": np.stack(quants, axis=1),
    }


def _episode_sketches(
    f: np.ndarray, seg: np.ndarray, off: np.ndarray, d: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length bucket counts of every (episode, dim) segment, in (episode, dim, key) order.

    Returns ``(bounds, ckeys, counts)``; episode ``e`` owns runs ``bounds[e]:bounds[e+1]``.
    """
    keys = float_keys(f)
    brk = np.ones(keys.shape, dtype=bool)
    brk[1:] = keys[1:] != keys[:-1]
    starts = seg.ravel()
    brk[starts] = True
    pos = np.flatnonzero(brk)
    counts = np.diff(np.append(pos, keys.size)).astype(np.int64)
    dim = (np.searchsorted(starts, pos, side="right") - 1) % d
    ckeys = (dim.astype(np.int64) << _DIM_SHIFT) | keys[pos]
    bounds = np.append(np.searchsorted(pos, off * d), pos.size)
    return bounds, ckeys, counts


def _uint(largest: int) -> np.dtype[Any]:
    return np.dtype(_uint_dtype(largest))


def file_numeric_stats(
    columns: Mapping[str, np.ndarray],
    features: Mapping[str, FeatureSpec],
    lengths: np.ndarray,
) -> FileStats:
    """Stats of every episode of a file; ``columns`` hold the file's rows, episodes contiguous in order."""
    n = np.asarray(lengths, dtype=np.int64)
    off = np.concatenate(([0], np.cumsum(n)[:-1])).astype(np.int64)
    groups: dict[str, list[tuple[str, np.ndarray, np.dtype[Any]]]] = {}
    for key, data in columns.items():
        spec = features[key]
        if not spec.is_numeric:
            continue
        arr = np.asarray(data)
        if arr.ndim > 2 or (arr.ndim == 2 and tuple(spec.shape) != arr.shape[1:]):
            raise NeedsPerEpisodePath(key)
        mat = arr.reshape(len(arr), -1)
        if mat.shape[0] != n.sum():
            raise NeedsPerEpisodePath(key)
        if mat.dtype.kind == "f" and not np.isfinite(mat).all():
            raise NeedsPerEpisodePath(key)
        cdt = mat.dtype if mat.dtype.kind == "f" else np.dtype(np.float64)
        groups.setdefault(cdt.str, []).append((key, mat, mat.dtype))

    lerobot: dict[str, dict[str, np.ndarray]] = {}
    parts: dict[str, _FeatureParts] = {}
    for cdt_str, members in groups.items():
        cdt = np.dtype(cdt_str)
        x = np.concatenate([m.astype(cdt, copy=False) for _, m, _ in members], axis=1)
        r = _block(x, off, n)
        bounds, ckeys, counts = _episode_sketches(r["f"], r["seg"], off, x.shape[1])
        run_ep = np.repeat(np.arange(len(n)), np.diff(bounds))
        start = 0
        for key, mat, odt in members:
            d = mat.shape[1]
            sl = slice(start, start + d)
            start += d
            lerobot[key] = _lerobot_outputs(odt, r, sl, n)
            parts[key] = _FeatureParts.build(key, features[key], odt, r, sl, n, run_ep, ckeys, counts)
    order = [k for k in columns if k in lerobot]
    blobs = _episode_blobs([parts[k] for k in sorted(parts)], n)
    return FileStats({k: lerobot[k] for k in order}, blobs, {k: parts[k].total(n) for k in order})


def _lerobot_outputs(
    odt: np.dtype[Any], r: dict[str, Any], sl: slice, n: np.ndarray
) -> dict[str, np.ndarray]:
    md = odt if odt.kind == "f" else np.dtype(np.float64)
    mean_out = r["mean"][:, sl].astype(md)
    q = r["q"][:, :, sl]
    q = np.where((n < 2)[:, None, None], mean_out[:, None, :].astype(np.float64), q)
    lr: dict[str, np.ndarray] = {
        "min": r["mins"][:, sl].astype(odt),
        "max": r["maxs"][:, sl].astype(odt),
        "mean": mean_out,
        "std": np.sqrt(r["m2"][:, sl] / n[:, None]).astype(md),
        "count": n[:, None].copy(),
    }
    for i, k in enumerate(QUANTILE_KEYS):
        lr[k] = q[:, i, :]
    return lr


@dataclass(frozen=True)
class _FeatureParts:
    """One feature's per-episode arrays, ready to serialise (same layout as ``FeatureStats._parts``)."""

    key: str
    shape: tuple[int, ...]
    integer: bool
    mean: np.ndarray  # (B, d) float64
    m2: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    offsets: np.ndarray  # (B, d + 1) runs per dim, cumulative
    first: np.ndarray  # (B, d) int32 first key per dim
    deltas: np.ndarray  # (R,) key deltas (0 at each dim start)
    counts: np.ndarray  # (R,) run counts
    run_lo: np.ndarray  # (B,) first run of each episode
    dmax: np.ndarray  # (B,) largest delta per episode
    cmax: np.ndarray  # (B,) largest count per episode
    dims: np.ndarray  # (R,) dim of each run
    keys: np.ndarray  # (R,) bucket key of each run

    @classmethod
    def build(
        cls,
        key: str,
        spec: FeatureSpec,
        odt: np.dtype[Any],
        r: dict[str, Any],
        sl: slice,
        n: np.ndarray,
        run_ep: np.ndarray,
        ckeys: np.ndarray,
        counts: np.ndarray,
    ) -> _FeatureParts:
        b, d = len(n), sl.stop - sl.start
        dims_all = ckeys >> _DIM_SHIFT
        sel = (dims_all >= sl.start) & (dims_all < sl.stop)
        dims = dims_all[sel] - sl.start
        keys = ckeys[sel] & ((1 << _DIM_SHIFT) - 1)
        cnt = counts[sel]
        ep = run_ep[sel]
        per = np.bincount(ep * d + dims, minlength=b * d).reshape(b, d)
        offsets = np.zeros((b, d + 1), dtype=np.int64)
        np.cumsum(per, axis=1, out=offsets[:, 1:])
        gstart = (np.cumsum(per.ravel()) - per.ravel()).reshape(b, d)
        deltas = np.zeros(keys.size, dtype=np.int64)
        deltas[1:] = keys[1:] - keys[:-1]
        deltas[gstart.ravel()] = 0
        run_lo = gstart[:, 0]
        return cls(
            key=key,
            shape=(1,) if tuple(spec.shape) in ((1,), ()) else (d,),
            integer=odt.kind in "biu",
            mean=r["mean"][:, sl],
            m2=r["m2"][:, sl],
            mins=r["mins"][:, sl].astype(np.float64),
            maxs=r["maxs"][:, sl].astype(np.float64),
            offsets=offsets,
            first=keys[gstart].astype(np.int32),
            deltas=deltas,
            counts=cnt,
            run_lo=run_lo,
            dmax=np.maximum.reduceat(deltas, run_lo),
            cmax=np.maximum.reduceat(cnt, run_lo),
            dims=dims,
            keys=keys,
        )

    def total(self, n: np.ndarray) -> FeatureStats:
        """Stats of the whole file (pooled moments, exact sketch from the runs)."""
        d = self.mean.shape[1]
        tot_n = int(n.sum())
        mean = (self.mean * n[:, None]).sum(axis=0) / tot_n
        m2 = self.m2.sum(axis=0) + (n[:, None] * (self.mean - mean) ** 2).sum(axis=0)
        mins, maxs = self.mins.min(axis=0), self.maxs.max(axis=0)
        kmin, kmax = float_keys(mins), float_keys(maxs)
        span = int((kmax - kmin).max()) + 1
        if d * span <= 1 << 24:
            idx = self.dims * span + (self.keys - kmin[self.dims])
            c = np.bincount(idx, weights=self.counts, minlength=d * span)
            nz = np.flatnonzero(c)
            dim = nz // span
            ckeys = (dim << _DIM_SHIFT) | (nz % span + kmin[dim])
            sk = QuantileSketch(F32_SCHEME, d, ckeys.astype(np.int64), c[nz].astype(np.int64))
        else:  # very wide key ranges: sort-merge the runs
            comp = (self.dims << _DIM_SHIFT) | self.keys
            order = np.argsort(comp, kind="stable")
            sk = QuantileSketch._from_sorted_composite(F32_SCHEME, d, comp[order], self.counts[order])
        return FeatureStats(
            self.shape, tot_n, np.full(d, tot_n, dtype=np.int64), mean, m2, mins, maxs, self.integer, sk
        )


def _episode_blobs(parts: list[_FeatureParts], n: np.ndarray) -> list[bytes]:
    """``DatasetStats.to_bytes()`` of every episode, assembled from the batch arrays."""
    out = []
    little = np.dtype("<f8")
    for e in range(len(n)):
        head: list[Any] = []
        blobs: list[bytes] = []
        t = int(n[e])
        for p in parts:
            d = p.mean.shape[1]
            lo = int(p.run_lo[e])
            hi = lo + int(p.offsets[e, -1])
            arrays = (
                np.full(d, t, dtype="<i8"),
                p.mean[e].astype(little),
                p.m2[e].astype(little),
                p.mins[e].astype(little),
                p.maxs[e].astype(little),
                p.offsets[e].astype(_uint(int(p.offsets[e, -1]))),
                p.first[e],
                p.deltas[lo:hi].astype(_uint(int(p.dmax[e]))),
                p.counts[lo:hi].astype(_uint(int(p.cmax[e]))),
            )
            head.append(
                [p.key, list(p.shape), t, p.integer, F32_SCHEME, [[a.dtype.str, a.size] for a in arrays]]
            )
            blobs.extend(a.tobytes() for a in arrays)
        out.append(pack_blob(head, blobs))
    return out
