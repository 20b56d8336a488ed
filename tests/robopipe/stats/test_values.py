"""FeatureStats/DatasetStats form a monoid: identity, commutativity, associativity, exact pooling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from robopipe.errors import StatsError
from robopipe.format.features import FeatureSpec
from robopipe.stats import ABS_FLOOR, ALPHA, DatasetStats, FeatureStats, merge, merge_all, summarize_episode

FEATS = {"a": FeatureSpec(dtype="float64", shape=(2,)), "i": FeatureSpec(dtype="int64", shape=(1,))}

chunks = st.lists(
    st.tuples(
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(1, 40), st.just(2)),
            elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
        ),
        st.integers(0, 2**31),
    ),
    min_size=1,
    max_size=6,
)


def _summaries(parts: list[tuple[np.ndarray, int]]) -> tuple[list[DatasetStats], dict[str, np.ndarray]]:
    out, cat = [], {"a": [], "i": []}
    for x, seed in parts:
        ints = np.random.default_rng(seed).integers(-1000, 10**6, size=len(x))
        out.append(summarize_episode({"a": x, "i": ints}, FEATS).sketch)
        cat["a"].append(x)
        cat["i"].append(ints.reshape(-1, 1).astype(np.float64))
    return out, {k: np.concatenate(v) for k, v in cat.items()}


def _close(a: DatasetStats, b: DatasetStats) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        assert x.count == y.count and np.array_equal(x.n, y.n)
        assert np.array_equal(x.min, y.min) and np.array_equal(x.max, y.max)
        assert x.sketch == y.sketch  # exact
        np.testing.assert_allclose(x.mean, y.mean, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(x.m2, y.m2, rtol=1e-9, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(chunks)
def test_merge_is_commutative_associative_with_identity(parts: list[tuple[np.ndarray, int]]) -> None:
    s, _ = _summaries(parts)
    a, b, c = (s + [DatasetStats.empty()] * 2)[:3]
    assert merge(a, b) == merge(b, a)  # bit for bit
    _close(merge(merge(a, b), c), merge(a, merge(b, c)))
    e = DatasetStats.empty()
    assert merge(a, e) == a and merge(e, a) == a
    fe = FeatureStats.empty((2,))
    assert a["a"].merge(fe) == a["a"] and fe.merge(a["a"]) == a["a"]


@settings(max_examples=60, deadline=None)
@given(chunks)
def test_merged_stats_equal_numpy_on_concatenation(parts: list[tuple[np.ndarray, int]]) -> None:
    s, cat = _summaries(parts)
    total = merge_all(s)
    lr = total.to_lerobot()
    for key, x in cat.items():
        out = lr[key]
        np.testing.assert_allclose(out["mean"], x.mean(0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(out["std"], x.std(0), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(out["min"], x.min(0))
        np.testing.assert_array_equal(out["max"], x.max(0))
        assert out["count"].tolist() == [len(x)]
        srt = np.sort(x, axis=0)
        for qk, q in (("q01", 0.01), ("q10", 0.1), ("q50", 0.5), ("q90", 0.9), ("q99", 0.99)):
            h = q * (len(x) - 1)
            bound = ALPHA * np.maximum(np.abs(srt[int(np.floor(h))]), np.abs(srt[int(np.ceil(h))]))
            err = np.abs(out[qk] - np.quantile(x, q, axis=0))
            assert (err <= bound * (1 + 1e-9) + ABS_FLOOR).all(), (qk, err, bound)


def test_bytes_round_trip_and_corrupt_blob() -> None:
    rng = np.random.default_rng(0)
    s = summarize_episode({"a": rng.normal(size=(50, 2)), "i": np.arange(50)}, FEATS).sketch
    again = DatasetStats.from_bytes(s.to_bytes())
    assert again == s
    assert again.to_lerobot()["i"]["min"].dtype == np.int64
    with pytest.raises(StatsError, match="not a robopipe stats blob"):
        DatasetStats.from_bytes(b"nope" + s.to_bytes())
    with pytest.raises(StatsError, match="corrupt"):
        DatasetStats.from_bytes(s.to_bytes()[:40])


def test_shape_mismatch_raises() -> None:
    with pytest.raises(StatsError, match="shape"):
        FeatureStats.empty((2,)).merge(FeatureStats.empty((3,)))


def test_union_of_features() -> None:
    a = summarize_episode({"a": np.ones((3, 2))}, FEATS).sketch
    b = summarize_episode({"i": np.arange(3)}, FEATS).sketch
    m = merge(a, b)
    assert set(m) == {"a", "i"} and m["a"] == a["a"]
