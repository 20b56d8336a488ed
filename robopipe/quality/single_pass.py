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
from pathlib import Path
from typing import TypeVar

from robopipe.execution import Executor, SerialExecutor
from robopipe.format.lock import writer_lock
from robopipe.quality.camera import LumaCollector
from robopipe.quality.config import QualityConfig, load_config
from robopipe.quality.models import QualityReport
from robopipe.quality.recipe import (
    QualityPlan,
    UnitResult,
    finish_quality,
    plan_quality,
    read_staged_unit,
    run_quality_unit,
    stage_unit,
)
from robopipe.stats.recompute import StatsReport, StatsRequest, recompute_stats
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


def stats_with_quality(
    request: StatsRequest,
    config: QualityConfig | Path | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[StatsReport, QualityReport]:
    """``robopipe stats --quality``: the stats recipe with the quality observer, then the quality finish.

    Every mp4 is decoded once for both; the dataset ranges the quality signals use are those of the
    stats.json present before the run (or read from the data when there is none).
    """
    t0 = time.perf_counter()
    cfg = config if isinstance(config, QualityConfig) else load_config(config)
    label = "defaults" if config is None else "custom" if isinstance(config, QualityConfig) else str(config)
    plan = plan_quality(request.root, cfg)
    plan.staging.mkdir(parents=True, exist_ok=True)
    try:
        stats = recompute_stats(request, executor, progress, observer=QualityObserver(plan))
    except BaseException:
        shutil.rmtree(plan.staging, ignore_errors=True)
        raise
    with writer_lock(request.root):
        quality = finish_observed(plan, t0, label, executor)
    return stats, quality
