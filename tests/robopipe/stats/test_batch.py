"""The whole-file batch path gives the same stats as the per-episode path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robopipe.format.features import DEFAULT_FEATURES, FeatureSpec
from robopipe.stats import DatasetStats, merge_all, summarize_episode
from robopipe.stats.batch import NeedsPerEpisodePath, file_numeric_stats

FEATS = {
    "observation.state": FeatureSpec(dtype="float32", shape=(5,)),
    "flags": FeatureSpec(dtype="bool", shape=(2,)),
    "torque": FeatureSpec(dtype="float64", shape=(1,)),
    **DEFAULT_FEATURES,
}


def _columns(lengths: list[int], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    frame = np.concatenate([np.arange(t) for t in lengths])
    return {
        "observation.state": (rng.normal(size=(n, 5)) * [1, 1e-3, 100, 1, 1] + [0, 90, 0, 0, 0]).astype(
            np.float32
        ),
        "flags": rng.integers(0, 2, (n, 2)).astype(bool),
        "torque": np.round(rng.normal(size=n), 1),
        "timestamp": (frame / 30).astype(np.float32),
        "frame_index": frame,
        "episode_index": np.repeat(np.arange(len(lengths)), lengths),
        "index": np.arange(n),
        "task_index": rng.integers(0, 3, n),
    }


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 90), min_size=1, max_size=8), st.integers(0, 1000))
def test_batch_equals_per_episode(lengths: list[int], seed: int) -> None:
    cols = _columns(lengths, seed)
    fs = file_numeric_stats(cols, FEATS, np.array(lengths))
    off = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    singles = [
        summarize_episode({k: v[a : a + t] for k, v in cols.items()}, FEATS) for a, t in zip(off, lengths)
    ]
    for e, s in enumerate(singles):
        for f, stats in s.lerobot.items():
            for k, v in stats.items():
                got = fs.lerobot[f][k][e].reshape(v.shape)
                # one-frame episodes: LeRobot copies the (float32) mean into the quantiles; the batch
                # keeps every episode's quantiles float64 (same values)
                assert got.dtype == v.dtype or (k.startswith("q") and lengths[e] < 2), (f, k)
                if k in ("mean", "std"):
                    np.testing.assert_allclose(got, v, rtol=1e-6, atol=1e-12, err_msg=f"{f}/{k}")
                else:
                    np.testing.assert_array_equal(got, v.astype(got.dtype), err_msg=f"{f}/{k}")
        ep = fs.episode(e)
        for f, x in s.sketch.items():
            y = ep[f]
            assert (
                y.sketch == x.sketch and y.count == x.count and y.shape == x.shape and y.integer == x.integer
            )
            np.testing.assert_allclose(y.mean, x.mean, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(y.m2, x.m2, rtol=1e-9, atol=1e-9)
    merged = merge_all(s.sketch for s in singles)
    total = DatasetStats(fs.total)
    for f in merged:
        assert total[f].sketch == merged[f].sketch and total[f].count == merged[f].count
        np.testing.assert_allclose(total[f].mean, merged[f].mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(total[f].m2, merged[f].m2, rtol=1e-9, atol=1e-9)


def test_nonfinite_and_multidim_use_the_per_episode_path() -> None:
    cols = _columns([3, 4], 0)
    cols["torque"] = cols["torque"].copy()
    cols["torque"][2] = np.nan
    with pytest.raises(NeedsPerEpisodePath):
        file_numeric_stats(cols, FEATS, np.array([3, 4]))
    feats = {"m": FeatureSpec(dtype="float32", shape=(2, 2))}
    with pytest.raises(NeedsPerEpisodePath):
        file_numeric_stats({"m": np.zeros((5, 2, 2), np.float32)}, feats, np.array([5]))
