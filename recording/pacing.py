"""Loop pacing on absolute deadlines, and the per-episode timing it measures (recording layer).

LeRobot sleeps ``1/fps - dt`` after each iteration (relative pacing): every overrun is lost for good, so
a loop that is sometimes late drifts and records fewer rows than ``episode_time_s * fps`` while the
dataset still labels them ``frame_index / fps`` (reference hardware.md §4.3). Here iteration ``k`` is
due at ``t0 + k / fps``. A late iteration starts at once and the following ones catch up (their
deadlines do not move), so an episode of ``N`` frames always spans ``N / fps`` seconds of wall time and
``frame_index / fps`` stays an honest timestamp. Every lateness is measured, never hidden.

The clock and the sleep function are injectable so the logic is tested without real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class EpisodeTiming(BaseModel):
    """What the loop achieved in one episode (stored in the episode metadata as ``timing/*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: int = Field(description="Iterations (= dataset rows) in the episode.")
    duration_s: float = Field(
        description="Wall time from the first deadline to the end of the last iteration."
    )
    achieved_fps: float = Field(description="frames / duration between first and last iteration start.")
    jitter_p50_ms: float = Field(description="Median lateness of iteration starts versus their deadline.")
    jitter_p99_ms: float = Field(description="99th percentile lateness of iteration starts.")
    jitter_max_ms: float = Field(description="Largest lateness of an iteration start.")
    late_frames: int = Field(
        description="Iterations that started more than half a period after their deadline."
    )
    overruns: int = Field(description="Iterations whose work took longer than one period.")
    duplicated_frames: int = Field(
        default=0, description="Camera reads that returned a frame already recorded."
    )

    def metadata(self) -> dict[str, float | int]:
        """Columns for the episodes metadata (names the validation report reads)."""
        return {
            "timing/achieved_fps": round(self.achieved_fps, 3),
            "timing/jitter_p50_ms": round(self.jitter_p50_ms, 3),
            "timing/jitter_p99_ms": round(self.jitter_p99_ms, 3),
            "timing/late_frames": self.late_frames,
            "timing/duplicated_frames": self.duplicated_frames,
        }


@dataclass
class Pacer:
    """Runs iterations on a fixed grid ``t0 + k / fps``.

    Usage: ``pacer.start()``; then per iteration ``pacer.wait()`` (sleeps until the next deadline and
    records the lateness), do the work, ``pacer.done()``. ``timing()`` summarises.

    Args:
        fps: iterations per second.
        clock: monotonic clock in seconds (``time.perf_counter``).
        sleep: sleep function (``time.sleep``).
        late_threshold: lateness, as a fraction of the period, above which an iteration counts as late.
    """

    fps: float
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    late_threshold: float = 0.5
    t0: float = 0.0
    k: int = 0
    lateness: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    work: list[float] = field(default_factory=list)
    end: float = 0.0

    @property
    def period(self) -> float:
        return 1.0 / self.fps

    def start(self, t0: float | None = None) -> None:
        """Set the grid origin (now by default); the first iteration is due at ``t0``."""
        self.t0 = self.clock() if t0 is None else t0
        self.k = 0
        self.lateness.clear()
        self.starts.clear()
        self.work.clear()
        self.end = self.t0

    def deadline(self, k: int | None = None) -> float:
        return self.t0 + (self.k if k is None else k) * self.period

    def wait(self) -> float:
        """Sleep until iteration ``k`` is due; returns (and records) how late it starts, in seconds."""
        due = self.deadline()
        now = self.clock()
        if now < due:
            self.sleep(due - now)
            now = self.clock()
        late = max(0.0, now - due)
        self.lateness.append(late)
        self.starts.append(now)
        return late

    def done(self) -> None:
        """Mark the end of iteration ``k``'s work and move to ``k + 1``."""
        now = self.clock()
        if self.starts:
            self.work.append(now - self.starts[-1])
        self.end = now
        self.k += 1

    def timing(self, duplicated_frames: int = 0) -> EpisodeTiming:
        n = len(self.lateness)
        lat_ms = np.asarray(self.lateness, dtype=np.float64) * 1000 if n else np.zeros(1)
        span = self.starts[-1] - self.starts[0] if n > 1 else 0.0
        achieved = (n - 1) / span if span > 0 else float(self.fps if n else 0)
        return EpisodeTiming(
            frames=n,
            duration_s=max(0.0, self.end - self.t0),
            achieved_fps=achieved,
            jitter_p50_ms=float(np.percentile(lat_ms, 50)),
            jitter_p99_ms=float(np.percentile(lat_ms, 99)),
            jitter_max_ms=float(lat_ms.max()),
            late_frames=int(sum(1 for x in self.lateness if x > self.late_threshold * self.period)),
            overruns=int(sum(1 for w in self.work if w > self.period)),
            duplicated_frames=duplicated_frames,
        )
