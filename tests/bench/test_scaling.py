"""The scaling bench's timing wrapper: same results as the wrapped executor, one phase per map, errors pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scaling import TimedExecutor
from robopipe.execution import SerialExecutor, ThreadExecutor
from robopipe.stats.recompute import StatsRequest, recompute_stats
from tests.fixtures.datasets import make_dataset


def _square(context: int, item: int) -> int:
    if item < 0:
        raise ValueError(f"negative {item}")
    return context + item * item


@pytest.mark.parametrize("threads", [False, True])
def test_results_and_phases(threads: bool) -> None:
    with ThreadExecutor(2) as pool:
        _check(pool if threads else SerialExecutor())


def _check(inner: SerialExecutor | ThreadExecutor) -> None:
    timed = TimedExecutor(inner)
    assert timed.workers == inner.workers and timed.name == inner.name
    assert timed.map(_square, 10, [3, 1, 2], weights=[1, 3, 2]).results() == [19, 11, 14]
    assert timed.map(_square, 0, [4], label="second").results() == [16]
    first, second = timed.phases
    assert (first.label, first.units, second.label, second.units) == ("unit", 3, "second", 1)
    assert first.end >= first.start and first.busy >= 0 and first.cpu >= 0 and len(first.pids) == 1


def test_unit_error_reaches_the_recipe() -> None:
    timed = TimedExecutor(SerialExecutor())
    with pytest.raises(ValueError, match="negative -2"):
        timed.map(_square, 0, [1, -2, 3]).results()


def test_stats_recipe_unchanged(tmp_path: Path) -> None:
    """The stats recipe through the wrapper writes the same stats.json as without it."""
    plain, wrapped = tmp_path / "plain", tmp_path / "wrapped"
    for root in (plain, wrapped):
        make_dataset(root, episodes=3, frames=[5, 7, 6], cameras=None)
    recompute_stats(StatsRequest(root=plain), SerialExecutor())
    timed = TimedExecutor(SerialExecutor())
    report = recompute_stats(StatsRequest(root=wrapped), timed)
    assert report.frames == 18
    assert [p.label for p in timed.phases] == ["stats-file", "stats-finalize-file"]
    assert (wrapped / "meta/stats.json").read_bytes() == (plain / "meta/stats.json").read_bytes()
