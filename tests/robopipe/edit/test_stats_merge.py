"""The k-way stats merge equals the pairwise monoid merge (exactly for counts/min/max/sketch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robopipe.edit.stats_merge import merge_many
from robopipe.stats import merge_all, read_sketches
from tests.fixtures.datasets import make_dataset


def test_merge_many_equals_pairwise(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "a", frames=[5, 1, 8, 3], cameras={"front": (24, 32)}, codec="h264")
    values = list(read_sketches(root).values())
    a, b = merge_all(values), merge_many(values)
    assert list(a) == list(b)
    for k in a:
        fa, fb = a[k], b[k]
        assert fa.count == fb.count and fa.sketch == fb.sketch and fa.integer == fb.integer
        for name in ("n", "min", "max"):
            np.testing.assert_array_equal(getattr(fa, name), getattr(fb, name))
        np.testing.assert_allclose(fb.mean, fa.mean, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fb.m2, fa.m2, rtol=1e-10, atol=1e-12)
    assert merge_many(values[:1]) == values[0]
