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


def test_stats_with_quality_is_one_pass_with_both_results(defect_root: Path, tmp_path: Path) -> None:
    import shutil

    from robopipe.execution import ThreadExecutor
    from robopipe.quality.single_pass import stats_with_quality
    from robopipe.stats.recompute import StatsRequest, recompute_stats

    twin = tmp_path / "twin"
    shutil.copytree(defect_root, twin)
    compute_quality(defect_root)
    standalone = read_episodes(defect_root)
    recompute_stats(StatsRequest(root=twin))
    stats_json = (twin / "meta/stats.json").read_text()
    with ThreadExecutor(2) as threads:
        stats, quality = stats_with_quality(StatsRequest(root=defect_root), executor=threads)
    assert stats.episodes == quality.episodes == 8
    assert read_episodes(defect_root) == standalone
    assert (defect_root / "meta/stats.json").read_text() == stats_json  # the stats are unchanged by it
    assert not list((defect_root / "meta/robopipe").glob(".*-staging-*"))
