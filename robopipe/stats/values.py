"""Mergeable statistics values: :class:`FeatureStats` and :class:`DatasetStats` (a monoid, core layer).

A :class:`FeatureStats` summarises any set of frames of one feature: exact counts, float64 mean and
sum of squared deviations pooled with Chan et al.'s parallel formula, exact min/max, and a
:class:`~robopipe.stats.sketch.QuantileSketch` from which global quantiles are estimated with a
documented bound (see :mod:`robopipe.stats.sketch`). ``merge`` is commutative bit for bit; count,
min, max and the sketch are also exactly associative, while mean/variance are associative up to
float64 rounding (a few ulp), so any Dask tree shape gives the same answer to ~1e-15 relative.
``FeatureStats.empty(...)`` is an exact identity.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robopipe.errors import StatsError
from robopipe.stats.lerobot_math import DEFAULT_QUANTILES, QUANTILE_KEYS
from robopipe.stats.sketch import F32_SCHEME, QuantileSketch

_MAGIC = b"RPST"
_SKETCH_ARRAYS = ("offsets", "first", "deltas", "counts")
_VERSION = 2


@dataclass(frozen=True, eq=False)
class FeatureStats:
    """Summary of one feature over some frames; merge with :func:`merge` or ``+``.

    Attributes:
        shape: shape of every non-count stat in LeRobot's format: ``(D,)``, ``(1,)`` or ``(C, 1, 1)``.
        count: LeRobot's ``count``: frames (numeric) or sampled images (image/video).
        n: values per dimension that entered mean/variance/sketch (int64, ``(D,)``).
        mean: float64 mean per dimension.
        m2: float64 sum of squared deviations from the mean per dimension.
        min, max: float64 per dimension (``+inf``/``-inf`` when empty).
        integer: whether min/max are reported as int64 (integer features).
        sketch: the quantile sketch.
    """

    shape: tuple[int, ...]
    count: int
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray
    integer: bool
    sketch: QuantileSketch

    def __post_init__(self) -> None:
        d = self.dims
        for name in ("n", "mean", "m2", "min", "max"):
            a = getattr(self, name)
            if a.shape != (d,):
                raise StatsError(
                    f"FeatureStats.{name} has shape {a.shape}, expected ({d},) for shape {self.shape}"
                )
            a.flags.writeable = False
        if self.sketch.dims != d:
            raise StatsError(f"FeatureStats sketch has {self.sketch.dims} dims, expected {d}")

    @property
    def dims(self) -> int:
        return int(np.prod(self.shape))

    @classmethod
    def empty(
        cls, shape: tuple[int, ...], *, integer: bool = False, scheme: str = F32_SCHEME
    ) -> FeatureStats:
        """The identity element for a feature whose stats have ``shape``."""
        d = int(np.prod(shape))
        return cls(
            tuple(shape),
            0,
            np.zeros(d, dtype=np.int64),
            np.zeros(d),
            np.zeros(d),
            np.full(d, np.inf),
            np.full(d, -np.inf),
            integer,
            QuantileSketch.empty(d, scheme),
        )

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Pooled statistics of both inputs (Chan's parallel mean/variance, exact min/max/sketch)."""
        if self.shape != other.shape:
            raise StatsError(f"cannot merge stats of shape {self.shape} with shape {other.shape}")
        na = self.n.astype(np.float64)
        nb = other.n.astype(np.float64)
        n = self.n + other.n
        nf = n.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = (na * self.mean + nb * other.mean) / nf  # symmetric form: commutative bit for bit
            delta = other.mean - self.mean
            m2 = (self.m2 + other.m2) + delta * delta * (na * nb / nf)
        mean = np.where(other.n == 0, self.mean, np.where(self.n == 0, other.mean, pooled))
        m2 = np.where(other.n == 0, self.m2, np.where(self.n == 0, other.m2, m2))
        return FeatureStats(
            self.shape,
            self.count + other.count,
            n,
            mean,
            m2,
            np.minimum(self.min, other.min),
            np.maximum(self.max, other.max),
            self.integer and other.integer,
            self.sketch.merge(other.sketch),
        )

    def __add__(self, other: FeatureStats) -> FeatureStats:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureStats):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.count == other.count
            and self.integer == other.integer
            and all(
                np.array_equal(getattr(self, k), getattr(other, k)) for k in ("n", "mean", "m2", "min", "max")
            )
            and self.sketch == other.sketch
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation per dimension."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(np.maximum(self.m2, 0.0) / self.n)

    def quantiles(self, qs: Iterable[float] = DEFAULT_QUANTILES) -> list[np.ndarray]:
        """Sketch estimates of the quantiles (flat ``(D,)`` float64 arrays)."""
        return self.sketch.quantiles(list(qs), self.min, self.max)

    def to_lerobot(self) -> dict[str, np.ndarray]:
        """The ``stats.json`` entry: min, max, mean, std, count, q01..q99 in LeRobot's shapes."""
        mn, mx = self.min, self.max
        if self.integer and np.all(self.n > 0):
            mn, mx = mn.astype(np.int64), mx.astype(np.int64)
        with np.errstate(invalid="ignore"):
            mean = np.where(self.n > 0, self.mean, np.nan)
        out: dict[str, np.ndarray] = {
            "min": mn.reshape(self.shape),
            "max": mx.reshape(self.shape),
            "mean": mean.reshape(self.shape),
            "std": self.std.reshape(self.shape),
            "count": np.array([self.count], dtype=np.int64),
        }
        for key, q in zip(QUANTILE_KEYS, self.quantiles(DEFAULT_QUANTILES)):
            out[key] = q.reshape(self.shape)
        return out

    # ------------------------------------------------------------------ serialisation helpers
    def _parts(self) -> tuple[list[Any], list[np.ndarray]]:
        """Header entry and arrays (order: n, mean, m2, min, max, then the sketch's arrays)."""
        sk = self.sketch.to_arrays()
        arrays = [self.n, self.mean, self.m2, self.min, self.max, *(sk[k] for k in _SKETCH_ARRAYS)]
        head = [
            list(self.shape),
            self.count,
            self.integer,
            self.sketch.scheme,
            [[a.dtype.str, a.size] for a in arrays],
        ]
        return head, arrays

    @classmethod
    def _from_parts(cls, head: Sequence[Any], arrays: Sequence[np.ndarray]) -> FeatureStats:
        shape_l, count, integer, scheme, _ = head
        shape = tuple(int(x) for x in shape_l)
        n, mean, m2, mn, mx, *sk = arrays
        return cls(
            shape,
            int(count),
            n.astype(np.int64),
            mean.astype(np.float64),
            m2.astype(np.float64),
            mn.astype(np.float64),
            mx.astype(np.float64),
            bool(integer),
            QuantileSketch.from_arrays(str(scheme), int(np.prod(shape)), dict(zip(_SKETCH_ARRAYS, sk))),
        )


