"""RLDS -> LeRobot v3.0 on real RLDS datasets built with tfds (marker ``rlds``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopipe.convert.engine import (
    ConvertRequest,
    EncoderOptions,
    convert_shard,
    plan_conversion,
    prepare_work_dir,
    run_conversion,
)
from robopipe.convert.source import SourceSpec
from robopipe.errors import ConversionError, MappingError
from robopipe.format.reader import DatasetReader
from tests.fixtures.rlds import RldsFixture, requires_tfds

pytestmark = [pytest.mark.rlds, requires_tfds]

H264 = EncoderOptions(codec="h264", crf=5, preset="ultrafast")


def _request(fx: RldsFixture | Path, out: Path, **kw: Any) -> ConvertRequest:
    path = fx if isinstance(fx, Path) else fx.root
    kw.setdefault("encoder", H264)
    kw.setdefault("fps", 10)
    return ConvertRequest(source=SourceSpec(kind="rlds", path=str(path)), out=out, **kw)


def _frames(reader: DatasetReader, key: str, ep: int) -> np.ndarray:
    """One episode's frames, decoded single-threaded (whole file, then sliced by from_timestamp)."""
    import av

    path, start, _ = reader.video_span(key, ep)
    n = int(reader.episodes["length"][ep])
    first = round(start * reader.fps)
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    return np.stack(frames[first : first + n])


def _assert_close_images(got: np.ndarray, want: np.ndarray, where: str) -> None:
    assert got.shape == want.shape, where
    err = np.abs(got.astype(np.int16) - want.astype(np.int16)).mean(axis=(1, 2, 3))
    assert err.max() < 4.0, f"{where}: mean abs error per frame {err}"


def check_oxe_output(out: Path, fx: RldsFixture, episodes: list[int] | None = None) -> None:
    """Every frame and value of the converted OXE-like dataset against the source episodes."""
    r = DatasetReader(out)
    wanted = episodes if episodes is not None else list(range(len(fx.episodes)))
    assert r.num_episodes == len(wanted)
    assert r.fps == 10
    meta = r.episodes
    assert meta["source_episode_index"].tolist() == wanted
    for e, src_i in enumerate(wanted):
        src = fx.episodes[src_i]["steps"]
        t = r.read_episode(e).to_pandas()
        n = len(src["action"])
        assert len(t) == n == int(meta["length"][e])
        np.testing.assert_array_equal(np.stack(t["observation.state"].to_numpy()), src["observation/state"])
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), src["action"])
        np.testing.assert_array_equal(t["is_first"].to_numpy().astype(bool), src["is_first"])
        np.testing.assert_array_equal(t["next.reward"].to_numpy(), src["reward"])
        np.testing.assert_array_equal(t["timestamp"].to_numpy(), (np.arange(n) / 10).astype(np.float32))
        tasks = [r.tasks[i] for i in t["task_index"]]
        assert tasks == [s for s in src["language_instruction"].tolist()]
        assert meta["file_path"][e] == fx.episodes[src_i]["meta"]["episode_metadata/file_path"]
        _assert_close_images(
            _frames(r, "observation.images.image", e), src["observation/image"], f"ep {e} image"
        )
        _assert_close_images(
            _frames(r, "observation.images.wrist_image", e), src["observation/wrist_image"], f"ep {e} wrist"
        )


# --- discovery -------------------------------------------------------------------------------------
def test_rlds_dir_accepts_root_name_and_version_and_ignores_incomplete(
    rlds_factory: Any, tmp_path: Path
) -> None:
    from robopipe.convert.rlds import resolve_rlds_dir

    fx = rlds_factory("oxe")
    root = tmp_path / "data"
    shutil.copytree(fx.root, root)
    (root / fx.name / "incomplete.ABC_2.0.0").mkdir()
    version = root / fx.name / "1.0.0"
    assert resolve_rlds_dir(root) == version
    assert resolve_rlds_dir(root / fx.name) == version
    assert resolve_rlds_dir(version) == version
    with pytest.raises(ConversionError, match="no RLDS dataset"):
        resolve_rlds_dir(tmp_path / "data" / fx.name / "incomplete.ABC_2.0.0")


