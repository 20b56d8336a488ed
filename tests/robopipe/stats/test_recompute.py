"""Recompute stats of finished datasets in-process (the Dask runner runs the same functions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robopipe.errors import NonFiniteValuesError
from robopipe.format.episodes import load_episodes, stats_from_row
from robopipe.stats import load_stats_json, read_sketches
from robopipe.stats.recompute import StatsRequest, plan_recompute, recompute_stats
from tests.fixtures.datasets import make_dataset

NUMERIC = ("observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index")


@pytest.fixture(scope="module")
def video_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stats") / "video"
    return make_dataset(
        root,
        episodes=4,
        frames=[5, 9, 1, 6],
        cameras={"front": (48, 64)},
        data_files_size_in_mb=0.0001,
        codec="h264",
    )


def _episode_stats(root: Path) -> list[dict[str, dict[str, np.ndarray]]]:
    df = load_episodes(root)
    return [stats_from_row(df.iloc[i].to_dict()) for i in range(len(df))]


def test_plan_is_per_file_not_per_episode(video_ds: Path) -> None:
    plan = plan_recompute(video_ds)
    kinds = [u.kind for u in plan.units]
    assert kinds.count("video") == len({u.path for u in plan.units if u.kind == "video"})
    assert sum(len(u.episodes) for u in plan.units if u.kind == "data") == 4
    assert plan.num_frames == 21


def test_recompute_reproduces_writer_stats(video_ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(video_ds, root)
    before = _episode_stats(root)
    schema_before = pq.read_schema(next((root / "meta/episodes").rglob("*.parquet")))
    report = recompute_stats(StatsRequest(root=root))
    assert report.episodes == 4 and report.frames == 21 and report.video_files >= 1
    after = _episode_stats(root)
    for b, a in zip(before, after):
        assert b.keys() == a.keys()
        for f in NUMERIC:
            for s, v in b[f].items():
                np.testing.assert_allclose(a[f][s], v, rtol=1e-7, atol=1e-9, err_msg=f"{f}/{s}")
        cam = a["observation.images.front"]
        assert cam["mean"].shape == (3, 1, 1)
        assert cam["count"].tolist() == b["observation.images.front"]["count"].tolist()
        # decoded (lossy) frames vs the writer's raw frames: close, not equal
        np.testing.assert_allclose(cam["mean"], b["observation.images.front"]["mean"], atol=0.03)
    assert pq.read_schema(next((root / "meta/episodes").rglob("*.parquet"))).equals(schema_before)
    assert sorted(read_sketches(root)) == [0, 1, 2, 3]
    stats = load_stats_json(root)
    assert stats is not None and stats["index"]["count"].tolist() == [21]
    np.testing.assert_allclose(stats["index"]["mean"], [10.0])
    assert not list((root / "meta/robopipe").glob(".stats-staging-*"))


def test_no_images_keeps_camera_stats(video_ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(video_ds, root)
    old_json = json.loads((root / "meta/stats.json").read_text())
    before = _episode_stats(root)
    report = recompute_stats(StatsRequest(root=root, images=False))
    assert report.kept_features == ["observation.images.front"] and report.video_files == 0
    after = _episode_stats(root)
    for b, a in zip(before, after):
        for s, v in b["observation.images.front"].items():
            np.testing.assert_array_equal(a["observation.images.front"][s], v)
    new_json = json.loads((root / "meta/stats.json").read_text())
    assert new_json["observation.images.front"] == old_json["observation.images.front"]
    assert all("observation.images.front" in s for s in read_sketches(root).values())


def test_png_image_features(tmp_path: Path) -> None:
    root = make_dataset(
        tmp_path / "img", episodes=2, frames=[4, 3], cameras={"wrist": (24, 32)}, camera_dtype="image"
    )
    before = _episode_stats(root)
    recompute_stats(StatsRequest(root=root))
    after = _episode_stats(root)
    for b, a in zip(before, after):
        for s, v in b["observation.images.wrist"].items():  # PNG is lossless: equal
            np.testing.assert_allclose(a["observation.images.wrist"][s], v, rtol=1e-12, err_msg=s)


def test_nonfinite_values(tmp_path: Path) -> None:
    extra = {"obs.force": {"dtype": "float32", "shape": [2], "names": ["fx", "fy"]}}
    root = make_dataset(tmp_path / "nan", episodes=2, frames=5, cameras={}, extra_features=extra)
    data = next((root / "data").rglob("*.parquet"))
    t = pq.read_table(data)
    col = t["obs.force"].to_pylist()
    col[3] = [float("nan"), 1.0]
    import pyarrow as pa

    t = t.set_column(
        t.column_names.index("obs.force"), "obs.force", pa.array(col, t.schema.field("obs.force").type)
    )
    pq.write_table(t, data)
    with pytest.raises(NonFiniteValuesError, match=r"'obs\.force': 1 NaN/Inf values \(dim 0: 1\)"):
        recompute_stats(StatsRequest(root=root))
    assert not list((root / "meta/robopipe").glob(".stats-staging-*"))
    recompute_stats(StatsRequest(root=root, skip_nonfinite=True))
    ep0 = _episode_stats(root)[0]["obs.force"]
    assert np.isfinite(ep0["mean"]).all()
