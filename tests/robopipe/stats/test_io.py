"""Sketch side files and stats.json persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robopipe.errors import CorruptFileError
from robopipe.format.features import FeatureSpec
from robopipe.stats import (
    ImageStatsAccumulator,
    load_stats_json,
    merge_all,
    read_sketches,
    sketch_path,
    summarize_episode,
    write_sketch_file,
    write_stats_json,
)

FEATS = {"a": FeatureSpec(dtype="float32", shape=(3,)), "cam": FeatureSpec(dtype="video", shape=(8, 8, 3))}


def _episode(seed: int) -> object:
    rng = np.random.default_rng(seed)
    acc = ImageStatsAccumulator(3)
    for _ in range(4):
        acc.add(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return summarize_episode({"a": rng.normal(size=(6, 3)).astype(np.float32)}, FEATS, {"cam": acc})


def test_sketch_files_round_trip(tmp_path: Path) -> None:
    eps = [_episode(i) for i in range(5)]
    write_sketch_file(tmp_path, 0, 0, [(i, e.sketch) for i, e in enumerate(eps[:3])])
    p = write_sketch_file(tmp_path, 0, 1, [(i + 3, e.sketch) for i, e in enumerate(eps[3:])])
    assert p == sketch_path(tmp_path, 0, 1) and p.as_posix().endswith(
        "meta/robopipe/sketches/chunk-000/file-001.parquet"
    )
    got = read_sketches(tmp_path)
    assert sorted(got) == [0, 1, 2, 3, 4]
    assert all(got[i] == eps[i].sketch for i in range(5))
    assert not list(tmp_path.rglob(".*tmp-*"))


def test_stats_json_layout(tmp_path: Path) -> None:
    assert load_stats_json(tmp_path) is None
    total = merge_all(e.sketch for e in (_episode(i) for i in range(3)))
    write_stats_json(tmp_path, total)
    raw = json.loads((tmp_path / "meta/stats.json").read_text())
    assert set(raw) == {"a", "cam"}
    assert set(raw["cam"]) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
    assert np.asarray(raw["cam"]["mean"]).shape == (3, 1, 1) and raw["cam"]["count"] == [12]
    assert raw["a"]["count"] == [18]
    loaded = load_stats_json(tmp_path)
    assert loaded is not None
    np.testing.assert_allclose(loaded["a"]["mean"], total["a"].to_lerobot()["mean"])


def test_corrupt_sketch_file(tmp_path: Path) -> None:
    p = sketch_path(tmp_path, 0, 0)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"not parquet")
    with pytest.raises(CorruptFileError, match="robopipe stats"):
        read_sketches(tmp_path)