# --- full conversions ---------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.integration
def test_oxe_two_cameras_with_two_dask_workers_matches_source(rlds_factory: Any, tmp_path: Path) -> None:
    from robopipe.execution import Execution
    from tasks.executors import open_executor

    fx = rlds_factory("oxe")
    out = tmp_path / "out"
    with open_executor(Execution(kind="dask-local", workers=2)) as dask:
        report = run_conversion(_request(fx, out, shards=3), dask)
    assert report.failures == [] and report.episodes == 6 and report.shards_done == 3
    check_oxe_output(out, fx)
    assert not (tmp_path / "out.shards").exists()
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["features"]["observation.images.image"]["names"] == ["height", "width", "channels"]
    assert info["features"]["observation.images.image"]["info"]["video.codec"] == "h264"
    assert sorted(DatasetReader(out).tasks) == ["", "open the drawer", "pick up the cube"]


@pytest.mark.slow
def test_sequential_writer_dataset_with_action_dict_and_language_in_observation(
    rlds_factory: Any, tmp_path: Path
) -> None:
    fx = rlds_factory("sequential")
    assert not list(fx.version_dir.glob("*-of-*"))  # shard names without -of-
    mapping = tmp_path / "seq.yaml"
    mapping.write_text(
        "fps: 10\ncameras: {rgb: observation/rgb}\n"
        "state: [observation/joint_position, observation/gripper_position]\n"
        "action: {parts: [action/cartesian_position, action/gripper_position]}\n"
        "task: observation/natural_language_instruction\nextras: {is_last: is_last}\n"
    )
    out = tmp_path / "out"
    report = run_conversion(_request(fx, out, shards=2, episodes="1:5", mapping=str(mapping)))
    assert report.episodes == 4
    r = DatasetReader(out)
    assert r.features["action"].names == [f"cartesian_position_{i}" for i in range(6)] + ["gripper_position"]
    for e in range(4):
        src = fx.episodes[e + 1]["steps"]
        t = r.read_episode(e).to_pandas()
        want_action = np.concatenate(
            [src["action/cartesian_position"], src["action/gripper_position"][:, None]], axis=1
        )
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), want_action)
        want_state = np.concatenate(
            [src["observation/joint_position"], src["observation/gripper_position"]], axis=1
        )
        np.testing.assert_array_equal(np.stack(t["observation.state"].to_numpy()), want_state)
        np.testing.assert_array_equal(t["is_last"].to_numpy().astype(bool), src["is_last"])
        assert {r.tasks[i] for i in t["task_index"]} == {f"stack block {(e + 1) % 2}"}
        _assert_close_images(_frames(r, "observation.images.rgb", e), src["observation/rgb"], f"ep {e}")


def test_inferred_mapping_concatenates_an_action_dict(rlds_factory: Any) -> None:
    from robopipe.convert.infer import infer_mapping
    from robopipe.convert.rlds import RldsReader

    desc = RldsReader(rlds_factory("sequential").root).describe()
    m = infer_mapping(desc)
    assert m.action is not None and {p.key for p in m.action.parts} == {
        "action/cartesian_position",
        "action/gripper_position",
    }
    assert m.task.key == "observation/natural_language_instruction"
    assert set(m.cameras) == {"rgb"} and m.fps is None
    assert m.action is not None and m.vector_size(m.action, desc) == 7


