"""LeRobot 0.6.1's v3.0 additions through robopipe (marker ``lerobot``; needs ``LEROBOT061_PYTHON``).

A dataset written by 0.6.1 itself (``LeRobotDataset.create`` with an RGB camera, a depth camera stored as lossless
HEVC ``gray12le`` video and a depth camera stored as 16-bit images, then language columns added by 0.6.1's own
annotation writer) goes through merge, delete-episodes, split, stats and validate; 0.6.1 loads every output and
its depth frames, depth images and language rows equal the source episodes' exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopipe.edit import EditRequest, MergeRequest, edit, merge
from robopipe.format.info import load_info
from robopipe.stats import load_stats_json
from robopipe.stats.recompute import StatsRequest, recompute_stats
from robopipe.validate import validate_dataset

pytestmark = [pytest.mark.lerobot, pytest.mark.slow]

SKIP = "LeRobot 0.6.1 interpreter not available: build it with ../shared/lerobot-reference/setup-0.6.1.sh and export LEROBOT061_PYTHON"
DEPTH, DEPTH_IMG, RGB = "observation.images.depth", "observation.images.depth_img", "observation.images.rgb"


def run_061(code: str, workdir: Path, timeout: float = 600) -> Any:
    """Run ``code`` in LeRobot 0.6.1's interpreter offline; it prints one JSON value last."""
    py = os.environ.get("LEROBOT061_PYTHON")
    if not py or not Path(py).is_file():
        pytest.skip(SKIP)
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "script061.py"
    script.write_text(textwrap.dedent(code))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_", "PREFECT_"))
    }
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(workdir / "hf"), HF_LEROBOT_HOME=str(workdir / "home"))
    proc = subprocess.run(
        [py, str(script)], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"LeRobot 0.6.1 script failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.strip()][-1])


MAKE = """
import json, numpy as np
from pathlib import Path
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.annotations.steerable_pipeline.executor import Executor
from lerobot.annotations.steerable_pipeline.reader import iter_episodes
from lerobot.annotations.steerable_pipeline.staging import EpisodeStaging
from lerobot.annotations.steerable_pipeline.writer import LanguageColumnsWriter, speech_atom
H, W = 32, 48
cam = ["height", "width", "channels"]
for name, n_eps, seed in (("a", 3, 0), ("b", 2, 1)):
    root = Path({base!r}) / name
    features = {{
        "observation.state": {{"dtype": "float32", "shape": (2,), "names": ["x", "y"]}},
        "action": {{"dtype": "float32", "shape": (2,), "names": ["x", "y"]}},
        "{RGB}": {{"dtype": "video", "shape": (H, W, 3), "names": cam}},
        "{DEPTH}": {{"dtype": "video", "shape": (H, W, 1), "names": cam, "info": {{"is_depth_map": True}}}},
        "{DEPTH_IMG}": {{"dtype": "image", "shape": (H, W, 1), "names": cam, "info": {{"is_depth_map": True}}}},
    }}
    ds = LeRobotDataset.create("local/" + name, fps=10, features=features, root=root, use_videos=True)
    rng = np.random.default_rng(seed)
    for ep in range(n_eps):
        for i in range(5 + ep):
            ds.add_frame({{
                "observation.state": rng.random(2, dtype=np.float32), "action": rng.random(2, dtype=np.float32),
                "{RGB}": rng.integers(0, 255, (H, W, 3), dtype=np.uint8),
                "{DEPTH}": rng.integers(150, 4000, (H, W, 1)).astype(np.uint16),
                "{DEPTH_IMG}": rng.integers(150, 4000, (H, W, 1)).astype(np.uint16),
                "task": f"task {{(ep + seed) % 2}}",
            }})
        ds.save_episode()
    ds.finalize()
    staging = root.parent / (name + "-staging")
    records = list(iter_episodes(root))
    for rec in records:
        st = EpisodeStaging(staging, rec.episode_index)
        st.write("plan", [{{"role": "assistant", "content": f"plan {{name}} {{rec.episode_index}}", "style": "plan",
                            "timestamp": 0.0, "camera": None, "tool_calls": None}}])
        st.write("interjections", [speech_atom(rec.frame_timestamps[2], f"hello {{name}} {{rec.episode_index}}")])
        st.write("vqa", [{{"role": "user", "content": "what is in view?", "style": "vqa",
                           "timestamp": rec.frame_timestamps[3], "camera": "{RGB}", "tool_calls": None}}])
    LanguageColumnsWriter().write_all(records, staging, root)
    Executor._ensure_annotation_metadata_in_info(root)
print(json.dumps("ok"))
"""

DUMP = """
import hashlib, json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
out = {{}}
for root in {roots!r}:
    ds = LeRobotDataset("local/x", root=root)
    frames = []
    for i in range(len(ds)):
        it = ds[i]
        row = {{"episode_index": int(it["episode_index"]), "frame_index": int(it["frame_index"])}}
        for k in ("{DEPTH}", "{DEPTH_IMG}", "{RGB}"):
            row[k] = hashlib.sha256(np.ascontiguousarray(it[k].numpy()).tobytes()).hexdigest()
        row["depth_mean"] = float(it["{DEPTH}"].float().mean())
        row["language_persistent"] = it["language_persistent"]
        row["language_events"] = it["language_events"]
        frames.append(row)
    out[root] = {{"frames": frames, "depth_keys": ds.meta.depth_keys, "tools": ds.meta.tools,
                 "has_language": ds.meta.has_language_columns}}
print(json.dumps(out))
"""


def _fmt(code: str, **kw: Any) -> str:
    return code.format(RGB=RGB, DEPTH=DEPTH, DEPTH_IMG=DEPTH_IMG, **kw)


@pytest.fixture(scope="module")
def made061(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("made061")
    run_061(_fmt(MAKE, base=str(base)), base / "ref")
    return base


def _episodes(dump: dict[str, Any]) -> list[list[dict[str, Any]]]:
    eps: dict[int, list[dict[str, Any]]] = {}
    for row in dump["frames"]:
        eps.setdefault(row["episode_index"], []).append(row)
    return [eps[e] for e in sorted(eps)]


def _same_episode(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["frame_index"] == y["frame_index"]
        for k in (DEPTH, DEPTH_IMG, RGB, "language_persistent", "language_events"):
            assert x[k] == y[k], (k, x["episode_index"], x["frame_index"])


def test_061_dataset_through_every_edit_loads_back_exact(made061: Path, tmp_path: Path) -> None:
    a, b = made061 / "a", made061 / "b"
    info = load_info(a)
    assert info.features[DEPTH].is_depth_map and info.features[DEPTH_IMG].is_depth_map
    assert (
        info.features["language_events"].is_language
        and info.tools
        and info.tools[0]["function"]["name"] == "say"
    )
    assert info.features[DEPTH].info is not None and info.features[DEPTH].info["video.pix_fmt"] == "gray12le"
    for root in (a, b):
        report = validate_dataset(root, gx=False)
        assert report.valid, [f.message for f in report.findings]

    merge(MergeRequest(out=tmp_path / "merged", roots=[a, b]))
    edit(
        EditRequest(operation="delete-episodes", root=tmp_path / "merged", episodes=[1], out=tmp_path / "del")
    )
    edit(
        EditRequest(
            operation="split",
            root=tmp_path / "del",
            splits={"train": [0, 1], "val": [2, 3]},
            out=tmp_path / "split",
        )
    )
    outs = [tmp_path / n for n in ("merged", "del", "split/train", "split/val")]
    for root in outs:
        report = validate_dataset(root, gx=False, full_decode=True)
        assert report.valid, (root, [f.message for f in report.findings])
        out_info = load_info(root)
        assert out_info.tools == info.tools
        assert out_info.features[DEPTH].info == info.features[DEPTH].info
        assert out_info.features[DEPTH_IMG].info == info.features[DEPTH_IMG].info

    dump = run_061(_fmt(DUMP, roots=[str(r) for r in (a, b, *outs)]), tmp_path / "ref")
    src = _episodes(dump[str(a)]) + _episodes(dump[str(b)])  # merged order: a0 a1 a2 b0 b1
    expected = {
        "merged": src,
        "del": [src[0], src[2], src[3], src[4]],
        "split/train": [src[0], src[2]],
        "split/val": [src[3], src[4]],
    }
    for root in outs:
        got = dump[str(root)]
        assert got["depth_keys"] == [DEPTH, DEPTH_IMG] and got["has_language"]
        assert got["tools"] == info.tools
        want = expected[root.relative_to(tmp_path).as_posix()]
        eps = _episodes(got)
        assert len(eps) == len(want)
        for x, y in zip(eps, want, strict=True):
            _same_episode(x, y)
    # a language row really came through (not two empty lists)
    assert any(r["language_events"] for r in dump[str(outs[0])]["frames"])


def test_061_dataset_stats_match_lerobot(made061: Path, tmp_path: Path) -> None:
    """robopipe's stats of depth features are in the stored unit (mm), like 0.6.1's, not divided by 255."""
    import shutil

    root = tmp_path / "a"
    shutil.copytree(made061 / "a", root)
    theirs = load_stats_json(root)
    assert theirs is not None
    recompute_stats(StatsRequest(root=root))
    ours = load_stats_json(root)
    assert ours is not None
    assert "language_events" not in ours and "language_persistent" not in ours
    # lossless inputs agree exactly (RGB is AV1 in 0.6.1's files: its decoded pixels differ from the recorded ones)
    for key in (DEPTH_IMG, "observation.state"):
        for stat in ("min", "max", "mean", "std", "count"):
            assert np.asarray(ours[key][stat]).shape == np.asarray(theirs[key][stat]).shape, (key, stat)
            np.testing.assert_allclose(ours[key][stat], theirs[key][stat], rtol=1e-6, err_msg=f"{key}/{stat}")
    # depth video: stats come from the dequantised 12-bit codes (0.6.1 takes them from the frames before
    # encoding), so they agree to the quantisation step (< 0.2% at these depths with log scaling)
    assert np.asarray(ours[DEPTH]["mean"]).shape == (1, 1, 1)
    for stat in ("min", "max", "mean", "q50"):
        np.testing.assert_allclose(ours[DEPTH][stat], theirs[DEPTH][stat], rtol=5e-3, err_msg=stat)
    assert validate_dataset(root, gx=False).valid


DUMP_WRITTEN = """
import dataclasses, hashlib, json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.datasets.io_utils import load_info
from lerobot.datasets.utils import DatasetInfo
root = {root!r}
raw = json.load(open(root + "/meta/info.json"))
known = {{f.name for f in dataclasses.fields(DatasetInfo)}}
rewritten = load_info(__import__("pathlib").Path(root)).to_dict()
ds = LeRobotDataset("local/x", root=root)
frames = []
for i in range(len(ds)):
    it = ds[i]
    row = {{k: hashlib.sha256(np.ascontiguousarray(it[k].numpy().astype(np.float32)).tobytes()).hexdigest()
           for k in ("{DEPTH}", "{DEPTH_IMG}")}}
    row["language_persistent"] = it["language_persistent"]
    row["language_events"] = it["language_events"]
    frames.append(row)
print(json.dumps({{"unknown": sorted(set(raw) - known), "rewritten": rewritten, "frames": frames,
                  "depth_keys": ds.meta.depth_keys}}))
"""


def _sha(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a.astype(np.float32)).tobytes()).hexdigest()


def test_robopipe_written_depth_and_language_load_exact_in_061(tmp_path: Path) -> None:
    from robopipe.format import depth
    from robopipe.format.writer import DatasetWriter

    h, w = 32, 48
    cam = ["height", "width", "channels"]
    feats = {
        "observation.state": {"dtype": "float32", "shape": [2], "names": ["x", "y"]},
        RGB: {"dtype": "video", "shape": [h, w, 3], "names": cam},
        DEPTH: {
            "dtype": "video",
            "shape": [h, w, 1],
            "names": cam,
            "info": {"is_depth_map": True, "video.use_log": False},
        },
        DEPTH_IMG: {"dtype": "image", "shape": [h, w, 1], "names": cam, "info": {"is_depth_map": True}},
        "language_persistent": {"dtype": "language", "shape": [1], "names": None},
        "language_events": {"dtype": "language", "shape": [1], "names": None},
    }
    say = {"type": "function", "function": {"name": "say", "arguments": {"text": "hi"}}}
    rng = np.random.default_rng(3)
    expected = []
    root = tmp_path / "rw"
    with DatasetWriter.create(root, fps=10, features=feats) as wr:
        for e in range(3):
            for i in range(4 + e):
                d = rng.integers(100, 9000, (h, w, 1)).astype(np.uint16)
                di = rng.integers(0, 65535, (h, w)).astype(np.uint16)
                pers = [
                    {
                        "role": "assistant",
                        "content": f"plan {e}",
                        "style": "plan",
                        "timestamp": 0.0,
                        "camera": None,
                        "tool_calls": None,
                    }
                ]
                ev = (
                    [
                        {
                            "role": "assistant",
                            "content": None,
                            "style": None,
                            "camera": None,
                            "tool_calls": [say],
                        }
                    ]
                    if i == 1
                    else []
                )
                wr.add_frame(
                    {
                        "observation.state": rng.random(2, dtype=np.float32),
                        RGB: rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                        DEPTH: d,
                        DEPTH_IMG: di,
                        "language_persistent": pers,
                        "language_events": ev,
                    },
                    task=f"task {e}",
                )
                cfg = depth.DepthEncoderConfig(use_log=False)
                expected.append(
                    {
                        DEPTH: _sha(depth.dequantize(depth.quantize(d, cfg), cfg, "mm")[None]),
                        DEPTH_IMG: _sha(di[None]),
                        "language_persistent": pers,
                        "language_events": ev,
                    }
                )
            wr.save_episode()
    assert validate_dataset(root, gx=True, full_decode=True).valid
    info = load_info(root)
    assert info.features[DEPTH].info is not None and info.features[DEPTH].info["video.use_log"] is False
    assert (
        info.features[DEPTH].info["video.pix_fmt"] == "gray12le" and info.features[DEPTH].info["is_depth_map"]
    )
    assert info.features[RGB].info is not None and info.features[RGB].info["video.g"] == 2
    ours = load_stats_json(root)
    assert ours is not None and np.asarray(ours[DEPTH]["max"]).shape == (1, 1, 1)
    assert (
        float(np.asarray(ours[DEPTH]["min"]).item()) >= 100
        and float(np.asarray(ours[DEPTH]["max"]).item()) < 9000
    )

    got = run_061(_fmt(DUMP_WRITTEN, root=str(root)), tmp_path / "ref")
    assert got["unknown"] == []  # nothing in info.json that 0.6.1 would drop on rewrite
    ours_json = json.loads((root / "meta/info.json").read_text())
    assert got["rewritten"] == ours_json  # 0.6.1's load + to_dict loses nothing
    assert got["depth_keys"] == [DEPTH, DEPTH_IMG]
    assert got["frames"] == expected
