"""The stats pass's frame hook feeds the quality camera signals: one decode, same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robopipe.quality.camera import LumaCollector, decode_file_stats
from robopipe.stats.recompute import plan_recompute
from robopipe.stats.units import run_unit


def test_stats_decode_feeds_the_same_luma_signals(defect_root: Path, tmp_path: Path) -> None:
    plan = plan_recompute(defect_root)
    (unit,) = [u for u in plan.units if u.kind == "video"]
    path = defect_root / unit.path
    direct = decode_file_stats(path, [(e.index, e.length, e.from_ts) for e in unit.episodes], 20, 4)
    collector = LumaCollector(path, [(e.index, e.length) for e in unit.episodes], 4)
    staging = tmp_path / "staging"
    staging.mkdir()
    run_unit(defect_root, unit, plan.features, plan.fps, staging, on_frame=collector.add)
    hooked = collector.result()
    assert sorted(hooked) == sorted(direct) == list(range(8))
    for ep in direct:
        np.testing.assert_array_equal(hooked[ep], direct[ep])
    assert hooked[5][30:45, 0].max() <= 24  # the black segment