@pytest.mark.slow
def test_bridge_like_mapping_bgr_drop_first_step_episode_task(rlds_factory: Any, tmp_path: Path) -> None:
    fx = rlds_factory("bridge")
    mapping = tmp_path / "bridge_toy.yaml"
    mapping.write_text(
        "name: bridge_toy\nsource_rate: 5\nrobot_type: widowx\n"
        "cameras: {image_0: {key: observation/image_0, bgr: true, resize: [32, 48]}}\n"
        "state: [observation/state]\n"
        "action: {parts: [{key: action, index: [0, 1, 2]}, {pad: 1}, {key: action, index: [6], invert: true}]}\n"
        "task: episode_metadata/language_instruction\n"
        "drop_first_steps: 1\n"
    )
    out = tmp_path / "out"
    run_conversion(_request(fx, out, mapping=str(mapping), fps=None))
    r = DatasetReader(out)
    assert r.fps == 5 and r.info.robot_type == "widowx"
    assert r.features["observation.images.image_0"].shape == (32, 48, 3)
    for e in range(3):
        src = fx.episodes[e]["steps"]
        t = r.read_episode(e).to_pandas()
        a = src["action"][1:]
        want = np.concatenate([a[:, :3], np.zeros((len(a), 1)), 1.0 - a[:, 6:7].astype(np.float64)], axis=1)
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), want.astype(np.float32))
        assert (np.stack(t["action"].to_numpy())[:, :3] != 0).any(axis=1).all()  # zero first step gone
        assert {r.tasks[i] for i in t["task_index"]} == {f"put item {e} in sink"}
        frames = _frames(r, "observation.images.image_0", e)
        from PIL import Image

        want_img = np.stack(
            [
                np.asarray(Image.fromarray(im[..., ::-1]).resize((48, 32), Image.BILINEAR))
                for im in src["observation/image_0"][1:]
            ]
        )
        _assert_close_images(frames, want_img, f"ep {e}")


# --- failures, resume, errors -------------------------------------------------------------------------
def _corrupt_record(tfrecord: Path, record: int) -> None:
    """Flip bytes inside the payload of record ``record`` (its data CRC then fails)."""
    data = bytearray(tfrecord.read_bytes())
    pos = 0
    for _ in range(record):
        n = int.from_bytes(data[pos : pos + 8], "little")
        pos += 8 + 4 + n + 4
    n = int.from_bytes(data[pos : pos + 8], "little")
    mid = pos + 12 + n // 2
    data[mid : mid + 16] = bytes(b ^ 0xFF for b in data[mid : mid + 16])
    tfrecord.write_bytes(bytes(data))


@pytest.mark.slow
def test_corrupt_record_fails_only_its_episode(rlds_factory: Any, tmp_path: Path) -> None:
    fx = rlds_factory("oxe")
    src = tmp_path / "src"
    shutil.copytree(fx.root, src)
    shard0 = next((src / fx.name / "1.0.0").glob("*-train.tfrecord-00000-of-*"))
    _corrupt_record(shard0, 0)  # episode 0
    out = tmp_path / "out"
    report = run_conversion(_request(src, out, shards=2))
    assert [f["index"] for f in report.failures] == [0]
    assert shard0.name in report.failures[0]["source"] and "record 0" in report.failures[0]["source"]
    check_oxe_output(out, fx, episodes=[1, 2, 3, 4, 5])
    saved = json.loads((out / "meta" / "robopipe" / "conversion.json").read_text())
    assert saved["failures"][0]["index"] == 0


@pytest.mark.slow
def test_interrupted_conversion_resumes_without_redoing_finished_shards(
    rlds_factory: Any, tmp_path: Path
) -> None:
    fx = rlds_factory("oxe")
    out = tmp_path / "out"
    req = _request(fx, out, shards=3)
    plan = plan_conversion(req)
    assert prepare_work_dir(plan) == [0, 1, 2]
    first = convert_shard(plan, 0)
    assert not first.skipped and first.episodes == 2
    # shard 1 was killed mid-way: partial output, no marker
    broken = plan.shard_root(1)
    (broken / "data").mkdir(parents=True)
    (broken / "data" / "garbage.parquet").write_bytes(b"partial")
    marker_mtime = plan.marker(0).stat().st_mtime_ns
    assert prepare_work_dir(plan) == [1, 2]
    report = run_conversion(req)
    assert report.shards_skipped == 1 and report.shards_done == 2
    assert plan.marker(0).stat().st_mtime_ns == marker_mtime if plan.marker(0).exists() else True
    check_oxe_output(out, fx)


