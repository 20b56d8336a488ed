"""Compatibility with LeRobot 0.4.4 (marker ``lerobot``): both directions, item for item."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import default_features, episode_columns, make_dataset
from tests.fixtures.lerobot_ref import run_reference

pytestmark = pytest.mark.lerobot

LOAD_ALL = """
import json, sys, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/test", root=sys.argv[1] if len(sys.argv) > 1 else {root!r})
items = []
for i in range(len(ds)):
    it = ds[i]
    row = {{}}
    for k, v in it.items():
        if hasattr(v, "numpy"):
            v = v.numpy()
            if v.ndim == 3:  # camera CHW float in [0,1] -> mean value per channel, plus a pixel sample
                row[k] = {{"shape": list(v.shape), "pix": (v[:, ::8, ::8] * 255).round().astype(int).tolist()}}
                continue
            row[k] = v.tolist()
        else:
            row[k] = v
    items.append(row)
print(json.dumps({{"len": len(ds), "num_episodes": ds.num_episodes, "items": items}}))
"""


@pytest.mark.slow
def test_robopipe_dataset_loads_in_lerobot_item_for_item(tmp_path: Path, lerobot_python: str) -> None:
    cams = {"front": (48, 64), "wrist": (32, 48)}
    extra = {"next.reward": {"dtype": "float32", "shape": [1], "names": None}}
    lengths = [6, 9, 5]
    root = make_dataset(
        tmp_path / "ds",
        episodes=3,
        frames=lengths,
        cameras=cams,
        extra_features=extra,
        data_files_size_in_mb=0.002,
        video_files_size_in_mb=0.01,
    )  # several files
    out = run_reference(LOAD_ALL.format(root=str(root)), tmp_path / "ref", python=lerobot_python)
    assert out["len"] == sum(lengths) and out["num_episodes"] == 3
    reader = DatasetReader(root)
    feats = default_features(cams) | extra
    g = 0
    for e, n in enumerate(lengths):
        cols = episode_columns(feats, n, e)
        for i in range(n):
            item = out["items"][g]
            assert item["episode_index"] == e and item["frame_index"] == i and item["index"] == g
            assert item["task"] == reader.tasks[item["task_index"]]
            assert item["timestamp"] == pytest.approx(i / 10, abs=1e-6)
            np.testing.assert_array_equal(
                np.asarray(item["observation.state"], np.float32), cols["observation.state"][i]
            )
            np.testing.assert_array_equal(np.asarray(item["action"], np.float32), cols["action"][i])
            assert np.asarray(item["next.reward"], np.float32).reshape(-1)[0] == cols["next.reward"][i][0]
            for cam, (h, w) in cams.items():
                key = f"observation.images.{cam}"
                assert item[key]["shape"] == [3, h, w]
                got = np.asarray(item[key]["pix"]).transpose(1, 2, 0)
                want = cols[key][i][::8, ::8].astype(int)
                assert np.abs(got - want).mean() < 4.0, (e, i, key)  # codec tolerance
            g += 1


@pytest.mark.slow
def test_lerobot_written_dataset_reads_in_robopipe(tmp_path: Path, lerobot_python: str) -> None:
    root = tmp_path / "lerobot_ds"
    code = f"""
import json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
features = {{
    "observation.state": {{"dtype": "float32", "shape": (6,), "names": ["a","b","c","d","e","f"]}},
    "action": {{"dtype": "float32", "shape": (6,), "names": ["a","b","c","d","e","f"]}},
    "observation.images.front": {{"dtype": "video", "shape": (48, 64, 3), "names": ["height","width","channels"]}},
}}
ds = LeRobotDataset.create("local/ref", fps=10, root={str(root)!r}, features=features, robot_type="so101", use_videos=True)
rng = np.random.default_rng(0)
saved = []
for e, n in enumerate([5, 8, 6]):
    for i in range(n):
        img = np.full((48, 64, 3), (e * 60 + i * 9) % 256, np.uint8)
        st = rng.normal(size=6).astype(np.float32); ac = rng.normal(size=6).astype(np.float32)
        saved.append((st.tolist(), ac.tolist(), int(img[0, 0, 0])))
        ds.add_frame({{"observation.state": st, "action": ac, "observation.images.front": img, "task": f"task {{e % 2}}"}})
    ds.save_episode()
ds.finalize()
print(json.dumps(saved))
"""
    saved = run_reference(code, tmp_path / "ref", python=lerobot_python)
    r = DatasetReader(root)
    assert (r.num_episodes, r.num_frames) == (3, 19)
    assert sorted(r.tasks) == ["task 0", "task 1"]
    df = r.to_pandas()
    assert df["index"].tolist() == list(range(19))
    for g, (st, ac, _px) in enumerate(saved):
        np.testing.assert_array_equal(
            np.asarray(df["observation.state"][g], np.float32), np.asarray(st, np.float32)
        )
        np.testing.assert_array_equal(np.asarray(df["action"][g], np.float32), np.asarray(ac, np.float32))
    g = 0
    for e, n in enumerate([5, 8, 6]):
        frames = list(r.iter_video_frames("observation.images.front", e))
        assert len(frames) == n
        for i in range(n):
            assert abs(int(frames[i][24, 32, 0]) - saved[g][2]) <= 6
            g += 1
    assert r.tasks[int(r.read_episode(1)["task_index"][0].as_py())] == "task 1"
    info = json.loads((root / "meta/info.json").read_text())
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "av1"
