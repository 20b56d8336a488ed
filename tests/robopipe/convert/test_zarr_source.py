"""Zarr replay buffers (Diffusion Policy / UMI layout, zarr v2 format as those projects wrote) -> v3.0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from robopipe.convert.engine import ConvertRequest, EncoderOptions, run_conversion
from robopipe.convert.source import SourceSpec
from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import synthetic_frame

ENDS = [5, 12, 20]


def make_replay_buffer(path: Path, ends: list[int] = ENDS, zarr_format: int = 2) -> dict[str, np.ndarray]:
    import zarr

    n = 20
    rng = np.random.default_rng(1)
    data = {
        "action": rng.standard_normal((n, 2)).astype(np.float32),
        "robot_eef_pos": rng.standard_normal((n, 3)).astype(np.float32),
        "robot_gripper_width": rng.standard_normal((n, 1)).astype(np.float32),
        "camera0_rgb": np.stack([synthetic_frame(32, 48, 0, i) for i in range(n)]),
    }
    root = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    g, meta = root.create_group("data"), root.create_group("meta")
    for k, v in data.items():
        arr = g.create_array(k, shape=v.shape, dtype=v.dtype, chunks=(7, *v.shape[1:]))
        arr[:] = v
    meta.create_array("episode_ends", shape=(len(ends),), dtype="int64")[:] = np.asarray(ends)
    return data


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_replay_buffer_to_lerobot(tmp_path: Path, zarr_format: int) -> None:
    data = make_replay_buffer(tmp_path / "rb.zarr", zarr_format=zarr_format)
    req = ConvertRequest(
        source=SourceSpec(kind="zarr", path=str(tmp_path / "rb.zarr"), options={"task": "push the T"}),
        out=tmp_path / "out",
        fps=10,
        shards=2,
        encoder=EncoderOptions(codec="h264", crf=0, preset="ultrafast"),
    )
    rep = run_conversion(req)
    assert rep.episodes == 3 and rep.frames == 20 and not rep.failures
    out = tmp_path / "out"
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["fps"] == 10
    assert info["features"]["observation.images.camera0_rgb"]["dtype"] == "video"
    assert info["features"]["observation.state"]["shape"] == [4]  # eef pos (3) + gripper width (1)
    df = pd.concat([pd.read_parquet(p) for p in sorted((out / "data").rglob("*.parquet"))], ignore_index=True)
    np.testing.assert_array_equal(np.stack(df["action"].to_numpy()), data["action"])
    np.testing.assert_array_equal(
        np.stack(df["observation.state"].to_numpy()),
        np.concatenate([data["robot_eef_pos"], data["robot_gripper_width"]], axis=1),
    )
    eps = pd.concat([pd.read_parquet(p) for p in sorted((out / "meta" / "episodes").rglob("*.parquet"))])
    assert eps["length"].tolist() == [5, 7, 8]
    assert set(df.groupby("episode_index")["frame_index"].min()) == {0}
    r = DatasetReader(out)
    path, start, _ = r.video_span("observation.images.camera0_rgb", 2)
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    first = round(start * 10)
    got = np.stack(frames[first : first + 8])
    assert np.abs(got.astype(int) - data["camera0_rgb"][12:20].astype(int)).mean() < 3


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("ends", "message"),
    [
        ([5, 3, 20], "strictly increasing"),
        ([5, 12, 25], "hold 20 steps"),
        ([0, 12, 20], "strictly increasing"),
    ],
)
def test_inconsistent_episode_ends_is_one_line_exit_1(tmp_path: Path, ends: list[int], message: str) -> None:
    make_replay_buffer(tmp_path / "rb.zarr", ends=ends)
    p = _cli("convert", "zarr", str(tmp_path / "rb.zarr"), "--out", str(tmp_path / "out"), "--fps", "10")
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "out").exists()


def test_not_a_replay_buffer_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "junk.zarr").mkdir()
    (tmp_path / "junk.zarr" / "zarr.json").write_text("{not json")
    p = _cli("convert", "zarr", str(tmp_path / "junk.zarr"), "--out", str(tmp_path / "out"), "--fps", "10")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_single_channel_image_array_becomes_an_rgb_camera(tmp_path: Path) -> None:
    import zarr

    root = zarr.open_group(str(tmp_path / "ir.zarr"), mode="w", zarr_format=2)
    ir = np.stack([np.full((16, 16, 1), 10 * i, np.uint8) for i in range(6)])
    root.create_group("data").create_array("ir", shape=ir.shape, dtype="uint8")[:] = ir
    root["data"].create_array("action", shape=(6, 1), dtype="float32")[:] = 0
    root.create_group("meta").create_array("episode_ends", shape=(1,), dtype="int64")[:] = [6]
    out = tmp_path / "out"
    rep = run_conversion(
        ConvertRequest(
            source=SourceSpec(kind="zarr", path=str(tmp_path / "ir.zarr")),
            out=out,
            fps=10,
            encoder=EncoderOptions(codec="h264", crf=0, preset="ultrafast"),
        )
    )
    assert rep.episodes == 1 and not rep.failures
    assert json.loads((out / "meta" / "info.json").read_text())["features"]["observation.images.ir"][
        "shape"
    ] == [16, 16, 3]
    path, _, _ = DatasetReader(out).video_span("observation.images.ir", 0)
    with av.open(str(path)) as c:
        got = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
    assert np.abs(got.astype(int) - np.repeat(ir, 3, axis=-1).astype(int)).max() <= 2


def test_uint16_depth_array_becomes_a_depth_map(tmp_path: Path) -> None:
    import zarr

    from robopipe.convert.zarr_source import ZarrReader

    root = zarr.open_group(str(tmp_path / "d.zarr"), mode="w", zarr_format=2)
    d = np.stack([np.full((24, 32, 1), 500 + 100 * i, np.uint16) for i in range(4)])
    root.create_group("data").create_array("camera0_depth", shape=d.shape, dtype="uint16")[:] = d
    root["data"].create_array("action", shape=(4, 2), dtype="float32")[:] = 0
    root.create_group("meta").create_array("episode_ends", shape=(1,), dtype="int64")[:] = [4]
    assert ZarrReader(tmp_path / "d.zarr").infer_mapping().depth == {"camera0_depth": "camera0_depth"}
    out = tmp_path / "out"
    run_conversion(
        ConvertRequest(source=SourceSpec(kind="zarr", path=str(tmp_path / "d.zarr")), out=out, fps=10)
    )
    feat = json.loads((out / "meta" / "info.json").read_text())["features"][
        "observation.images.camera0_depth"
    ]
    assert feat["info"]["is_depth_map"] and feat["shape"] == [24, 32, 1]
    got = np.stack(list(DatasetReader(out).iter_video_frames("observation.images.camera0_depth", 0)))
    assert np.abs(got.astype(int) - d.astype(int)).max() <= 3  # 12-bit log quantisation around 0.5 m
