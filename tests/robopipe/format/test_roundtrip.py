"""Write -> read round trips for every feature kind, multiple files, cameras of different sizes, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robopipe.errors import DatasetExistsError, FrameError, SchemaMismatchError
from robopipe.format import layout
from robopipe.format.reader import DatasetReader
from robopipe.format.writer import DatasetWriter
from tests.fixtures.datasets import default_features, episode_columns, make_dataset


def _assert_numeric_equal(reader: DatasetReader, features: dict, lengths: list[int], seed: int = 0) -> None:
    for e, n in enumerate(lengths):
        cols = episode_columns(features, n, e, seed)
        for key, spec in features.items():
            if spec["dtype"] in ("float32", "float64", "int64", "int32", "bool"):
                np.testing.assert_array_equal(reader.column(key, e), cols[key])


def _assert_same_frames(decoded: np.ndarray, source: np.ndarray, tol: float = 10.0) -> None:
    """Each decoded frame is within codec tolerance of its source and closer to it than to any other."""
    assert decoded.shape == source.shape
    err = np.abs(decoded[:, None].astype(np.int16) - source[None].astype(np.int16)).mean(axis=(2, 3, 4))
    assert (err.argmin(axis=1) == np.arange(len(source))).all(), err
    assert err.diagonal().max() < tol, err.diagonal()


def test_numeric_string_and_defaults_roundtrip(tmp_path: Path) -> None:
    extra = {
        "note": {"dtype": "string", "shape": [1], "names": None},
        "next.reward": {"dtype": "float32", "shape": [1], "names": None},
        "grid": {"dtype": "int64", "shape": [2, 3], "names": None},
    }
    root = make_dataset(tmp_path / "ds", episodes=3, frames=[5, 7, 4], cameras={}, extra_features=extra)
    r = DatasetReader(root)
    assert (r.num_episodes, r.num_frames) == (3, 16)
    feats = default_features({}) | extra
    _assert_numeric_equal(r, feats, [5, 7, 4])
    ep1 = r.read_episode(1)
    assert ep1["frame_index"].to_pylist() == list(range(7))
    assert ep1["index"].to_pylist() == list(range(5, 12))
    assert ep1["episode_index"].to_pylist() == [1] * 7
    np.testing.assert_allclose(ep1["timestamp"].to_numpy(), np.arange(7, dtype=np.float32) / 10)
    assert ep1["note"].to_pylist() == [f"note 1-{i}" for i in range(7)]
    assert r.tasks == ["pick the cube", "place the cube"]
    assert [r.tasks[t] for t in ep1["task_index"].to_pylist()] == ["place the cube"] * 7
    # info.json carries the defaults and LeRobot's totals
    info = json.loads((root / "meta/info.json").read_text())
    assert (
        info["codebase_version"] == "v3.0" and info["total_tasks"] == 2 and info["splits"] == {"train": "0:3"}
    )
    assert list(info["features"])[-5:] == ["timestamp", "frame_index", "episode_index", "index", "task_index"]
    # one row group per episode, tasks in pandas-index form named "task"
    assert pq.ParquetFile(root / "data/chunk-000/file-000.parquet").metadata.num_row_groups == 3
    assert pq.read_schema(root / "meta/tasks.parquet").names == ["task_index", "task"]
    # per-episode metadata columns and stats columns exist
    eps = r.episodes
    assert eps["success"].tolist() == [True, False, True]
    full = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")
    assert (
        "stats/observation.state/q99" in full.column_names
        and full.column_names[-1] == "meta/episodes/file_index"
    )
    assert np.asarray(r.episode_stats(2)["observation.state"]["count"]).tolist() == [4]
    assert not (root / ".staging").exists()


def test_video_cameras_of_different_sizes_roundtrip(tmp_path: Path) -> None:
    cams = {"front": (48, 64), "wrist": (32, 32)}
    root = make_dataset(tmp_path / "ds", episodes=2, frames=[6, 9], cameras=cams, codec="h264")
    r = DatasetReader(root)
    feats = default_features(cams)
    for e, n in enumerate([6, 9]):
        cols = episode_columns(feats, n, e)
        for key in ("observation.images.front", "observation.images.wrist"):
            path, start, end = r.video_span(key, e)
            assert path.exists() and end - start == pytest.approx(n / 10)
            frames = np.stack(list(r.iter_video_frames(key, e)))
            assert frames.shape == cols[key].shape
            _assert_same_frames(frames, cols[key])
            some = r.decode_frames(key, e, [0.0, (n - 1) / 10])
            np.testing.assert_array_equal(some, frames[[0, n - 1]])
    info = r.features["observation.images.wrist"].info
    assert info is not None and info["video.codec"] == "h264" and info["video.width"] == 32
    assert "observation.images.front" not in pq.read_schema(root / "data/chunk-000/file-000.parquet").names


def test_image_mode_stores_png_bytes(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=4, camera_dtype="image")
    r = DatasetReader(root)
    assert r.features["observation.images.front"].dtype == "image"
    expected = episode_columns(default_features({"front": (48, 64)}, "image"), 4, 1)[
        "observation.images.front"
    ]
    np.testing.assert_array_equal(r.decode_image("observation.images.front", 1, 2), expected[2])
    cell = r.read_episode(1, ["observation.images.front"])["observation.images.front"][0].as_py()
    assert cell["bytes"][:4] == b"\x89PNG" and cell["path"] == "frame-000000.png"


def test_small_size_limits_roll_over_files(tmp_path: Path) -> None:
    root = make_dataset(
        tmp_path / "ds",
        episodes=6,
        frames=20,
        cameras={"front": (64, 64)},
        data_files_size_in_mb=0.004,
        video_files_size_in_mb=0.004,
        chunks_size=2,
        codec="h264",
    )
    data = layout.sorted_files(root, "data", ".parquet")
    videos = layout.sorted_files(root, "videos/observation.images.front", ".mp4")
    assert len(data) > 1 and len(videos) > 1
    assert any("chunk-001" in str(p) for p in data)  # chunks_size=2 -> third file opens chunk 1
    r = DatasetReader(root)
    assert len(r.to_pandas()) == 120 and r.to_pandas()["index"].tolist() == list(range(120))
    for e in range(6):
        _path, start, end = r.video_span("observation.images.front", e)
        assert end - start == pytest.approx(2.0)
        assert len(list(r.iter_video_frames("observation.images.front", e))) == 20
    _assert_numeric_equal(r, default_features({}), [20] * 6)


def test_resume_appends_in_new_files(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=5, codec="h264")
    feats = default_features({"front": (48, 64)})
    with DatasetWriter.open(root, fps=10, features=feats) as w:
        for e in (2, 3):
            w.add_episode(episode_columns(feats, 5, e), task="new task")
    r = DatasetReader(root)
    assert (r.num_episodes, r.num_frames) == (4, 20)
    assert r.tasks == ["pick the cube", "place the cube", "new task"]
    assert [p.name for p in layout.sorted_files(root, "data", ".parquet")] == [
        "file-000.parquet",
        "file-001.parquet",
    ]
    assert r.episodes["data/file_index"].tolist() == [0, 0, 1, 1]
    assert r.episodes["meta/episodes/file_index"].tolist() == [0, 0, 1, 1]
    _assert_numeric_equal(r, default_features({}), [5] * 4)
    assert len(list(r.iter_video_frames("observation.images.front", 3))) == 5


def test_resume_rejects_different_schema(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=1, frames=3, cameras={})
    with pytest.raises(SchemaMismatchError, match="fps: dataset has 10, got 30"):
        DatasetWriter.open(root, fps=30)
    feats = default_features({}) | {"extra": {"dtype": "float32", "shape": [2], "names": None}}
    with pytest.raises(SchemaMismatchError, match="'extra'"):
        DatasetWriter.open(root, features=feats)
    with pytest.raises(DatasetExistsError):
        DatasetWriter.create(root, fps=10, features=feats)


def test_bad_frames_are_rejected_with_clear_errors(tmp_path: Path) -> None:
    feats = default_features({"front": (48, 64)})
    w = DatasetWriter.create(tmp_path / "ds", fps=10, features=feats)
    ok = {k: v[0] for k, v in episode_columns(feats, 1, 0).items()}
    with pytest.raises(FrameError, match=r"'observation.state': expected shape \(6,\), got \(5,\)"):
        w.add_frame({**ok, "observation.state": np.zeros(5, np.float32)}, task="t")
    with pytest.raises(FrameError, match="expected uint8"):
        w.add_frame({**ok, "observation.images.front": np.zeros((48, 64, 3), np.float32)}, task="t")
    with pytest.raises(FrameError, match=r"missing features \['action'\]"):
        w.add_frame({k: v for k, v in ok.items() if k != "action"}, task="t")
    with pytest.raises(FrameError, match="no frames"):
        w.save_episode()
    with pytest.raises(ValueError, match="must not contain '/'"):
        DatasetWriter.create(tmp_path / "bad", fps=10, features={"a/b": {"dtype": "float32", "shape": [1]}})
    w.finalize()


def test_clear_episode_leaves_nothing_and_finalize_is_idempotent(tmp_path: Path) -> None:
    feats = default_features({"front": (48, 64)})
    w = DatasetWriter.create(tmp_path / "ds", fps=10, features=feats, encoder=None)
    cols = episode_columns(feats, 6, 0)
    for i in range(4):
        w.add_frame({k: v[i] for k, v in cols.items()}, task="discarded")
    w.clear_episode()
    w.add_episode(cols, task="kept")
    w.finalize()
    w.finalize()
    r = DatasetReader(tmp_path / "ds")
    assert (r.num_episodes, r.num_frames, r.tasks) == (1, 6, ["kept"])
    assert len(list(r.iter_video_frames("observation.images.front", 0))) == 6
    assert not (tmp_path / "ds" / ".staging").exists()


def test_frames_by_global_index_in_any_order(tmp_path: Path) -> None:
    root = make_dataset(
        tmp_path / "ds", episodes=3, frames=[4, 5, 6], cameras={}, data_files_size_in_mb=0.002
    )
    r = DatasetReader(root)
    t = r.read_frames([14, 0, 9, 4], columns=["observation.state", "episode_index", "frame_index"])
    assert t["episode_index"].to_pylist() == [2, 0, 2, 1]
    assert t["frame_index"].to_pylist() == [5, 0, 0, 0]
    want = episode_columns(default_features({}), 6, 2)["observation.state"][5]
    np.testing.assert_array_equal(np.asarray(t["observation.state"][0].as_py(), np.float32), want)
    with pytest.raises(IndexError, match="out of range"):
        r.read_frames([15])