class DatasetStats(Mapping[str, FeatureStats]):
    """Immutable mapping feature -> :class:`FeatureStats`; a monoid under :meth:`merge` (identity: empty).

    Merging takes the union of features (a feature missing on one side keeps the other's stats),
    like LeRobot's ``aggregate_stats``.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, FeatureStats] | None = None) -> None:
        self._items: dict[str, FeatureStats] = dict(items or {})

    def __getitem__(self, key: str) -> FeatureStats:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        feats = ", ".join(f"{k}: count={v.count}" for k, v in self._items.items())
        return f"DatasetStats({feats})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DatasetStats):
            return NotImplemented
        return self._items.keys() == other._items.keys() and all(self[k] == other[k] for k in self)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def empty(cls) -> DatasetStats:
        return cls()

    def merge(self, other: DatasetStats) -> DatasetStats:
        """Feature-wise merge; features are kept in first-seen order (sorted merge keeps it deterministic)."""
        out = dict(self._items)
        for k, v in other.items():
            out[k] = out[k].merge(v) if k in out else v
        return DatasetStats({k: out[k] for k in sorted(out)})

    def __add__(self, other: DatasetStats) -> DatasetStats:
        return self.merge(other)

    def to_lerobot(self) -> dict[str, dict[str, np.ndarray]]:
        """``{feature: {stat: array}}`` as written to ``meta/stats.json``."""
        return {k: v.to_lerobot() for k, v in self._items.items()}

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        """Self-describing binary form (no pickle): magic, version, JSON header, raw little-endian arrays."""
        head: list[Any] = []
        blobs: list[bytes] = []
        for key in sorted(self._items):
            entry, arrays = self._items[key]._parts()
            head.append([key, *entry])
            blobs.extend(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes() for a in arrays)
        return pack_blob(head, blobs)

    @classmethod
    def from_bytes(cls, data: bytes) -> DatasetStats:
        """Inverse of :meth:`to_bytes`; raises :class:`StatsError` on anything malformed."""
        try:
            if data[:4] != _MAGIC:
                raise StatsError(f"not a robopipe stats blob (magic {data[:4]!r}, expected {_MAGIC!r})")
            version, hlen = struct.unpack("<HI", data[4:10])
            if version != _VERSION:
                raise StatsError(f"stats blob version {version} is not supported (expected {_VERSION})")
            head = json.loads(data[10 : 10 + hlen].decode("utf-8"))
            body = memoryview(data)[10 + hlen :]
            off = 0
            items = {}
            for key, *entry in head:
                arrays = []
                for dtype, length in entry[-1]:
                    dt = np.dtype(dtype)
                    arrays.append(np.frombuffer(body, dtype=dt, count=length, offset=off).copy())
                    off += dt.itemsize * length
                items[key] = FeatureStats._from_parts(entry, arrays)
            if off != len(body):
                raise StatsError(f"corrupt stats blob: {len(body) - off} trailing bytes")
            return cls(items)
        except StatsError:
            raise
        except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as exc:
            raise StatsError(f"corrupt stats blob ({len(data)} bytes): {exc}") from exc


def pack_blob(head: list[Any], blobs: list[bytes]) -> bytes:
    """The :meth:`DatasetStats.to_bytes` container: magic, version, JSON header, raw arrays."""
    hb = json.dumps(head, separators=(",", ":")).encode("utf-8")
    return _MAGIC + struct.pack("<HI", _VERSION, len(hb)) + hb + b"".join(blobs)


def merge(a: Any, b: Any) -> Any:
    """Merge two :class:`DatasetStats` (or two :class:`FeatureStats`)."""
    return a.merge(b)


def merge_all(values: Iterable[DatasetStats]) -> DatasetStats:
    """Pairwise tree reduction in input order (deterministic shape for a given number of inputs)."""
    level = list(values)
    if not level:
        return DatasetStats.empty()
    while len(level) > 1:
        nxt = [level[i].merge(level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
