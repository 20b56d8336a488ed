"""A mergeable quantile sketch: sparse per-dimension histograms over fixed, data-independent buckets.

Design (core layer, numpy only):

* Scheme ``"f32m10"`` (numeric features): a value is rounded to float32 and put in the bucket given by
  its sign, exponent and top ``MANTISSA_BITS = 10`` mantissa bits (a log-linear "HDR histogram"
  bucketing, computed with bit operations, no logarithms). Each binade ``[2^e, 2^(e+1))`` has 1024
  buckets of width ``2^(e-10)``, so the bucket midpoint is within ``2^-11·|x|`` of every member.
* Scheme ``"u8"`` (image/video channels): exact histograms of the 256 pixel levels, reported as
  ``level / 255``.

Buckets are the same for every dataset, so merging adds integer counts of equal keys: merges are
deterministic, **exactly** associative and commutative, and the empty sketch is an exact identity.

Quantiles follow ``np.quantile(..., method="linear")``: with ``h = q·(n-1)`` the estimate interpolates
between the bucket representatives of the order statistics ``x_(floor h)`` and ``x_(ceil h)``, clamped
to the exact ``[min, max]`` (rank 0 and rank n-1 return the exact min/max). Error bound:

    |estimate - np.quantile(x, q)| <= ALPHA · max(|x_(floor h)|, |x_(ceil h)|) + ABS_FLOOR,
    ALPHA = 2^-11 + 2^-23 ≈ 4.9e-4,  ABS_FLOOR = 2^-126 ≈ 1.2e-38   (both 0 for the "u8" scheme)

(2^-11 from the bucket width, 2^-23 covers rounding float64 input to float32, ABS_FLOOR covers
float32 subnormals, where buckets have a fixed absolute width). The zero bucket is reported as
exactly 0. Values beyond the float32 range (|x| > 3.4e38) land in the infinity bucket and
are reported as the exact max/min. Size: at most one bucket per distinct value, and at most
2^19 buckets per dimension; a smooth episode of T frames usually needs far fewer than T.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robopipe.errors import StatsError

MANTISSA_BITS = 10
ALPHA = 2.0 ** -(MANTISSA_BITS + 1) + 2.0**-23
ABS_FLOOR = 2.0**-126
_SHIFT = 23 - MANTISSA_BITS
_DIM_SHIFT = 20  # composite key = dim << 20 | bucket key (bucket keys use 19 bits)
_ZERO_KEY = 0x80000000 >> _SHIFT
F32_SCHEME = f"f32m{MANTISSA_BITS}"
U8_SCHEME = "u8"
SCHEMES = (F32_SCHEME, U8_SCHEME)


def float_keys(values: np.ndarray) -> np.ndarray:
    """Bucket key (int64, monotone non-decreasing in the value) of every finite value."""
    u = (np.asarray(values, dtype=np.float32) + np.float32(0.0)).view(np.uint32)  # -0.0 -> +0.0
    # negative: ~u (flip all bits); positive: set the sign bit -> unsigned order == float order
    flip = (np.uint32(0) - (u >> np.uint32(31))) | np.uint32(0x80000000)
    return ((u ^ flip) >> np.uint32(_SHIFT)).astype(np.int64)


def _representatives(keys: np.ndarray, scheme: str) -> np.ndarray:
    """Value reported for every bucket key (float64)."""
    if scheme == U8_SCHEME:
        return keys.astype(np.float64) / 255.0
    lo32 = (keys.astype(np.uint64) << np.uint64(_SHIFT)).astype(np.uint32)
    hi32 = lo32 | np.uint32((1 << _SHIFT) - 1)

    def to_float(k: np.ndarray) -> np.ndarray:
        pos = (k & np.uint32(0x80000000)) != 0
        bits = np.where(pos, k & np.uint32(0x7FFFFFFF), ~k).astype(np.uint32)
        return bits.view(np.float32).astype(np.float64)

    lo, hi = to_float(lo32), to_float(hi32)
    with np.errstate(invalid="ignore", over="ignore"):
        mid = (lo + hi) / 2.0
    mid = np.where(np.isfinite(mid), mid, np.where(np.isnan(lo), hi, lo))
    return np.where(keys == _ZERO_KEY, 0.0, mid)


@dataclass(frozen=True, eq=False)
class QuantileSketch:
    """Sparse bucket counts of ``dims`` dimensions (immutable; arrays are read-only).

    Attributes:
        scheme: bucket scheme, ``"f32m10"`` or ``"u8"``.
        dims: number of dimensions.
        ckeys: sorted composite keys ``dim << 20 | bucket`` (int64).
        counts: count of each key (int64).
    """

    scheme: str
    dims: int
    ckeys: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise StatsError(f"unknown sketch scheme {self.scheme!r} (expected one of {SCHEMES})")
        for a in (self.ckeys, self.counts):
            a.flags.writeable = False

    # -------------------------------------------------------------------------------- constructors
    @classmethod
    def empty(cls, dims: int, scheme: str = F32_SCHEME) -> QuantileSketch:
        """The identity of :meth:`merge`."""
        z = np.zeros(0, dtype=np.int64)
        return cls(scheme, dims, z, z.copy())

    @classmethod
    def from_sorted(cls, s: np.ndarray) -> QuantileSketch:
        """Sketch of the columns of ``s`` (shape ``(n, D)``, each column sorted ascending, finite)."""
        d = s.shape[1]
        keys = float_keys(s).T  # monotone map keeps each column sorted
        comp = (keys + (np.arange(d, dtype=np.int64) << _DIM_SHIFT)[:, None]).ravel()
        return cls._from_sorted_composite(F32_SCHEME, d, comp, None)

    @classmethod
    def from_values(cls, values: Sequence[np.ndarray]) -> QuantileSketch:
        """Sketch of one 1-D array of finite values per dimension (any order, any lengths)."""
        parts = [float_keys(np.sort(np.asarray(v).ravel())) + (i << _DIM_SHIFT) for i, v in enumerate(values)]
        comp = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return cls._from_sorted_composite(F32_SCHEME, len(values), comp, None)

    @classmethod
    def from_counts(cls, values: np.ndarray, counts: np.ndarray) -> QuantileSketch:
        """One-dimension sketch of ``counts[i]`` copies of ``values[i]`` (values ascending, finite)."""
        comp = float_keys(np.asarray(values))
        return cls._from_sorted_composite(F32_SCHEME, 1, comp, np.asarray(counts, dtype=np.int64))

    @classmethod
    def from_level_histogram(cls, hist: np.ndarray) -> QuantileSketch:
        """Exact ``"u8"`` sketch from per-channel counts of the 256 pixel levels (shape ``(C, 256)``)."""
        ch, lv = np.nonzero(hist)
        comp = (ch.astype(np.int64) << _DIM_SHIFT) | lv.astype(np.int64)
        return cls(U8_SCHEME, hist.shape[0], comp, hist[ch, lv].astype(np.int64))

    @classmethod
    def _from_sorted_composite(
        cls, scheme: str, dims: int, comp: np.ndarray, weights: np.ndarray | None
    ) -> QuantileSketch:
        if comp.size == 0:
            return cls.empty(dims, scheme)
        starts = np.flatnonzero(np.concatenate(([True], comp[1:] != comp[:-1])))
        if weights is None:
            counts = np.diff(np.append(starts, comp.size)).astype(np.int64)
        else:
            counts = np.add.reduceat(weights, starts).astype(np.int64)
        return cls(scheme, dims, np.ascontiguousarray(comp[starts]), counts)

    # -------------------------------------------------------------------------------- monoid
    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """Bucket-wise sum of counts (exactly associative and commutative)."""
        if self.scheme != other.scheme or self.dims != other.dims:
            raise StatsError(
                f"cannot merge quantile sketches: {self.scheme}/{self.dims} dims vs "
                f"{other.scheme}/{other.dims} dims (same feature must have the same shape and kind)"
            )
        if other.ckeys.size == 0:
            return self
        if self.ckeys.size == 0:
            return other
        comp = np.concatenate((self.ckeys, other.ckeys))
        weights = np.concatenate((self.counts, other.counts))
        order = np.argsort(comp, kind="stable")
        return self._from_sorted_composite(self.scheme, self.dims, comp[order], weights[order])

    def __add__(self, other: QuantileSketch) -> QuantileSketch:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return (
            self.scheme == other.scheme
            and self.dims == other.dims
            and np.array_equal(self.ckeys, other.ckeys)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]

    # -------------------------------------------------------------------------------- queries
    def totals(self) -> np.ndarray:
        """Number of values per dimension."""
        dims = self.ckeys >> _DIM_SHIFT
        return np.bincount(dims, weights=self.counts, minlength=self.dims).astype(np.int64)

    def quantiles(self, qs: Sequence[float], mins: np.ndarray, maxs: np.ndarray) -> list[np.ndarray]:
        """Estimated ``np.quantile(x, q)`` per dimension for every ``q`` (NaN for empty dimensions)."""
        totals = self.totals()
        csum = np.cumsum(self.counts)
        before = np.concatenate(([0], csum))[np.searchsorted(self.ckeys >> _DIM_SHIFT, np.arange(self.dims))]
        reps = _representatives(self.ckeys & ((1 << _DIM_SHIFT) - 1), self.scheme)
        mins = np.asarray(mins, dtype=np.float64)
        maxs = np.asarray(maxs, dtype=np.float64)
        out = []
        for q in qs:
            h = q * (totals - 1).astype(np.float64)
            lo = np.floor(h).astype(np.int64)
            hi = np.ceil(h).astype(np.int64)
            vals = []
            for k in (lo, hi):
                b = np.searchsorted(csum, before + np.maximum(k, 0), side="right")
                v = np.clip(
                    reps[np.minimum(b, reps.size - 1)] if reps.size else np.zeros(self.dims), mins, maxs
                )
                v = np.where(k <= 0, mins, np.where(k >= totals - 1, maxs, v))
                vals.append(v)
            est = vals[0] + (h - lo) * (vals[1] - vals[0])
            out.append(np.where(totals > 0, est, np.nan))
        return out

    # -------------------------------------------------------------------------------- bytes
    def to_arrays(self) -> dict[str, Any]:
        """Compact arrays for serialisation: per-dimension offsets and first key, then key deltas and
        counts in the smallest unsigned dtype (mostly uint8, so the sketch files compress well)."""
        ck = self.ckeys
        dims = ck >> _DIM_SHIFT
        offsets = np.searchsorted(dims, np.arange(self.dims + 1))
        first = np.zeros(self.dims, dtype=np.int32)
        deltas = np.diff(ck, prepend=ck[:1])  # composite keys: within a dim the key delta
        if ck.size:
            starts = offsets[:-1][offsets[1:] > offsets[:-1]]
            first[dims[starts]] = ck[starts] & ((1 << _DIM_SHIFT) - 1)
            deltas[starts] = 0
        return {
            "offsets": offsets.astype(_uint_dtype(int(offsets[-1]))),
            "first": first,
            "deltas": deltas.astype(_uint_dtype(int(deltas.max()) if ck.size else 0)),
            "counts": self.counts.astype(_uint_dtype(int(self.counts.max()) if ck.size else 0)),
        }

    @classmethod
    def from_arrays(cls, scheme: str, dims: int, arrays: dict[str, np.ndarray]) -> QuantileSketch:
        """Inverse of :meth:`to_arrays`."""
        offsets = arrays["offsets"].astype(np.int64)
        if offsets.shape != (dims + 1,) or arrays["first"].shape != (dims,):
            raise StatsError(f"corrupt sketch: {offsets.shape[0]} offsets for {dims} dimensions")
        sizes = np.diff(offsets)
        dim_of = np.repeat(np.arange(dims, dtype=np.int64), sizes)
        cs = np.cumsum(arrays["deltas"].astype(np.int64))
        start_of = np.repeat(offsets[:-1], sizes)
        keys = cs - cs[start_of] + arrays["first"].astype(np.int64)[dim_of] if cs.size else cs
        comp = (dim_of << _DIM_SHIFT) | keys
        return cls(scheme, dims, comp, arrays["counts"].astype(np.int64))


def _uint_dtype(largest: int) -> type[np.unsignedinteger[Any]]:
    """Smallest unsigned dtype holding ``largest`` (sketch files stay small)."""
    if largest < 1 << 8:
        return np.uint8
    if largest < 1 << 16:
        return np.uint16
    if largest < 1 << 32:
        return np.uint32
    return np.uint64
