"""HDF5 (ALOHA, robomimic), folder and Python-hook sources through the same engine."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from robopipe.convert.engine import ConvertRequest, EncoderOptions, plan_conversion, run_conversion
from robopipe.convert.source import SourceSpec
from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import synthetic_frame

ENC = EncoderOptions(codec="h264", crf=5, preset="ultrafast")


def _frames(r: DatasetReader, key: str, ep: int) -> np.ndarray:
    path, start, _ = r.video_span(key, ep)
    n = int(r.episodes["length"][ep])
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    first = round(start * r.fps)
    return np.stack(frames[first : first + n])


def _close(got: np.ndarray, want: np.ndarray, tol: float = 6.0) -> None:
    """Within codec tolerance (mean absolute error per pixel, 0..255), after JPEG + h264."""
    assert got.shape == want.shape
    err = float(np.abs(got.astype(int) - want.astype(int)).mean())
    assert err < tol, f"mean abs error {err:.2f} >= {tol}"


def _jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def make_aloha(root: Path, episodes: int = 3, corrupt: int | None = None) -> list[dict[str, np.ndarray]]:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    out = []
    for e in range(episodes):
        n = 5 + e
        qpos = rng.standard_normal((n, 14)).astype(np.float32)
        action = rng.standard_normal((n, 14)).astype(np.float32)
        high = np.stack([synthetic_frame(48, 64, e, i) for i in range(n)])
        wrist = np.stack([synthetic_frame(48, 64, e, i, cam=1) for i in range(n)])
        with h5py.File(root / f"episode_{e}.hdf5", "w") as f:
            f.attrs["sim"] = True
            f.create_dataset("observations/qpos", data=qpos)
            f.create_dataset("observations/images/cam_high", data=high)
            vlen = f.create_dataset(
                "observations/images/cam_left_wrist", (n,), dtype=h5py.vlen_dtype(np.uint8)
            )
            for i in range(n):  # compressed ALOHA layout: JPEG bytes per step
                vlen[i] = np.frombuffer(_jpeg(wrist[i]), dtype=np.uint8)
            f.create_dataset("action", data=action)
        out.append({"qpos": qpos, "action": action, "high": high, "wrist": wrist})
    if corrupt is not None:
        (root / f"episode_{corrupt}.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    return out


def test_aloha_hdf5_with_a_corrupt_file(tmp_path: Path) -> None:
    src = make_aloha(tmp_path / "aloha", episodes=4, corrupt=2)
    mapping = tmp_path / "aloha.yaml"
    mapping.write_text(
        "fps: 50\nrobot_type: aloha\ncameras: {cam_high: observations/images/cam_high, "
        "cam_left_wrist: observations/images/cam_left_wrist}\n"
        "state: [observations/qpos]\naction: [action]\ntask: {default: transfer the cube}\n"
    )
    out = tmp_path / "out"
    req = ConvertRequest(
        source=SourceSpec(kind="hdf5", path=str(tmp_path / "aloha")),
        out=out,
        mapping=str(mapping),
        encoder=ENC,
        shards=2,
    )
    report = run_conversion(req)
    assert [f["index"] for f in report.failures] == [2] and "episode_2.hdf5" in report.failures[0]["source"]
    r = DatasetReader(out)
    assert r.num_episodes == 3 and r.tasks == ["transfer the cube"] and r.fps == 50
    for e, s in enumerate([0, 1, 3]):
        t = r.read_episode(e).to_pandas()
        np.testing.assert_array_equal(np.stack(t["observation.state"].to_numpy()), src[s]["qpos"])
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), src[s]["action"])
        _close(_frames(r, "observation.images.cam_high", e), src[s]["high"])
        _close(_frames(r, "observation.images.cam_left_wrist", e), src[s]["wrist"])


def test_robomimic_demos_sorted_numerically_and_inferred_mapping(tmp_path: Path) -> None:
    path = tmp_path / "demo.hdf5"
    rng = np.random.default_rng(1)
    src = {}
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = 0
        for i in (0, 1, 2, 9, 10):
            n = 4
            g = data.create_group(f"demo_{i}")
            g.attrs["num_samples"] = n
            obs = {
                "agentview_image": np.stack([synthetic_frame(32, 32, i, k) for k in range(n)]),
                "robot0_eef_pos": rng.standard_normal((n, 3)).astype(np.float32),
            }
            for k, v in obs.items():
                g.create_dataset(f"obs/{k}", data=v)
            g.create_dataset("actions", data=rng.standard_normal((n, 7)))
            g.create_dataset("rewards", data=np.zeros(n))
            src[i] = obs | {"actions": g["actions"][()]}
    req = ConvertRequest(
        source=SourceSpec(kind="hdf5", path=str(path)), out=tmp_path / "out", fps=20, encoder=ENC, shards=2
    )
    plan = plan_conversion(req)
    assert set(plan.mapping.cameras) == {"agentview_image"}
    assert plan.mapping.action is not None and plan.mapping.action.parts[0].key == "actions"
    run_conversion(req)
    r = DatasetReader(tmp_path / "out")
    assert r.num_episodes == 5
    for e, i in enumerate((0, 1, 2, 9, 10)):
        t = r.read_episode(e).to_pandas()
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), src[i]["actions"].astype(np.float32))
        np.testing.assert_array_equal(np.stack(t["observation.state"].to_numpy()), src[i]["robot0_eef_pos"])
        _close(_frames(r, "observation.images.agentview_image", e), src[i]["agentview_image"])


@pytest.mark.parametrize("table", ["csv", "npz", "parquet"])
def test_folder_of_images_and_tables(tmp_path: Path, table: str) -> None:
    root = tmp_path / "folder"
    rng = np.random.default_rng(2)
    src = []
    for e in range(3):
        d = root / f"episode_{e}"
        (d / "front").mkdir(parents=True)
        n = 4 + e
        imgs = np.stack([synthetic_frame(32, 48, e, i) for i in range(n)])
        for i in range(n):
            Image.fromarray(imgs[i]).save(d / "front" / f"frame_{i}.png")
        state = rng.standard_normal((n, 2)).astype(np.float32)
        action = rng.standard_normal((n, 2)).astype(np.float32)
        if table == "npz":
            np.savez(d / "steps.npz", state=state, action=action)
        else:
            df = pd.DataFrame(
                {
                    "state_0": state[:, 0],
                    "state_1": state[:, 1],
                    "action.0": action[:, 0],
                    "action.1": action[:, 1],
                }
            )
            df.to_csv(d / "steps.csv", index=False) if table == "csv" else df.to_parquet(d / "steps.parquet")
        (d / "task.txt").write_text(f"task {e}\n")
        src.append((imgs, state, action))
    # frame_10 must come after frame_9: use 10+ frames in one episode
    req = ConvertRequest(
        source=SourceSpec(kind="folder", path=str(root)), out=tmp_path / "out", fps=15, encoder=ENC, shards=2
    )
    plan = plan_conversion(req)
    assert plan.mapping.task.key == "task" and set(plan.mapping.cameras) == {"front"}
    run_conversion(req)
    r = DatasetReader(tmp_path / "out")
    for e, (imgs, state, action) in enumerate(src):
        t = r.read_episode(e).to_pandas()
        tol = 1e-6 if table == "csv" else 0
        np.testing.assert_allclose(np.stack(t["observation.state"].to_numpy()), state, rtol=tol)
        np.testing.assert_allclose(np.stack(t["action"].to_numpy()), action, rtol=tol)
        assert {r.tasks[i] for i in t["task_index"]} == {f"task {e}"}
        _close(_frames(r, "observation.images.front", e), imgs)


def toy_hook(start: int = 0, stop: int | None = None) -> Any:
    """A user hook: 4 episodes of dicts of arrays (reads only the asked range)."""
    for e in range(start, min(stop if stop is not None else 4, 4)):
        n = 3 + e
        yield {
            "steps": {
                "cam": np.stack([synthetic_frame(32, 32, e, i) for i in range(n)]),
                "observation/state": np.full((n, 2), e, np.float32),
                "action": np.arange(n * 2, dtype=np.float32).reshape(n, 2),
            },
            "metadata": {"instruction": f"hook task {e}"},
        }


def test_python_hook_source(tmp_path: Path) -> None:
    req = ConvertRequest(
        source=SourceSpec(kind="hook", path="tests.robopipe.convert.test_custom_sources:toy_hook"),
        out=tmp_path / "out",
        fps=10,
        encoder=ENC,
        mapping=None,
    )
    plan = plan_conversion(req)
    assert plan.mapping.task.key == "episode_metadata/instruction"
    report = run_conversion(req)
    assert report.episodes == 4
    r = DatasetReader(tmp_path / "out")
    for e in range(4):
        t = r.read_episode(e).to_pandas()
        np.testing.assert_array_equal(
            np.stack(t["observation.state"].to_numpy()), np.full((3 + e, 2), e, np.float32)
        )
        assert {r.tasks[i] for i in t["task_index"]} == {f"hook task {e}"}
        _close(
            _frames(r, "observation.images.cam", e),
            np.stack([synthetic_frame(32, 32, e, i) for i in range(3 + e)]),
        )


def lerobot_named_hook() -> Any:
    """A hook whose keys are already LeRobot's feature names."""
    for e in range(2):
        n = 4 + e
        yield {
            "observation.state": np.arange(n * 6, dtype=np.float32).reshape(n, 6) + 100 * e,
            "observation.images.cam_high": np.stack([synthetic_frame(32, 48, e, i) for i in range(n)]),
            "action": -np.arange(n * 6, dtype=np.float32).reshape(n, 6),
            "task": [f"fold {e}"] * n,
        }


def test_hook_with_lerobot_named_keys_keeps_state_and_camera_names(tmp_path: Path) -> None:
    req = ConvertRequest(
        source=SourceSpec(kind="hook", path="tests.robopipe.convert.test_custom_sources:lerobot_named_hook"),
        out=tmp_path / "out",
        fps=10,
        encoder=ENC,
        mapping=None,
    )
    assert run_conversion(req).episodes == 2
    r = DatasetReader(tmp_path / "out")
    assert {"observation.state", "action", "observation.images.cam_high"} <= set(r.info.features)
    assert not [k for k in r.info.features if "observation_images" in k]
    for e, src in enumerate(lerobot_named_hook()):
        t = r.read_episode(e).to_pandas()
        np.testing.assert_array_equal(np.stack(t["observation.state"].to_numpy()), src["observation.state"])
        np.testing.assert_array_equal(np.stack(t["action"].to_numpy()), src["action"])
        assert {r.tasks[i] for i in t["task_index"]} == {f"fold {e}"}
        _close(_frames(r, "observation.images.cam_high", e), src["observation.images.cam_high"])
