"""Per-episode stats: LeRobot's rules reproduced (shapes, dtypes, exact quantiles), NaN handling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from robopipe.errors import NonFiniteValuesError, StatsError
from robopipe.format.features import DEFAULT_FEATURES, FeatureSpec
from robopipe.stats import QUANTILE_KEYS, compute_episode_stats, summarize_episode
from robopipe.stats.lerobot_math import NUM_BINS, HistogramEdges
from tests.robopipe.stats.lerobot_impl import lerobot_quantiles

STATS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)


def _spec(x: np.ndarray) -> FeatureSpec:
    return FeatureSpec(dtype=str(x.dtype), shape=tuple(x.shape[1:]) or (1,))


def test_shapes_dtypes_and_values_like_lerobot() -> None:
    rng = np.random.default_rng(0)
    t = 40
    cols = {
        "observation.state": rng.normal(size=(t, 6)).astype(np.float32),
        "timestamp": (np.arange(t) / 30).astype(np.float32),
        "index": np.arange(100, 100 + t, dtype=np.int64),
        "next.reward": rng.normal(size=(t, 1)).astype(np.float32),
    }
    feats = {
        "observation.state": FeatureSpec(dtype="float32", shape=(6,)),
        "next.reward": FeatureSpec(dtype="float32", shape=(1,)),
        **DEFAULT_FEATURES,
    }
    out = compute_episode_stats(cols, feats)
    assert list(out) == list(cols)
    st_ = out["observation.state"]
    assert list(st_) == list(STATS)
    assert st_["mean"].shape == (6,) and st_["mean"].dtype == np.float32
    assert st_["min"].dtype == np.float32 and st_["count"].tolist() == [t]
    np.testing.assert_allclose(st_["std"], cols["observation.state"].astype(np.float64).std(0), rtol=1e-6)
    assert out["timestamp"]["q01"].shape == (1,)
    # LeRobot's quirk: float32 column starting at 0 -> edges[0] = -1e-10 -> q01 = -1e-10
    assert out["timestamp"]["q01"][0] == np.float32(-1e-10)
    assert out["index"]["min"].dtype == np.int64 and out["index"]["mean"].dtype == np.float64
    assert out["next.reward"]["mean"].shape == (1,)
    for key, x in cols.items():
        ref = lerobot_quantiles(x.reshape(t, -1))
        for k, r in zip(QUANTILE_KEYS, ref):
            np.testing.assert_array_equal(out[key][k], r, err_msg=f"{key} {k}")


def test_one_frame_uses_mean_for_quantiles_and_zero_std() -> None:
    x = np.array([[1.5, -2.0]], dtype=np.float32)
    out = compute_episode_stats({"a": x}, {"a": _spec(x)})["a"]
    assert out["std"].tolist() == [0.0, 0.0]
    for k in QUANTILE_KEYS:
        np.testing.assert_array_equal(out[k], x[0])


def test_multidim_feature_reduces_over_last_axis() -> None:
    x = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    out = compute_episode_stats({"m": x}, {"m": _spec(x)})["m"]
    assert out["mean"].shape == (3,)
    np.testing.assert_allclose(out["mean"], x.reshape(-1, 3).mean(0))
    assert out["count"].tolist() == [5]


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.int32]),
        shape=st.tuples(st.integers(2, 80), st.integers(1, 4)),
        elements={"allow_nan": False, "allow_infinity": False, "min_value": -1e6, "max_value": 1e6},
    )
)
def test_quantiles_equal_lerobot_histogram_method(x: np.ndarray) -> None:
    out = compute_episode_stats({"f": x}, {"f": _spec(x)})["f"]
    for k, r in zip(QUANTILE_KEYS, lerobot_quantiles(x)):
        np.testing.assert_array_equal(out[k], r, err_msg=k)
    np.testing.assert_array_equal(out["min"], x.min(0))
    np.testing.assert_array_equal(out["max"], x.max(0))


@settings(max_examples=80, deadline=None)
@given(
    st.floats(-1e30, 1e30, allow_nan=False),
    st.one_of(st.just(0.0), st.floats(1e-12, 1e30)),
    st.sampled_from([np.float32, np.float64, np.int64]),
)
def test_lazy_edges_equal_numpy_linspace(lo: float, span: float, dtype: type) -> None:
    if dtype is np.int64:
        lo, span = float(int(lo) % 10**12), float(int(span) % 10**12)
    mins = np.array([lo]).astype(dtype)
    maxs = np.array([lo + span]).astype(dtype)
    if not np.isfinite(maxs.astype(np.float64)).all() or maxs[0] < mins[0]:
        return
    ref = np.linspace(mins[0] - 1e-10, maxs[0] + 1e-10, NUM_BINS + 1)
    got = HistogramEdges(mins, maxs).at(np.arange(NUM_BINS + 1))
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_nonfinite_raise_names_feature_count_and_dimension() -> None:
    x = np.zeros((10, 3), dtype=np.float32)
    x[2, 1] = np.nan
    x[5, 1] = np.inf
    y = np.ones((10, 2), dtype=np.float32)
    y[0, 0] = -np.inf
    feats = {"a": _spec(x), "b": _spec(y)}
    with pytest.raises(NonFiniteValuesError) as ei:
        compute_episode_stats({"a": x, "b": y}, feats)
    msg = str(ei.value)
    assert "'a': 2 NaN/Inf values (dim 1: 2)" in msg and "'b': 1 NaN/Inf values (dim 0: 1)" in msg


def test_nonfinite_skip_ignores_values_per_dimension() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3))
    x[[1, 4], 1] = np.nan
    x[:, 2] = np.nan
    s = summarize_episode({"a": x}, {"a": _spec(x)}, on_nonfinite="skip")
    out = s.lerobot["a"]
    finite = x[:, 1][np.isfinite(x[:, 1])]
    np.testing.assert_allclose(out["mean"][:2], [x[:, 0].mean(), finite.mean()])
    assert np.isnan(out["mean"][2]) and out["count"].tolist() == [30]
    np.testing.assert_array_equal(out["q50"][1], lerobot_quantiles(finite.reshape(-1, 1))[2][0])
    fs = s.sketch["a"]
    assert fs.n.tolist() == [30, 28, 0]


def test_bad_inputs_raise_stats_errors() -> None:
    x = np.zeros((0, 2), dtype=np.float32)
    with pytest.raises(StatsError, match="no frames"):
        compute_episode_stats({"a": x}, {"a": FeatureSpec(dtype="float32", shape=(2,))})
    with pytest.raises(StatsError, match="expected \\(3,\\)"):
        compute_episode_stats({"a": np.zeros((4, 2))}, {"a": FeatureSpec(dtype="float64", shape=(3,))})
    with pytest.raises(StatsError, match="no feature spec"):
        compute_episode_stats({"zz": np.zeros((4, 2))}, {})


def test_strings_and_cameras_are_skipped() -> None:
    feats = {
        "s": FeatureSpec(dtype="string", shape=(1,)),
        "cam": FeatureSpec(dtype="video", shape=(4, 4, 3)),
        "x": FeatureSpec(dtype="float32", shape=(1,)),
    }
    cols = {
        "s": np.array(["a", "b"], dtype=object),
        "cam": np.zeros((2, 4, 4, 3), np.uint8),
        "x": np.array([1.0, 2.0], np.float32),
    }
    assert list(compute_episode_stats(cols, feats)) == ["x"]
