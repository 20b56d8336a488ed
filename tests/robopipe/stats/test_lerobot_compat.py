"""Stats of a dataset written by LeRobot 0.4.4 itself: robopipe's recompute reproduces LeRobot's stored
per-episode numeric stats, LeRobot's global mean/std/min/max/count, and LeRobot still loads the result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robopipe.format.episodes import load_episodes, stats_from_row
from robopipe.stats import load_stats_json
from robopipe.stats.recompute import StatsRequest, recompute_stats
from tests.fixtures.lerobot_ref import run_reference

pytestmark = pytest.mark.lerobot

LENGTHS = [30, 57, 2, 120]
WRITE = """
import json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
features = {{
    "observation.state": {{"dtype": "float32", "shape": (6,), "names": ["a","b","c","d","e","f"]}},
    "action": {{"dtype": "float32", "shape": (3,), "names": ["x","y","z"]}},
}}
ds = LeRobotDataset.create("local/ref", fps=30, root={root!r}, features=features, robot_type="so101", use_videos=False)
rng = np.random.default_rng(0)
for e, n in enumerate({lengths!r}):
    for i in range(n):
        st = (90 + rng.normal(size=6) * [1, 10, 0.01, 100, 1, 1]).astype(np.float32)
        st[5] = round(float(rng.normal()), 1)  # many ties
        ac = rng.standard_cauchy(size=3).astype(np.float32)
        ds.add_frame({{"observation.state": st, "action": ac, "task": f"task {{e % 2}}"}})
    ds.save_episode()
ds.finalize()
print(json.dumps({{"ok": True}}))
"""
LOAD = """
import json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/ref", root={root!r})
n = sum(1 for _ in (ds[i] for i in range(len(ds))))
print(json.dumps({{"len": n, "episodes": ds.num_episodes, "stats_keys": sorted(ds.meta.stats)}}))
"""
NUMERIC = ("observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index")


def _rows(root: Path) -> list[dict[str, dict[str, np.ndarray]]]:
    df = load_episodes(root)
    return [stats_from_row(df.iloc[i].to_dict()) for i in range(len(df))]


def test_recompute_matches_lerobot_stored_stats(tmp_path: Path, lerobot_python: str) -> None:
    src = tmp_path / "lerobot_ds"
    run_reference(WRITE.format(root=str(src), lengths=LENGTHS), tmp_path / "ref", python=lerobot_python)
    root = tmp_path / "recomputed"
    shutil.copytree(src, root)
    recompute_stats(StatsRequest(root=root))

    theirs, ours = _rows(src), _rows(root)
    assert len(ours) == len(LENGTHS)
    for e, (t, o) in enumerate(zip(theirs, ours)):
        for f in NUMERIC:
            lt, lo = t[f], o[f]
            assert lt.keys() == lo.keys(), f
            assert lo["count"].tolist() == lt["count"].tolist() == [LENGTHS[e]]
            for s in ("mean", "min", "max"):
                scale = max(1.0, float(np.abs(lt[s]).max()))
                np.testing.assert_allclose(
                    lo[s], lt[s], rtol=1e-6, atol=1e-6 * scale, err_msg=f"ep{e} {f}/{s}"
                )
            # LeRobot's std is sqrt(E[x²] - E[x]²) in the data dtype (float32 here): it cancels
            # catastrophically for small spreads around a large mean (state dim 2 is 90 ± 0.01 and
            # LeRobot stores std 0). robopipe's float64 two-pass std is exact; the two agree within
            # LeRobot's own float32 rounding of E[x²].
            second_moment = lo["mean"].astype(np.float64) ** 2 + lo["std"].astype(np.float64) ** 2
            assert (np.abs(lo["std"] ** 2 - lt["std"] ** 2) <= 64 * 2**-24 * second_moment + 1e-12).all(), (
                e,
                f,
            )
            bin_width = (lt["max"].astype(np.float64) - lt["min"] + 2e-10) / 5000
            for q in ("q01", "q10", "q50", "q90", "q99"):
                err = np.abs(lo[q] - lt[q])
                assert (err <= bin_width * (1 + 1e-6) + 1e-7).all(), (e, f, q, err, bin_width)
                if f in ("observation.state", "action"):  # same float32 data as LeRobot saw: bit-exact
                    np.testing.assert_array_equal(lo[q], lt[q], err_msg=f"ep{e} {f}/{q}")

    g_theirs = json.loads((src / "meta/stats.json").read_text())
    g_ours = load_stats_json(root)
    assert g_ours is not None
    data = pq.read_table(next((root / "data").rglob("*.parquet"))).to_pandas()
    for f in NUMERIC:
        for s in ("mean", "min", "max", "count"):
            want = np.asarray(g_theirs[f][s], dtype=np.float64)
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(g_ours[f][s], want, rtol=1e-6, atol=1e-6 * scale, err_msg=f"{f}/{s}")
        # global std: LeRobot pools its per-episode float32 stds (see above); ours is the exact
        # population std of all frames
        x = np.stack(data[f].to_numpy()).astype(np.float64).reshape(len(data), -1)
        np.testing.assert_allclose(g_ours[f]["std"], x.std(axis=0), rtol=1e-9, err_msg=f"{f}/std")

    loaded = run_reference(LOAD.format(root=str(root)), tmp_path / "ref-load", python=lerobot_python)
    assert loaded["len"] == sum(LENGTHS) and loaded["episodes"] == len(LENGTHS)
    assert set(NUMERIC) <= set(loaded["stats_keys"])


WRITE_VIDEO = """
import json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
features = {{
    "observation.state": {{"dtype": "float32", "shape": (2,), "names": ["a", "b"]}},
    "observation.images.front": {{"dtype": "video", "shape": (48, 64, 3), "names": ["height", "width", "channels"]}},
}}
ds = LeRobotDataset.create("local/v", fps=10, root={root!r}, features=features, robot_type="so101", use_videos=True)
rng = np.random.default_rng(1)
for e, n in enumerate([6, 9]):
    for i in range(n):
        y = np.linspace(0, 1, 48)[:, None, None]
        img = np.clip((y * 200 + e * 30 + i * 3) + np.zeros((48, 64, 3)), 0, 255).astype(np.uint8)
        ds.add_frame({{"observation.state": rng.normal(size=2).astype(np.float32), "observation.images.front": img,
                      "task": "t"}})
    ds.save_episode()
ds.finalize()
print(json.dumps({{"ok": True}}))
"""


@pytest.mark.slow
def test_recompute_video_stats_of_lerobot_dataset(tmp_path: Path, lerobot_python: str) -> None:
    src = tmp_path / "lerobot_video"
    run_reference(WRITE_VIDEO.format(root=str(src)), tmp_path / "ref", python=lerobot_python)
    root = tmp_path / "recomputed"
    shutil.copytree(src, root)
    report = recompute_stats(StatsRequest(root=root))
    assert report.video_files == 1 and report.episodes == 2
    theirs, ours = _rows(src), _rows(root)
    for t, o in zip(theirs, ours):
        cam_t, cam_o = t["observation.images.front"], o["observation.images.front"]
        assert cam_o["count"].tolist() == cam_t["count"].tolist()  # LeRobot's sample size
        # LeRobot used the lossless frames before encoding; robopipe decodes the mp4 (AV1): close
        np.testing.assert_allclose(cam_o["mean"], cam_t["mean"], atol=0.02)
        assert (cam_o["std"] > 0.05).all()  # LeRobot 0.4.4 stores ~0 here (uint8 overflow)
    loaded = run_reference(LOAD.format(root=str(root)), tmp_path / "ref-load", python=lerobot_python)
    assert loaded["len"] == 15
