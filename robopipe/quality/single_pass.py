"""Quality signals inside the stats pass: one decode of each mp4 serves both stages (core layer).

:class:`QualityObserver` wraps the stats unit function: for a video unit it hands the stats decode loop a
frame hook (:class:`~robopipe.quality.camera.LumaCollector`), for a data unit it computes the numeric
signals next to the stats; either way it stages the unit's quality results under the quality plan's
staging folder. :func:`finish_observed` completes the stage after the stats recipe has run (units the
stats pass skipped, e.g. videos under ``--no-images``, are computed then).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from robopipe.execution import Executor, SerialExecutor
from robopipe.quality.camera import LumaCollector
from robopipe.quality.models import QualityReport
from robopipe.quality.recipe import (
    QualityPlan,
    UnitResult,
    finish_quality,
    read_staged_unit,
    run_quality_unit,
    stage_unit,
)
from robopipe.stats.units import FrameHook, Unit

S = TypeVar("S")


@dataclass(frozen=True)
class QualityObserver:
    """Picklable: runs on whichever worker runs the stats unit."""

    plan: QualityPlan

    def run(self, unit: Unit, stats: Callable[[FrameHook | None], S]) -> S:
        """``stats(hook)`` computes the unit's stats; the quality results of ``unit`` are staged too."""
        if unit.kind == "video":
            collector = LumaCollector(
                self.plan.root / unit.path,
                [(e.index, e.length) for e in unit.episodes],
                self.plan.config.camera.subsample,
            )
            out = stats(collector.add)
            stage_unit(self.plan.staging, UnitResult(unit.uid, {}, collector.result(), unit.key))
            return out
        out = stats(None)
        run_quality_unit(self.plan, unit)
        return out


def finish_observed(
    plan: QualityPlan, t0: float, label: str, executor: Executor | None = None
) -> QualityReport:
    """Join what the observer staged (computing units it never saw), score, store; drops the staging."""
    try:
        staged = {p.stem.split("-")[-1] for p in plan.staging.glob("unit-*.json")}
        missing = [u for u in plan.units if f"{u.uid:06d}" not in staged]
        if missing:
            (executor or SerialExecutor()).map(run_quality_unit, plan, missing, label="quality").results()
        results = [read_staged_unit(plan.staging, u.uid) for u in plan.units]
    finally:
        shutil.rmtree(plan.staging, ignore_errors=True)
    return finish_quality(plan, results, time.perf_counter() - t0, label)