def test_mapping_naming_missing_keys_fails_before_any_work(rlds_factory: Any, tmp_path: Path) -> None:
    fx = rlds_factory("oxe")
    m = tmp_path / "bad.yaml"
    m.write_text(
        "fps: 10\ncameras: {top: observation/top_image}\nstate: [observation/joint_state]\naction: [action]\n"
    )
    with pytest.raises(MappingError) as err:
        plan_conversion(_request(fx, tmp_path / "out", mapping=str(m)))
    msg = str(err.value)
    assert "observation/top_image" in msg and "observation/joint_state" in msg
    assert "available keys" in msg and "observation/wrist_image" in msg
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.shards").exists()


def test_non_integer_source_rate_needs_explicit_fps(rlds_factory: Any, tmp_path: Path) -> None:
    fx = rlds_factory("oxe")
    m = tmp_path / "m.yaml"
    m.write_text("source_rate: 12.5\ncameras: {image: observation/image}\naction: [action]\n")
    with pytest.raises(MappingError, match=r"12\.5 Hz is not an integer"):
        plan_conversion(_request(fx, tmp_path / "out", mapping=str(m), fps=None))
    plan = plan_conversion(_request(fx, tmp_path / "out", mapping=str(m), fps=12))
    assert plan.fps == 12


def test_rlds_reader_is_the_only_tensorflow_importer() -> None:
    import ast

    root = Path(__file__).resolve().parents[3]
    offenders = []
    for p in [*list((root / "robopipe").rglob("*.py")), root / "flows" / "commands" / "convert.py"]:
        if p.name == "rlds.py" and p.parent.name == "convert":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] in ("tensorflow", "tensorflow_datasets") for n in names):
                offenders.append(str(p))
    assert offenders == []


# --- LeRobot 0.4.4 ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.lerobot
def test_converted_rlds_loads_in_lerobot(rlds_factory: Any, tmp_path: Path, lerobot_python: str) -> None:
    from tests.fixtures.lerobot_ref import run_reference

    fx = rlds_factory("oxe")
    out = tmp_path / "out"
    run_conversion(_request(fx, out, shards=2))
    code = f"""
import json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/rlds", root={str(out)!r})
rows = []
for i in range(len(ds)):
    it = ds[i]
    rows.append({{"ep": int(it["episode_index"]), "task": it["task"], "state": it["observation.state"].numpy().tolist(),
                 "img": (it["observation.images.image"].numpy() * 255).round().astype(int)[:, ::16, ::16].tolist(),
                 "is_first": bool(it["is_first"])}})
print(json.dumps({{"len": len(ds), "episodes": ds.num_episodes, "rows": rows}}))
"""
    got = run_reference(code, tmp_path / "ref", python=lerobot_python)
    assert got["episodes"] == 6 and got["len"] == sum(len(e["steps"]["action"]) for e in fx.episodes)
    i = 0
    for e, ep in enumerate(fx.episodes):
        src = ep["steps"]
        for t in range(len(src["action"])):
            row = got["rows"][i]
            assert row["ep"] == e and row["task"] == src["language_instruction"][t]
            np.testing.assert_array_equal(np.asarray(row["state"], np.float32), src["observation/state"][t])
            assert row["is_first"] == bool(src["is_first"][t])
            want = src["observation/image"][t].transpose(2, 0, 1)[:, ::16, ::16].astype(int)
            assert np.abs(np.asarray(row["img"]) - want).mean() < 6
            i += 1


def test_tensorflow_import_is_quiet(tmp_path: Path) -> None:
    """Importing TensorFlow for a port prints nothing (TF >= 2.16 ignores TF_CPP_MIN_LOG_LEVEL for its oneDNN notice)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    code = "from robopipe.convert.rlds import import_tfds; import_tfds(); import tensorflow as tf; tf.constant(1)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "oneDNN" not in out.stderr and "absl::InitializeLog" not in out.stderr, out.stderr[-2000:]
