"""ROS 1/2 bags (rosbags) and MCAP (mcap) -> LeRobot v3.0, on logs written by the libraries' own writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
import pytest

from robopipe.convert.engine import ConvertRequest, EncoderOptions, run_local
from robopipe.convert.source import SourceSpec
from robopipe.format.reader import DatasetReader
from tests.fixtures.robot_logs import (
    JOINTS,
    NS,
    T0,
    Truth,
    joint_position,
    write_ros1,
    write_ros2,
)

ENC = EncoderOptions(codec="h264", crf=0, preset="ultrafast")
MAPPING = (
    "fps: 30\nrobot_type: testbot\n"
    "cameras: {front: cam/front/image_raw, wrist: cam/wrist/compressed}\n"
    "state: {parts: [joint_states/position], names: [j_a, j_b, j_c]}\n"
    "task: {default: stack the blocks}\n"
)


def _convert(src: Path, out: Path, kind: str, mapping: str | None, tmp: Path, **options: Any) -> Any:
    mp = None
    if mapping is not None:
        mp = tmp / f"{out.name}.yaml"
        mp.write_text(mapping)
    req = ConvertRequest(
        source=SourceSpec(kind=kind, path=str(src), options=options),  # type: ignore[arg-type]
        out=out,
        mapping=str(mp) if mp else None,
        workers=1,
        encoder=ENC,
    )
    return run_local(req)


def _video(r: DatasetReader, key: str, ep: int) -> np.ndarray:
    path, start, _ = r.video_span(key, ep)
    n = int(r.episodes["length"][ep])
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    first = round(start * r.fps)
    return np.stack(frames[first : first + n])


def _data(out: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(p) for p in sorted((out / "data").rglob("*.parquet"))], ignore_index=True
    )


def _episodes(out: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(p) for p in sorted((out / "meta" / "episodes").rglob("*.parquet"))],
        ignore_index=True,
    )


def _grid(truth: Truth, fps: int = 30) -> tuple[int, np.ndarray]:
    """(t0 ns, grid seconds from t0) over the span every stream covers: what the reader must produce."""
    starts = [truth.joint_stamps[0], *(min(v) for v in truth.cam_stamps.values())]
    stops = [truth.joint_stamps[-1], *(max(v) for v in truth.cam_stamps.values())]
    t0, t1 = max(starts), min(stops)
    n = int(np.floor((t1 - t0) / NS * fps + 1e-9)) + 1
    return t0, np.arange(n) / fps


def _secs(stamps: list[int], t0: int) -> np.ndarray:
    return (np.asarray(stamps, dtype=np.int64) - t0) / NS  # int64 first: float64 ns lose precision


def _nearest(stamps: list[int], t0: int, grid: np.ndarray) -> np.ndarray:
    return np.abs(grid[:, None] - _secs(stamps, t0)[None, :]).argmin(axis=1)


def _check_log_dataset(out: Path, truth: Truth) -> None:
    t0, grid = _grid(truth)
    df = _data(out)
    assert len(df) == len(grid)
    # exact alignment: state at each grid point = linear interpolation of the 200 Hz joint samples
    stamps = _secs(truth.joint_stamps, t0)
    order = np.argsort(stamps, kind="stable")
    values = joint_position(_secs(truth.joint_stamps, T0))[order]
    want = np.stack([np.interp(grid, stamps[order], values[:, j]) for j in range(3)], axis=1).astype(
        np.float32
    )
    got = np.stack(df["observation.state"].to_numpy())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["features"]["observation.state"]["names"] == JOINTS
    assert info["fps"] == 30 and info["robot_type"] == "testbot"
    # cameras: the frame at each grid point is the source frame with the nearest header stamp
    r = DatasetReader(out)
    for cam in ("front", "wrist"):
        frames = _video(r, f"observation.images.{cam}", 0)
        idx = _nearest(truth.cam_stamps[cam], t0, grid)
        src = np.stack(truth.frames[cam]).astype(int)
        err = np.abs(frames.astype(int)[:, None] - src[None]).mean(axis=(2, 3, 4))  # (grid, source)
        np.testing.assert_array_equal(err.argmin(axis=1), idx)  # the closest source frame is the nearest one
        assert err.min(axis=1).max() < 8.0
    # measured skew in the episode metadata, equal to what the grid implies
    ep = _episodes(out).iloc[0]
    skews = json.loads(ep["alignment"])
    for cam, key in (("front", "cam/front/image_raw"), ("wrist", "cam/wrist/compressed")):
        s = _secs(truth.cam_stamps[cam], t0)
        want_skew = np.abs(grid[:, None] - s[None, :]).min(axis=1).max() * 1000
        assert skews[key]["method"] == "nearest"
        assert skews[key]["max_skew_ms"] == pytest.approx(want_skew, abs=1e-3)
    assert skews["joint_states/position"]["method"] == "linear"
    assert 0 < ep["alignment_max_skew_ms"] < 1000 / 30
    assert ep["alignment_gaps"] == 0 and ep["alignment_time"] == "header"


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_ros2_bag_aligned_by_header_stamp(tmp_path: Path, storage: str) -> None:
    truth = write_ros2(tmp_path / "bag", storage=storage, seconds=1.0)
    rep = _convert(tmp_path / "bag", tmp_path / "out", "ros", MAPPING, tmp_path)
    assert rep.episodes == 1 and not rep.failures
    _check_log_dataset(tmp_path / "out", truth)


def test_ros1_bag(tmp_path: Path) -> None:
    truth = write_ros1(tmp_path / "run.bag", seconds=1.0, seed=3)
    rep = _convert(tmp_path / "run.bag", tmp_path / "out", "ros", MAPPING, tmp_path)
    assert rep.episodes == 1 and not rep.failures
    _check_log_dataset(tmp_path / "out", truth)
