"""Scripted human operators moving back-drivable (leader) joints in the simulator."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field


@dataclass
class SineOperator:
    """Each joint swings around ``centers`` with ``amplitudes`` (counts) for ``motion_s`` seconds, then holds.

    Positions are shaft counts (what the hand moves, independent of homing offsets); ``motion_s=None`` keeps
    moving forever.
    """

    centers: list[float]
    amplitudes: list[float]
    period_s: float = 4.0
    motion_s: float | None = None
    phases: list[float] = field(default_factory=list)

    def position(self, joint: int, t: float) -> float:
        if self.motion_s is not None:
            t = min(t, self.motion_s)
        phase = self.phases[joint] if joint < len(self.phases) else joint * 0.7
        return self.centers[joint] + self.amplitudes[joint] * math.sin(
            2 * math.pi * t / self.period_s + phase
        )


@dataclass
class WaypointOperator:
    """Linear interpolation through ``(t, [positions per joint])`` waypoints (e.g. a recorded episode)."""

    waypoints: list[tuple[float, list[float]]]

    def position(self, joint: int, t: float) -> float:
        pts = self.waypoints
        if t <= pts[0][0]:
            return pts[0][1][joint]
        for (t0, p0), (t1, p1) in itertools.pairwise(pts):
            if t <= t1:
                a = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return p0[joint] + a * (p1[joint] - p0[joint])
        return pts[-1][1][joint]
