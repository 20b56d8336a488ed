"""Resampling onto the fps grid: exact against numpy's own interpolation, skew and gaps reported."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robopipe.convert.align import align, make_grid


def test_grid_includes_the_end_and_no_more() -> None:
    np.testing.assert_allclose(make_grid(0.0, 1.0, 4), [0, 0.25, 0.5, 0.75, 1.0])
    assert len(make_grid(0.0, 0.99, 4)) == 4
    assert len(make_grid(1.0, 0.5, 4)) == 0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=2, max_size=40, unique=True),
    st.integers(1, 60),
)
def test_linear_equals_np_interp_and_nearest_previous_pick_right_samples(
    times: list[float], fps: int
) -> None:
    t = np.sort(np.asarray(times))
    v = np.stack([np.sin(t * 3), t**2], axis=1)
    grid = make_grid(float(t[0]), float(t[-1]), fps)
    lin = align(t, v, grid, "linear", max_skew=100)
    for j in range(2):
        np.testing.assert_allclose(lin.values[:, j], np.interp(grid, t, v[:, j]), rtol=0, atol=1e-9)
    prev = align(t, v, grid, "previous", max_skew=100)
    want_prev = np.asarray([np.flatnonzero(t <= g).max() for g in grid])
    np.testing.assert_array_equal(prev.values, v[want_prev])
    np.testing.assert_allclose(prev.skew, grid - t[want_prev])
    near = align(t, v, grid, "nearest", max_skew=100)
    dist = np.abs(grid[:, None] - t[None, :])
    np.testing.assert_allclose(near.skew, dist.min(axis=1))
    assert np.all(
        np.abs(t[[np.flatnonzero((v == row).all(axis=1))[0] for row in near.values]] - grid)
        <= dist.min(axis=1) + 1e-12
    )


def test_gaps_are_reported_not_filled() -> None:
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(2.0, 3.0, 0.01)])  # 1 s hole
    grid = make_grid(0.0, 2.99, 10)
    res = align(t, t, grid, "linear", max_skew=0.05)
    assert len(res.gaps) == 1
    g = res.gaps[0]
    assert grid[g.first] > 0.99 + 0.05 and grid[g.last] < 2.0 - 0.05
    assert g.max_skew == pytest.approx(0.5, abs=0.06)
    assert res.max_skew == pytest.approx(g.max_skew)
    np.testing.assert_allclose(res.values, np.interp(grid, t, t))  # the values are still the interpolation


def test_object_values_and_bad_input() -> None:
    imgs = np.empty(3, dtype=object)
    imgs[:] = [b"a", b"b", b"c"]
    res = align(np.array([0.0, 0.1, 0.2]), imgs, np.array([0.04, 0.06, 0.3]), "nearest", max_skew=0.05)
    assert list(res.values) == [b"a", b"b", b"c"] and len(res.gaps) == 1
    with pytest.raises(ValueError, match="numeric"):
        align(np.array([0.0, 1.0]), imgs[:2], np.array([0.5]), "linear", 1.0)
    with pytest.raises(ValueError, match="sorted"):
        align(np.array([1.0, 0.0]), np.array([1, 2]), np.array([0.5]), "previous", 1.0)
    with pytest.raises(ValueError, match="no samples"):
        align(np.array([]), np.array([]), np.array([0.5]), "previous", 1.0)
