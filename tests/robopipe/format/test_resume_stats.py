"""``record --resume`` / ``DatasetWriter.open``: meta/stats.json counts every episode exactly once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from robopipe.format.writer import DatasetWriter
from robopipe.stats.recompute import StatsRequest, recompute_stats
from robopipe.validate.engine import validate_dataset
from tests.fixtures.datasets import default_features, episode_columns

FEATS = default_features({"front": (48, 64)})
NUMERIC = ("observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index")


def _write(root: Path, sessions: list[list[int]]) -> dict[str, dict[str, np.ndarray]]:
    for n, episodes in enumerate(sessions):
        w = DatasetWriter.create(root, fps=10, features=FEATS) if n == 0 else DatasetWriter.open(root)
        for e in episodes:
            w.add_episode(episode_columns(FEATS, 6 + e, e), task=f"task {e % 2}")
            if e == 3:
                w.flush()  # a mid-session flush (record --push-every) must not count twice either
        w.finalize()
    return _stats(root)


def _stats(root: Path) -> dict[str, dict[str, np.ndarray]]:
    data = json.loads((root / "meta" / "stats.json").read_text())
    return {f: {s: np.asarray(v, dtype=np.float64) for s, v in st.items()} for f, st in data.items()}


def test_resumed_stats_equal_one_session_and_a_fresh_recompute(tmp_path: Path) -> None:
    resumed = _write(tmp_path / "resumed", [[0, 1], [2], [3, 4]])
    single = _write(tmp_path / "single", [[0, 1, 2, 3, 4]])
    total = sum(6 + e for e in range(5))
    assert resumed.keys() == single.keys()
    for feature, stats in resumed.items():
        assert int(stats["count"].ravel()[0]) == total, feature
        for name, value in stats.items():
            np.testing.assert_allclose(value, single[feature][name], rtol=1e-9, err_msg=f"{feature}/{name}")
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "resumed", fresh)
    recompute_stats(StatsRequest(root=fresh, images=False))
    again = _stats(fresh)
    for feature in NUMERIC:
        for name, value in resumed[feature].items():
            np.testing.assert_allclose(value, again[feature][name], rtol=1e-9, err_msg=f"{feature}/{name}")
    report = validate_dataset(tmp_path / "resumed", gx=False)
    assert not [f for f in report.findings if f.code == "RP505"], report.findings
