"""Quality computed inside the stats units (one decode) equals the standalone quality recipe."""

from __future__ import annotations

import time
from pathlib import Path

from robopipe.quality import compute_quality, load_config, plan_quality
from robopipe.quality.single_pass import QualityObserver, finish_observed
from robopipe.quality.store import read_episodes
from robopipe.stats.recompute import plan_recompute
from robopipe.stats.units import run_unit


def test_observer_in_stats_units_matches_standalone(defect_root: Path, tmp_path: Path) -> None:
    compute_quality(defect_root)
    standalone = read_episodes(defect_root)
    frames = (defect_root / "meta/robopipe/quality/frames.parquet").read_bytes()

    stats = plan_recompute(defect_root)
    qplan = plan_quality(defect_root, load_config())
    qplan.staging.mkdir(parents=True)
    observer = QualityObserver(qplan)
    staging = tmp_path / "stats-staging"
    staging.mkdir()
    video = [u for u in stats.units if u.kind == "video"]
    for unit in stats.units[:-1] if video else stats.units:  # the last unit is left to finish_observed
        observer.run(
            unit,
            lambda hook, u=unit: run_unit(defect_root, u, stats.features, stats.fps, staging, on_frame=hook),
        )
    report = finish_observed(qplan, time.perf_counter(), "defaults")
    assert read_episodes(defect_root) == standalone
    assert (defect_root / "meta/robopipe/quality/frames.parquet").read_bytes() == frames
    assert report.episodes == 8 and not qplan.staging.exists()
