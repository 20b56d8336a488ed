"""Absolute-deadline pacing with an injected clock (no real time)."""

from __future__ import annotations

import pytest

from recording.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def run(work_s: list[float], fps: float = 10.0) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    pacer = Pacer(fps, clock=clock, sleep=clock.sleep)
    pacer.start()
    for w in work_s:
        pacer.wait()
        clock.now += w
        pacer.done()
    return pacer, clock


def test_on_time_iterations_start_exactly_on_the_grid() -> None:
    pacer, _ = run([0.02] * 10)
    assert pacer.starts == pytest.approx([100.0 + k * 0.1 for k in range(10)])
    t = pacer.timing()
    assert t.frames == 10 and t.late_frames == 0 and t.overruns == 0
    assert t.achieved_fps == pytest.approx(10.0) and t.jitter_p99_ms == pytest.approx(0.0)


def test_an_overrun_is_caught_up_without_drift() -> None:
    # iteration 2 takes 0.25 s (2.5 periods): 3 and 4 start late, then the grid is reached again
    pacer, _ = run([0.01, 0.01, 0.25, 0.01, 0.01, 0.01, 0.01])
    starts = [s - 100.0 for s in pacer.starts]
    assert starts[:3] == pytest.approx([0.0, 0.1, 0.2])
    assert starts[3] == pytest.approx(0.45) and starts[4] == pytest.approx(0.46)  # no sleep: catching up
    assert starts[5:] == pytest.approx([0.5, 0.6])  # back on the absolute grid: no drift
    t = pacer.timing()
    assert t.overruns == 1
    assert t.late_frames == 2  # 150 ms and 60 ms late (> half a period)
    assert t.jitter_max_ms == pytest.approx(150.0)


def test_relative_pacing_would_drift_absolute_does_not() -> None:
    pacer, clock = run([0.05] * 20 + [0.3] + [0.01] * 19)
    # 40 iterations always take 40 periods of wall time plus the last one's work
    assert pacer.starts[-1] - pacer.t0 == pytest.approx(3.9)
    assert pacer.timing().frames == 40
    assert all(s >= 0 for s in clock.sleeps)


def test_timing_metadata_column_names() -> None:
    pacer, _ = run([0.01] * 3)
    meta = pacer.timing(duplicated_frames=2).metadata()
    assert set(meta) >= {
        "timing/achieved_fps", "timing/jitter_p99_ms", "timing/late_frames", "timing/duplicated_frames"
    }  # fmt: skip
    assert meta["timing/duplicated_frames"] == 2
