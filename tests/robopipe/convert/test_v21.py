"""LeRobot v2.1 -> v3.0: layout, rollover, names, stats, stream-copied videos, LeRobot 0.4.4 load."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robopipe.convert.v21 import V21ConvertRequest, convert_v21
from robopipe.errors import ConversionError
from robopipe.format.reader import DatasetReader
from robopipe.format.video import SegmentEncoder, VideoEncoderConfig
from tests.fixtures.datasets import synthetic_frame

FPS = 10
LENGTHS = [6, 8, 5, 7]
TASKS = ["pick the cube", "place the cube"]


def make_v21(
    root: Path, with_stats: bool = True, camera_names: bool = False
) -> dict[int, dict[str, np.ndarray]]:
    """A LeRobot v2.1 dataset: 4 episodes, state/action, one 48x64 h264 camera, jsonl metadata."""
    rng = np.random.default_rng(3)
    feats = {
        "observation.state": {"dtype": "float32", "shape": [4], "names": ["a", "b", "c", "d"]},
        "action": {"dtype": "float32", "shape": [4], "names": ["a", "b", "c", "d"]},
        "observation.images.top": {
            "dtype": "video",
            "shape": [48, 64, 3],
            "names": ["height", "width", "channel"] if camera_names else None,
            "info": {"video.fps": FPS, "video.codec": "h264"},
        },
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    info = {
        "codebase_version": "v2.1",
        "robot_type": "so100",
        "total_episodes": len(LENGTHS),
        "total_frames": sum(LENGTHS),
        "total_tasks": 2,
        "total_videos": len(LENGTHS),
        "total_chunks": 1,
        "chunks_size": 1000,
        "fps": FPS,
        "splits": {"train": f"0:{len(LENGTHS)}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": feats,
    }
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    (root / "meta" / "tasks.jsonl").write_text(
        "".join(json.dumps({"task_index": i, "task": t}) + "\n" for i, t in enumerate(TASKS))
    )
    eps, stats, src = [], [], {}
    index = 0
    for e, n in enumerate(LENGTHS):
        state = rng.standard_normal((n, 4)).astype(np.float32)
        action = rng.standard_normal((n, 4)).astype(np.float32)
        task_idx = np.full(n, e % 2, dtype=np.int64)
        table = pa.table(
            {
                "observation.state": pa.array(list(state), type=pa.list_(pa.float32(), 4)),
                "action": pa.array(list(action), type=pa.list_(pa.float32(), 4)),
                "timestamp": pa.array((np.arange(n) / FPS).astype(np.float32)),
                "frame_index": pa.array(np.arange(n)),
                "episode_index": pa.array(np.full(n, e)),
                "index": pa.array(np.arange(index, index + n)),
                "task_index": pa.array(task_idx),
            }
        )
        index += n
        d = root / "data" / "chunk-000"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, d / f"episode_{e:06d}.parquet")
        v = root / "videos" / "chunk-000" / "observation.images.top"
        v.mkdir(parents=True, exist_ok=True)
        enc = SegmentEncoder(
            v / f"episode_{e:06d}.mp4", FPS, 64, 48, VideoEncoderConfig(codec="h264", crf=20)
        )
        frames = np.stack([synthetic_frame(48, 64, e, i) for i in range(n)])
        for f in frames:
            enc.put(f)
        assert enc.close() == n
        eps.append({"episode_index": e, "tasks": [TASKS[e % 2]], "length": n})
        st = {
            "observation.state": {
                "min": state.min(0).tolist(),
                "max": state.max(0).tolist(),
                "mean": state.mean(0).tolist(),
                "std": state.std(0).tolist(),
                "count": [n],
            },
            "action": {
                "min": action.min(0).tolist(),
                "max": action.max(0).tolist(),
                "mean": action.mean(0).tolist(),
                "std": action.std(0).tolist(),
                "count": [n],
            },
            "observation.images.top": {
                "min": [[[0.1]]] * 3,
                "max": [[[0.9]]] * 3,
                "mean": [[[0.5]]] * 3,
                "std": [[[0.2]]] * 3,
                "count": [n],
            },
        }
        stats.append({"episode_index": e, "stats": st})
        src[e] = {"state": state, "action": action, "task_index": task_idx}
    (root / "meta" / "episodes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in eps))
    if with_stats:
        (root / "meta" / "episodes_stats.jsonl").write_text("".join(json.dumps(x) + "\n" for x in stats))
    return src


def _decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_v21_port_layout_values_and_stream_copied_video(tmp_path: Path) -> None:
    src_root = tmp_path / "v21"
    src = make_v21(src_root)
    before = sorted((p, p.stat().st_mtime_ns) for p in src_root.rglob("*") if p.is_file())
    out = tmp_path / "v30"
    info = convert_v21(V21ConvertRequest(src=src_root, out=out))
    assert info.total_episodes == 4 and info.total_frames == sum(LENGTHS) and info.codebase_version == "v3.0"
    assert (
        sorted((p, p.stat().st_mtime_ns) for p in src_root.rglob("*") if p.is_file()) == before
    )  # input untouched
    raw = json.loads((out / "meta" / "info.json").read_text())
    assert raw["features"]["observation.images.top"]["names"] == ["height", "width", "channels"]
    assert raw["features"]["observation.images.top"]["info"]["video.codec"] == "h264"
    assert "total_videos" not in raw and "total_chunks" not in raw
    r = DatasetReader(out)
    assert r.tasks == TASKS
    for e, _n in enumerate(LENGTHS):
        t = r.read_episode(e).to_pandas()
        np.testing.assert_array_equal(np.stack(t["observation.state"].to_numpy()), src[e]["state"])
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), src[e]["action"])
        np.testing.assert_array_equal(t["task_index"].to_numpy(), src[e]["task_index"])
        st = r.episode_stats(e)
        np.testing.assert_allclose(st["observation.state"]["mean"], src[e]["state"].mean(0), rtol=1e-6)
    # stream copy: the output packets are exactly the v2.1 packets, in order
    copied = _packets(out / "videos" / "observation.images.top" / "chunk-000" / "file-000.mp4")
    original = [
        p
        for e in range(4)
        for p in _packets(src_root / "videos/chunk-000/observation.images.top" / f"episode_{e:06d}.mp4")
    ]
    assert copied == original
    frames = _decode_all(out / "videos" / "observation.images.top" / "chunk-000" / "file-000.mp4")
    eps = r.episodes
    for e in range(4):
        first = round(float(eps["videos/observation.images.top/from_timestamp"][e]) * FPS)
        want = _decode_all(src_root / "videos/chunk-000/observation.images.top" / f"episode_{e:06d}.mp4")
        np.testing.assert_array_equal(np.stack(frames[first : first + LENGTHS[e]]), np.stack(want))
    stats = json.loads((out / "meta" / "stats.json").read_text())
    assert stats["observation.state"]["count"] == [sum(LENGTHS)]
    np.testing.assert_allclose(
        stats["observation.state"]["mean"],
        np.concatenate([src[e]["state"] for e in range(4)]).mean(0),
        rtol=1e-5,
    )


def test_v21_rollover_puts_the_overflowing_episode_in_the_new_file(tmp_path: Path) -> None:
    src_root = tmp_path / "v21"
    make_v21(src_root, with_stats=False)
    one = pq.read_table(src_root / "data/chunk-000/episode_000000.parquet").nbytes / 2**20
    out = tmp_path / "v30"
    # room for about two episodes per data file; every video file holds one episode
    convert_v21(
        V21ConvertRequest(src=src_root, out=out, data_files_size_in_mb=one * 2.2, video_files_size_in_mb=1e-6)
    )
    r = DatasetReader(out)
    eps = r.episodes
    files = list(zip(eps["data/chunk_index"], eps["data/file_index"]))
    assert files[0] == (0, 0) and files[-1] != (0, 0)
    for f in set(files):  # each file holds exactly the episodes that point at it, in order
        t = pq.read_table(out / f"data/chunk-{f[0]:03d}/file-{f[1]:03d}.parquet")
        assert sorted(set(t["episode_index"].to_pylist())) == [e for e, g in enumerate(files) if g == f]
    vfiles = list(eps["videos/observation.images.top/file_index"])
    assert vfiles == [0, 1, 2, 3]
    assert all(float(x) == 0.0 for x in eps["videos/observation.images.top/from_timestamp"])
    stats = r.episode_stats(0)  # recomputed (no episodes_stats.jsonl), cameras from decoded frames
    assert stats["observation.images.top"]["mean"].shape == (3, 1, 1)
    assert 0.0 < float(stats["observation.images.top"]["mean"].mean()) < 1.0


def test_v21_rejects_v3_and_missing_episodes(tmp_path: Path) -> None:
    (tmp_path / "x" / "meta").mkdir(parents=True)
    (tmp_path / "x" / "meta" / "info.json").write_text(
        json.dumps({"codebase_version": "v3.0", "fps": 10, "features": {}})
    )
    with pytest.raises(ConversionError, match="expected v2"):
        convert_v21(V21ConvertRequest(src=tmp_path / "x", out=tmp_path / "o"))


@pytest.mark.lerobot
def test_v21_port_loads_in_lerobot(tmp_path: Path, lerobot_python: str) -> None:
    from tests.fixtures.lerobot_ref import run_reference

    src_root = tmp_path / "v21"
    src = make_v21(src_root)
    out = tmp_path / "v30"
    convert_v21(
        V21ConvertRequest(src=src_root, out=out, data_files_size_in_mb=0.001, video_files_size_in_mb=0.005)
    )
    code = f"""
import json
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/v21", root={str(out)!r})
rows = [(int(ds[i]["episode_index"]), ds[i]["task"], ds[i]["observation.state"].numpy().tolist(),
         list(ds[i]["observation.images.top"].shape)) for i in range(len(ds))]
print(json.dumps({{"len": len(ds), "rows": rows}}))
"""
    got = run_reference(code, tmp_path / "ref", python=lerobot_python)
    assert got["len"] == sum(LENGTHS)
    i = 0
    for e, n in enumerate(LENGTHS):
        for t in range(n):
            ep, task, state, shape = got["rows"][i]
            assert ep == e and task == TASKS[e % 2] and shape == [3, 48, 64]
            np.testing.assert_array_equal(np.asarray(state, np.float32), src[e]["state"][t])
            i += 1
