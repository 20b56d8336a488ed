"""ImageStatsAccumulator: LeRobot sampling/downsampling, exact quantiles, correct std."""

from __future__ import annotations

import numpy as np
import pytest

from robopipe.errors import FrameError, StatsError
from robopipe.stats import ImageStatsAccumulator
from robopipe.stats.lerobot_math import downsample_stride, estimate_num_samples, sample_indices
from tests.robopipe.stats.lerobot_impl import lerobot_quantiles


def _reference(frames: np.ndarray) -> dict[str, np.ndarray]:
    """LeRobot's pipeline (sample, downsample CHW, per-channel stats / 255) with a float64 std."""
    idx = sample_indices(len(frames))
    imgs = []
    for i in idx:
        chw = frames[i].transpose(2, 0, 1)
        k = downsample_stride(chw.shape[1], chw.shape[2])
        imgs.append(chw[:, ::k, ::k])
    batch = np.stack(imgs)
    px = batch.transpose(0, 2, 3, 1).reshape(-1, batch.shape[1])
    out = {
        "min": px.min(0) / 255.0,
        "max": px.max(0) / 255.0,
        "mean": px.mean(0) / 255.0,
        "std": px.astype(np.float64).std(0) / 255.0,
    }
    for k, q in zip(("q01", "q10", "q50", "q90", "q99"), lerobot_quantiles(px)):
        out[k] = q / 255.0
    return {k: v.reshape(-1, 1, 1) for k, v in out.items()} | {"count": np.array([len(idx)])}


@pytest.mark.parametrize(("t", "h", "w"), [(3, 48, 64), (130, 12, 16), (4, 480, 640), (2, 310, 200)])
def test_matches_lerobot_pipeline(t: int, h: int, w: int) -> None:
    rng = np.random.default_rng(t)
    frames = np.clip(rng.integers(0, 256, (1, h, w, 3)) + rng.integers(-30, 30, (t, h, w, 3)), 0, 255).astype(
        np.uint8
    )
    acc = ImageStatsAccumulator(3)
    for f in frames:
        acc.add(f)
    got = acc.result()
    ref = _reference(frames)
    assert list(got) == ["min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"]
    for k, v in ref.items():
        assert got[k].shape == v.shape, k
        if k.startswith("q") or k == "count":
            np.testing.assert_array_equal(got[k], v, err_msg=k)
        else:
            np.testing.assert_allclose(got[k], v, rtol=1e-12, err_msg=k)
    assert (got["std"] > 0.05).all()  # LeRobot 0.4.4's uint8 overflow would give ~0 here
    fs = acc.sketch()
    lr = fs.to_lerobot()
    np.testing.assert_allclose(lr["mean"], got["mean"], rtol=1e-12)
    np.testing.assert_allclose(lr["std"], got["std"], rtol=1e-9)
    assert lr["count"].tolist() == got["count"].tolist()


def test_sampling_rule() -> None:
    assert estimate_num_samples(50) == 50 and estimate_num_samples(1000) == 177
    assert estimate_num_samples(10000) == 1000
    assert downsample_stride(480, 640) == 4 and downsample_stride(48, 64) == 1


def test_bad_frames_and_empty() -> None:
    acc = ImageStatsAccumulator(3)
    with pytest.raises(FrameError, match="HxWx3 uint8"):
        acc.add(np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(FrameError):
        acc.add(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(StatsError, match="no frames"):
        acc.result()
    gray = ImageStatsAccumulator(1)
    gray.add(np.full((4, 4), 10, np.uint8))
    gray.add(np.full((4, 4), 20, np.uint8))
    assert gray.result()["mean"].shape == (1, 1, 1)
