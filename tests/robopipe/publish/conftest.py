"""Fixtures for publishing tests: a tiny v3.0 dataset folder written directly with pyarrow/pandas.

Written by hand (not by the DatasetWriter) so these tests only exercise publishing: meta/info.json with a few
features, meta/tasks.parquet, meta/episodes/chunk-000/file-000.parquet (with a ``success`` column),
data/chunk-000/file-000.parquet and meta/stats.json. ``cameras=True`` declares one video feature and writes a
placeholder mp4 (publishing never decodes videos). ``images/`` and ``.staging/`` junk is added to check that
they are never published.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robopipe.publish.retry import RetryPolicy

TOKEN = "hf_test_write_token"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def make_dataset(
    root: Path,
    lengths: tuple[int, ...] = (4, 6, 5),
    success: tuple[bool, ...] | None = (True, False, True),
    tasks: tuple[str, ...] = ("pick the cube", "place the cube"),
    cameras: bool = False,
    seed: int = 0,
    fps: int = 10,
) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    n = sum(lengths)
    features: dict[str, dict] = {
        "observation.state": {"dtype": "float32", "shape": [3], "names": ["x", "y", "z"]},
        "action": {"dtype": "float32", "shape": [3], "names": ["x", "y", "z"]},
    }
    if cameras:
        features["observation.images.front"] = {
            "dtype": "video",
            "shape": [48, 64, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": 48,
                "video.width": 64,
                "video.codec": "av1",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    for k in ("timestamp",):
        features[k] = {"dtype": "float32", "shape": [1], "names": None}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        features[k] = {"dtype": "int64", "shape": [1], "names": None}
    info = {
        "codebase_version": "v3.0",
        "robot_type": "so101",
        "total_episodes": len(lengths),
        "total_frames": n,
        "total_tasks": len(tasks),
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": fps,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
        if cameras
        else None,
        "features": features,
    }
    (root / "meta").mkdir(exist_ok=True)
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))

    tasks_df = pd.DataFrame({"task_index": np.arange(len(tasks), dtype=np.int64)}, index=pd.Index(tasks))
    tasks_df.to_parquet(root / "meta/tasks.parquet")

    state = rng.normal(size=(n, 3)).astype(np.float32)
    action = rng.normal(size=(n, 3)).astype(np.float32)
    ep_index = np.repeat(np.arange(len(lengths)), lengths).astype(np.int64)
    frame_index = np.concatenate([np.arange(k) for k in lengths]).astype(np.int64)
    task_index = np.array([e % len(tasks) for e in ep_index], dtype=np.int64)
    data = pa.table(
        {
            "observation.state": pa.array(list(state), type=pa.list_(pa.float32(), 3)),
            "action": pa.array(list(action), type=pa.list_(pa.float32(), 3)),
            "timestamp": pa.array((frame_index / fps).astype(np.float32)),
            "frame_index": pa.array(frame_index),
            "episode_index": pa.array(ep_index),
            "index": pa.array(np.arange(n, dtype=np.int64)),
            "task_index": pa.array(task_index),
        }
    )
    (root / "data/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(data, root / "data/chunk-000/file-000.parquet")

    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    episodes: dict[str, pa.Array] = {
        "episode_index": pa.array(np.arange(len(lengths), dtype=np.int64)),
        "tasks": pa.array([[tasks[e % len(tasks)]] for e in range(len(lengths))], type=pa.list_(pa.string())),
        "length": pa.array(np.array(lengths, dtype=np.int64)),
        "data/chunk_index": pa.array(np.zeros(len(lengths), dtype=np.int64)),
        "data/file_index": pa.array(np.zeros(len(lengths), dtype=np.int64)),
        "dataset_from_index": pa.array(starts),
        "dataset_to_index": pa.array(starts + np.array(lengths)),
    }
    if success is not None:  # repeated to the number of episodes
        episodes["success"] = pa.array([success[i % len(success)] for i in range(len(lengths))])
    (root / "meta/episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(episodes), root / "meta/episodes/chunk-000/file-000.parquet")

    def st(x: np.ndarray) -> dict:
        return {
            "min": x.min(0).tolist(),
            "max": x.max(0).tolist(),
            "mean": x.mean(0).tolist(),
            "std": x.std(0).tolist(),
            "count": [len(x)],
        }

    stats = {
        "observation.state": st(state),
        "action": st(action),
        "index": st(np.arange(n)[:, None]),
        "timestamp": st((frame_index / fps).astype(np.float32)[:, None]),
        "frame_index": st(frame_index[:, None]),
        "episode_index": st(ep_index[:, None]),
        "task_index": st(task_index[:, None]),
    }  # every feature, so the dataset validates (publish refuses invalid datasets)
    (root / "meta/stats.json").write_text(json.dumps(stats, indent=4))
    if cameras:
        vid = root / "videos/observation.images.front/chunk-000/file-000.mp4"
        vid.parent.mkdir(parents=True, exist_ok=True)
        vid.write_bytes(b"\x00\x00\x00\x18ftypisom" + rng.bytes(2048))  # placeholder, never decoded
    # Things a publish must never send.
    (root / "images/observation.images.front/episode-000000").mkdir(parents=True, exist_ok=True)
    (root / "images/observation.images.front/episode-000000/frame-000000.png").write_bytes(b"png")
    (root / ".staging").mkdir(exist_ok=True)
    (root / ".staging/partial.parquet").write_bytes(b"partial")
    (root / "meta/.info.json.tmp-1-0").write_text("{}")
    return root


@pytest.fixture
def dataset_factory(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def factory(**kwargs: object) -> Path:
        return make_dataset(tmp_path / f"ds{next(counter)}", **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def tiny_dataset(dataset_factory: Callable[..., Path]) -> Path:
    return dataset_factory()
