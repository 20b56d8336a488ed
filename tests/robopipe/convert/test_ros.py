"""ROS 1/2 bags (rosbags) and MCAP (mcap) -> LeRobot v3.0, on logs written by the libraries' own writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
import pytest

from robopipe.convert.engine import ConvertRequest, EncoderOptions, run_conversion
from robopipe.convert.source import SourceSpec
from robopipe.format.reader import DatasetReader
from tests.fixtures.robot_logs import (
    JOINTS,
    NS,
    T0,
    Truth,
    event_messages,
    joint_position,
    write_ros1,
    write_ros2,
    write_video_mcap,
)
from tests.robopipe.convert.test_custom_sources import _frames as _video

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
        encoder=ENC,
    )
    return run_conversion(req)


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
    truth = write_ros2(tmp_path / "bag", storage=storage, seconds=1.0, custom={"task": "stack the cups"})
    mapping = MAPPING.replace("task: {default: stack the blocks}", "task: task")
    rep = _convert(tmp_path / "bag", tmp_path / "out", "ros", mapping, tmp_path, task_metadata="task")
    assert rep.episodes == 1 and not rep.failures
    _check_log_dataset(tmp_path / "out", truth)
    assert _episodes(tmp_path / "out").iloc[0]["tasks"].tolist() == ["stack the cups"]  # ROS 2 custom data


def test_ros1_bag(tmp_path: Path) -> None:
    truth = write_ros1(tmp_path / "run.bag", seconds=1.0, seed=3)
    rep = _convert(tmp_path / "run.bag", tmp_path / "out", "ros", MAPPING, tmp_path)
    assert rep.episodes == 1 and not rep.failures
    _check_log_dataset(tmp_path / "out", truth)


# --- episodes cut from one long log ------------------------------------------------------------------
def test_long_log_cut_by_event_topic_with_task_topic(tmp_path: Path) -> None:
    spans = [(0.2, 0.9, "pick up the cube"), (1.2, 1.8, "put it in the box")]
    truth = write_ros2(tmp_path / "long", storage="mcap", seconds=2.0, extra=event_messages(spans))
    rep = _convert(
        tmp_path / "long",
        tmp_path / "out",
        "ros",
        MAPPING.replace("task: {default: stack the blocks}", "task: task"),
        tmp_path,
        cut="event",
        event_topic="/recording",
        task_topic="/task",
    )
    assert rep.episodes == 2 and not rep.failures
    df, eps = _data(tmp_path / "out"), _episodes(tmp_path / "out")
    tasks = pd.read_parquet(tmp_path / "out" / "meta" / "tasks.parquet")
    assert sorted(tasks.index if "task" not in tasks.columns else tasks["task"]) == sorted(
        s[2] for s in spans
    )
    all_stamps = np.asarray(truth.joint_stamps, dtype=np.int64)
    order = np.argsort(all_stamps, kind="stable")
    values = joint_position(_secs(truth.joint_stamps, T0))[order]
    for e, (a, b, _task) in enumerate(spans):
        lo, hi = T0 + int(a * NS), T0 + int(b * NS)

        def inside(stamps: list[int], logs: list[int], lo: int = lo, hi: int = hi) -> list[int]:
            return [s for s, lg in zip(stamps, logs) if lo <= lg < hi]

        firsts = [min(inside(truth.joint_stamps, truth.joint_log))] + [
            min(inside(truth.cam_stamps[c], truth.cam_log[c])) for c in ("front", "wrist")
        ]
        lasts = [max(inside(truth.joint_stamps, truth.joint_log))] + [
            max(inside(truth.cam_stamps[c], truth.cam_log[c])) for c in ("front", "wrist")
        ]
        t0, t1 = max(firsts), min(lasts)
        grid = np.arange(int(np.floor((t1 - t0) / NS * 30 + 1e-9)) + 1) / 30
        rows = df[df["episode_index"] == e]
        assert len(rows) == len(grid) == eps.iloc[e]["length"]
        stamps = (all_stamps[order] - t0) / NS
        want = np.stack([np.interp(grid, stamps, values[:, j]) for j in range(3)], axis=1).astype(np.float32)
        np.testing.assert_allclose(np.stack(rows["observation.state"].to_numpy()), want, atol=1e-6)
        assert eps.iloc[e]["source_start_s"] == pytest.approx(t0 / NS, abs=1e-6)
    assert list(eps["tasks"].map(list)) == [[s[2]] for s in spans]


def test_gap_fails_the_episode_or_is_recorded(tmp_path: Path) -> None:
    write_ros2(tmp_path / "bag", seconds=1.0, drop_front=(0.4, 0.6))
    from robopipe.errors import ConversionError

    with pytest.raises(ConversionError, match=r"gap beyond max skew: cam/front/image_raw frames \d+-\d+"):
        _convert(tmp_path / "bag", tmp_path / "out", "ros", MAPPING, tmp_path)
    rep = _convert(tmp_path / "bag", tmp_path / "out2", "ros", MAPPING, tmp_path, on_gap="report")
    assert rep.episodes == 1
    ep = _episodes(tmp_path / "out2").iloc[0]
    skews = json.loads(ep["alignment"])
    assert ep["alignment_gaps"] == 1 and len(skews["cam/front/image_raw"]["gaps"]) == 1
    assert skews["cam/front/image_raw"]["max_skew_ms"] > 1000 / 30
    assert skews["cam/wrist/compressed"]["gaps"] == []


def test_joint_order_by_name_with_per_joint_keys(tmp_path: Path) -> None:
    truth = write_ros2(tmp_path / "bag", seconds=0.5)
    mapping = MAPPING.replace(
        "state: {parts: [joint_states/position], names: [j_a, j_b, j_c]}",
        "state: [joint_states/position/j_c, joint_states/position/j_a]",
    )
    _convert(
        tmp_path / "bag",
        tmp_path / "out",
        "ros",
        mapping,
        tmp_path,
        time="log",
        interpolation={"joint_states": "previous"},
    )
    info = json.loads((tmp_path / "out" / "meta" / "info.json").read_text())
    assert info["features"]["observation.state"]["names"] == ["j_c", "j_a"]
    got = np.stack(_data(tmp_path / "out")["observation.state"].to_numpy())
    # by log time, zero-order hold: each row is the last joint message logged at or before the grid time
    ep = _episodes(tmp_path / "out").iloc[0]
    t0 = round(ep["source_start_s"] * NS)
    logs = np.asarray(truth.joint_log, dtype=np.int64)
    vals = joint_position(_secs(truth.joint_stamps, T0))
    grid = np.arange(len(got)) / 30
    idx = np.searchsorted((logs - t0) / NS, grid, side="right") - 1
    np.testing.assert_array_equal(got, vals[idx][:, [2, 0]].astype(np.float32))
    assert json.loads(ep["alignment"])["joint_states/position/j_a"]["method"] == "previous"
    assert ep["alignment_time"] == "log"


# --- Foxglove CompressedVideo MCAP --------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_foxglove_compressed_video_mcap(tmp_path: Path, encoding: str) -> None:
    from tests.fixtures.datasets import synthetic_frame
    from tests.fixtures.robot_logs import encode_h264

    src = [synthetic_frame(48, 64, 0, i) for i in range(25)]
    write_video_mcap(tmp_path / "run.mcap", src, encoding=encoding)
    mapping = "fps: 30\ncameras: {cam: camera/video}\nstate: [arm/pose/pose]\ntask: task\n"
    rep = _convert(
        tmp_path / "run.mcap", tmp_path / "out", "mcap", mapping, tmp_path, task_metadata="episode/task"
    )
    assert rep.episodes == 1 and not rep.failures
    # the source frames as any decoder sees them
    import av

    ctx = av.CodecContext.create("h264", "r")
    decoded = []
    for data, _key in encode_h264(src):
        decoded += [f.to_ndarray(format="rgb24") for f in ctx.decode(av.Packet(data))]
    decoded += [f.to_ndarray(format="rgb24") for f in ctx.decode(None)]
    r = DatasetReader(tmp_path / "out")
    got = _video(r, "observation.images.cam", 0)
    assert len(got) == len(decoded) == 25
    err = np.abs(got.astype(int) - np.stack(decoded).astype(int)).mean(axis=(1, 2, 3))
    assert err.max() < 2.0
    df = _data(tmp_path / "out")
    state = np.stack(df["observation.state"].to_numpy())
    t = np.arange(25) / 30  # pose is (t, 2t, -t, 0, 0, 0, 1) at 100 Hz: linear interpolation is exact
    np.testing.assert_allclose(state[:, :3], np.stack([t, 2 * t, -t], axis=1), atol=1e-6)
    np.testing.assert_array_equal(state[:, 3:], np.tile([0, 0, 0, 1], (25, 1)))
    assert _episodes(tmp_path / "out").iloc[0]["tasks"].tolist() == ["wave at the camera"]


# --- hostile inputs -----------------------------------------------------------------------------------
def _cli(*args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_garbage_bag_and_truncated_mcap_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "garbage.bag").write_bytes(b"#ROSBAG V2.0\n" + bytes(range(256)) * 4)
    write_video_mcap(tmp_path / "full.mcap", [np.zeros((16, 16, 3), np.uint8)] * 5)
    blob = (tmp_path / "full.mcap").read_bytes()
    (tmp_path / "cut.mcap").write_bytes(blob[: len(blob) * 2 // 3])
    (tmp_path / "db3").mkdir()
    (tmp_path / "db3" / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9")
    for kind, src in (("ros", "garbage.bag"), ("mcap", "cut.mcap"), ("ros", "db3")):
        before = (tmp_path / src).stat().st_mtime_ns
        p = _cli("convert", kind, str(tmp_path / src), "--out", str(tmp_path / f"out-{src}"), "--fps", "30")
        assert p.returncode == 2, (src, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and str(tmp_path / src) in lines[0] and "Traceback" not in p.stderr, p.stderr
        assert (tmp_path / src).stat().st_mtime_ns == before
        assert not (tmp_path / f"out-{src}").exists()


# --- LeRobot ---------------------------------------------------------------------------------------------
LOAD = """
import json
from lerobot.datasets.lerobot_dataset import LeRobotDataset
out = {{}}
for name in ("ros", "zarr"):
    ds = LeRobotDataset("local/" + name, root={root!r} + "/" + name)
    rows = [ds[i] for i in range(len(ds))]
    cam = [k for k in ds.meta.camera_keys][0]
    out[name] = {{"len": len(ds), "episodes": ds.num_episodes, "tasks": [r["task"] for r in rows],
                 "state": [r["observation.state"].numpy().tolist() for r in rows],
                 "img": list(rows[-1][cam].shape)}}
print(json.dumps(out))
"""


def _log_and_buffer_datasets(tmp_path: Path) -> Any:
    """A long log cut by events and a replay buffer, converted and validated (with a full decode)."""
    from robopipe.validate.engine import validate_dataset
    from tests.robopipe.convert.test_zarr_source import make_replay_buffer

    spans = [(0.2, 0.9, "pick up the cube"), (1.2, 1.8, "put it in the box")]
    write_ros2(tmp_path / "long", storage="mcap", seconds=2.0, extra=event_messages(spans))
    _convert(
        tmp_path / "long", tmp_path / "ros", "ros", MAPPING.replace("task: {default: stack the blocks}", "task: task"),
        tmp_path, cut="event", event_topic="/recording", task_topic="/task",
    )  # fmt: skip
    data = make_replay_buffer(tmp_path / "rb.zarr")
    run_conversion(
        ConvertRequest(
            source=SourceSpec(kind="zarr", path=str(tmp_path / "rb.zarr"), options={"task": "push the T"}),
            out=tmp_path / "zarr",
            fps=10,
            encoder=ENC,
        )
    )
    for name in ("ros", "zarr"):
        report = validate_dataset(tmp_path / name, full_decode=True)
        assert report.valid, [f.message for f in report.errors]

    def check(got: Any) -> None:
        ros_df = _data(tmp_path / "ros")
        assert got["ros"]["episodes"] == 2 and got["ros"]["len"] == len(ros_df)
        np.testing.assert_allclose(
            got["ros"]["state"], np.stack(ros_df["observation.state"].to_numpy()), atol=0
        )
        assert set(got["ros"]["tasks"]) == {s[2] for s in spans}
        assert got["ros"]["img"] == [3, 24, 32]
        assert got["zarr"]["episodes"] == 3 and got["zarr"]["len"] == 20
        assert set(got["zarr"]["tasks"]) == {"push the T"}
        want = np.concatenate([data["robot_eef_pos"], data["robot_gripper_width"]], axis=1)
        np.testing.assert_allclose(got["zarr"]["state"], want, atol=0)

    return check


@pytest.mark.slow
@pytest.mark.lerobot
def test_converted_logs_and_replay_buffer_load_in_lerobot(tmp_path: Path, lerobot_python: str) -> None:
    from tests.fixtures.lerobot_ref import run_reference

    check = _log_and_buffer_datasets(tmp_path)  # lerobot_python: 0.4.4, then 0.6.1
    check(run_reference(LOAD.format(root=str(tmp_path)), tmp_path / "ref", python=lerobot_python))


def _decode_source(packets: list[tuple[bytes, bool]]) -> list[np.ndarray]:
    ctx = av.CodecContext.create("h264", "r")
    out = []
    for data, _key in packets:
        out += [f.to_ndarray(format="rgb24") for f in ctx.decode(av.Packet(data))]
    return out + [f.to_ndarray(format="rgb24") for f in ctx.decode(None)]


def test_compressed_video_is_stream_copied_when_gops_allow(tmp_path: Path) -> None:
    """H.264 source + h264 output: keyframe-started episodes are stream-copied (bit-exact frames); an
    episode cut mid-GOP is decoded and re-encoded; both land in valid videos."""
    from robopipe.validate.engine import validate_dataset
    from tests.fixtures.datasets import synthetic_frame
    from tests.fixtures.robot_logs import encode_h264

    src = [synthetic_frame(48, 64, 0, i) for i in range(60)]  # 2 s at 30 fps, keyframes every 10 frames
    write_video_mcap(tmp_path / "run.mcap", src)
    decoded = _decode_source(encode_h264(src))
    mapping = "fps: 30\ncameras: {cam: camera/video}\nstate: [arm/pose/pose]\n"
    # episode 0 starts on the keyframe at frame 10, episode 1 at frame 35 (mid-GOP)
    ranges = [(10 / 30 - 0.001, 30 / 30 - 0.001), (35 / 30 - 0.001, 55 / 30 - 0.001)]
    enc = EncoderOptions(codec="h264", crf=30, preset="ultrafast")
    mp = tmp_path / "m.yaml"
    mp.write_text(mapping)
    req = ConvertRequest(
        source=SourceSpec(
            kind="mcap", path=str(tmp_path / "run.mcap"), options={"cut": "ranges", "ranges": ranges}
        ),
        out=tmp_path / "out",
        mapping=str(mp),
        encoder=enc,
    )
    rep = run_conversion(req)
    assert rep.episodes == 2 and not rep.failures, rep.failures
    eps = _episodes(tmp_path / "out")
    assert eps["stream_copied"].tolist() == ["camera/video", ""]
    # grid: from the later first sample (pose at 0.34 s) to the earlier last one (frame 29 at 0.967 s)
    assert eps["length"].tolist() == [19, 19]
    r = DatasetReader(tmp_path / "out")
    got0 = _video(r, "observation.images.cam", 0)
    np.testing.assert_array_equal(got0, np.stack(decoded[10:29]))  # stream copy: the source frames, bit-exact
    got1 = _video(r, "observation.images.cam", 1)
    idx = np.rint((1.17 + np.arange(19) / 30) * 30).astype(int)  # the grid starts with the pose at 1.17 s
    err = np.abs(got1.astype(int) - np.stack([decoded[i] for i in idx]).astype(int)).mean()
    assert err < 6  # re-encoded at crf 30: close, not exact
    # both episodes share one file (two shards merged): each decodes with its own in-band parameter sets
    report = validate_dataset(tmp_path / "out", full_decode=True)
    assert report.valid, [f.message for f in report.errors]


def test_cli_print_mapping_keeps_the_log_options_and_converts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    spans = [(0.2, 0.9, "pick up the cube"), (1.2, 1.8, "put it in the box")]
    write_ros2(tmp_path / "long", storage="mcap", seconds=2.0, extra=event_messages(spans))
    src = str(tmp_path / "long")
    assert (
        main(
            ["convert", "ros", src, "--print-mapping", "--event-topic", "/recording", "--task-topic", "/task"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "(2 episodes)" in printed and "names: [j_a, j_b, j_c]" in printed
    assert "#   joint_states/position/j_b: step tensor float64 []" in printed
    (tmp_path / "m.yaml").write_text(printed)
    code = main(
        ["convert", "ros", src, "--out", str(tmp_path / "out"), "--mapping", str(tmp_path / "m.yaml"),
         "--workers", "1", "--codec", "h264"]
    )  # fmt: skip
    assert code == 0
    eps = _episodes(tmp_path / "out")
    assert [list(t) for t in eps["tasks"]] == [[s[2]] for s in spans]
    assert set(eps["file"]) == {"long"}  # the bag folder


def test_long_log_cut_by_silence_and_by_annotation_text(tmp_path: Path) -> None:
    from robopipe.convert.ros import RosReader

    write_ros2(tmp_path / "gaps", seconds=3.0, silence=(1.0, 2.0))
    rep = _convert(tmp_path / "gaps", tmp_path / "out", "ros", MAPPING, tmp_path, cut="gap", gap_s=0.5)
    assert rep.episodes == 2 and not rep.failures
    eps = _episodes(tmp_path / "out")
    assert eps["source_start_s"].tolist()[1] == pytest.approx(
        T0 / NS + 2.0, abs=0.04
    )  # first frame of both cameras
    assert all(27 <= n <= 31 for n in eps["length"])  # ~1 s each at 30 fps

    # an annotation topic: each text starts an episode and is its task; 'stop' ends it
    def annotations(ts: Any) -> list[tuple[str, int, Any]]:
        s = ts.types["std_msgs/msg/String"]
        marks = [(0.1, "open the drawer"), (0.5, "stop"), (0.6, "close the drawer"), (0.9, "")]
        return [("/annotation", T0 + int(t * NS), s(data=text)) for t, text in marks]

    write_ros2(tmp_path / "ann", seconds=1.0, extra=annotations)
    reader = RosReader(tmp_path / "ann", cut="event", event_topic="/annotation", fps=30)
    assert reader.describe().num_episodes == 2
    spans = reader.spans()
    assert [(round((s.start - T0) / NS, 2), round((s.stop - T0) / NS, 2), s.text) for s in spans] == [
        (0.1, 0.5, "open the drawer"),
        (0.6, 0.9, "close the drawer"),
    ]
    got = [ep.metadata["task"] for ep in reader.read(0, None)]
    assert got == ["open the drawer", "close the drawer"]


def test_folder_of_ros1_bags_with_task_from_file_name(tmp_path: Path) -> None:
    (tmp_path / "bags").mkdir()
    for i, name in enumerate(["pick_cube__10.bag", "pick_cube__2.bag", "stack_blocks__1.bag"]):
        write_ros1(tmp_path / "bags" / name, seconds=0.4, seed=i, episode=i)
    (tmp_path / "bags" / "notes.txt").write_text("not a bag")
    rep = _convert(
        tmp_path / "bags", tmp_path / "out", "ros",
        MAPPING.replace("task: {default: stack the blocks}", "task: task\nepisode_metadata: {file: file}"),
        tmp_path, task_pattern=r"(?P<task>.+?)__\d+",
    )  # fmt: skip
    assert rep.episodes == 3 and not rep.failures
    eps = _episodes(tmp_path / "out")
    assert eps["file"].tolist() == [
        "pick_cube__2.bag",
        "pick_cube__10.bag",
        "stack_blocks__1.bag",
    ]  # natural order
    assert [list(t) for t in eps["tasks"]] == [["pick cube"], ["pick cube"], ["stack blocks"]]


def test_symlink_out_of_the_source_folder_is_refused(tmp_path: Path) -> None:
    from robopipe.convert.ros import RosReader
    from robopipe.errors import ConversionError

    write_ros1(tmp_path / "outside.bag", seconds=0.2)
    (tmp_path / "bags").mkdir()
    (tmp_path / "bags" / "a.bag").symlink_to(tmp_path / "outside.bag")
    with pytest.raises(ConversionError, match="outside the source folder"):
        RosReader(tmp_path / "bags")


def test_unsupported_topic_is_skipped_and_oversized_episode_refused(tmp_path: Path) -> None:
    from robopipe.convert.ros import RosReader
    from robopipe.errors import ConversionError

    def depth(ts: Any) -> list[tuple[str, int, Any]]:
        image, time = ts.types["sensor_msgs/msg/CompressedImage"], ts.types["builtin_interfaces/msg/Time"]
        header = ts.types["std_msgs/msg/Header"](stamp=time(sec=T0 // NS, nanosec=0), frame_id="d")
        msg = image(header=header, format="16UC1; compressedDepth png", data=np.zeros(8, np.uint8))
        return [("/cam/depth/compressedDepth", T0 + k * NS // 10, msg) for k in range(5)]

    write_ros2(tmp_path / "bag", seconds=0.5, extra=depth)
    reader = RosReader(tmp_path / "bag")
    assert "cam/front/image_raw" in reader.describe().fields
    assert "compressedDepth" in reader.unsupported["/cam/depth/compressedDepth"]
    rep = _convert(tmp_path / "bag", tmp_path / "out", "ros", MAPPING, tmp_path)
    assert rep.episodes == 1 and not rep.failures
    with pytest.raises(ConversionError, match=r"would take \d+ MB in memory .*cut the log"):
        _convert(tmp_path / "bag", tmp_path / "out2", "ros", MAPPING, tmp_path, max_episode_mb=0.01)


def test_inferred_mapping_takes_whole_command_vectors(tmp_path: Path) -> None:
    from robopipe.convert.ros import RosReader

    def commands(ts: Any) -> list[tuple[str, int, Any]]:
        t = ts.types
        pose = t["geometry_msgs/msg/Pose"](
            position=t["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=3.0),
            orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        )
        grip = t["std_msgs/msg/Float64"](data=0.5)
        return [
            m
            for k in range(20)
            for m in (
                ("/arm/target_pose", T0 + k * NS // 20, pose),
                ("/gripper/command", T0 + k * NS // 20, grip),
            )
        ]

    write_ros2(tmp_path / "bag", seconds=1.0, extra=commands)
    m = RosReader(tmp_path / "bag").infer_mapping()
    assert m.action is not None and [p.key for p in m.action.parts] == [
        "arm/target_pose/pose",
        "gripper/command/data",
    ]
    assert m.state is not None and m.state.names == ["j_a", "j_b", "j_c"] and m.fps == 30
    assert set(m.cameras) == {"front", "wrist"}


def test_planned_spans_reach_the_shards_without_a_rescan(tmp_path: Path) -> None:
    from robopipe.convert.engine import plan_conversion
    from robopipe.convert.ros import RosReader

    spans = [(0.2, 0.5, "a"), (0.6, 0.9, "b")]
    write_ros2(tmp_path / "long", seconds=1.0, extra=event_messages(spans))
    (tmp_path / "m.yaml").write_text(MAPPING)
    src = SourceSpec(
        kind="ros", path=str(tmp_path / "long"), options={"cut": "event", "event_topic": "/recording"}
    )
    plan = plan_conversion(ConvertRequest(source=src, out=tmp_path / "out", mapping=str(tmp_path / "m.yaml")))
    planned = plan.request.source.options["spans"]
    assert [(f, round((a - T0) / NS, 2), round((b - T0) / NS, 2)) for f, a, b, _ in planned] == [
        (0, 0.2, 0.5),
        (0, 0.6, 0.9),
    ]
    assert [(s.start, s.stop) for s in plan.shards] == [(0, 1), (1, 2)]
    # a worker given the spans does not look for the event topic again (here it would not find it)
    reader = RosReader(tmp_path / "long", cut="event", event_topic="/gone", spans=planned, fps=30)
    assert reader.describe().num_episodes == 2
    assert sum(1 for _ in reader.read(1, 2)) == 1


def test_16uc1_depth_topic_becomes_a_lerobot_depth_map(tmp_path: Path) -> None:
    from robopipe.convert.ros import RosReader
    from robopipe.format import depth as dq
    from robopipe.validate.engine import validate_dataset

    def depth_msgs(ts: Any) -> list[tuple[str, int, Any]]:
        t = ts.types
        out = []
        for k in range(16):
            stamp = T0 + k * NS // 15
            mm = (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 3 + 500 + 40 * k).astype(np.uint16)
            header = t["std_msgs/msg/Header"](
                stamp=t["builtin_interfaces/msg/Time"](sec=stamp // NS, nanosec=stamp % NS), frame_id="d"
            )
            msg = t["sensor_msgs/msg/Image"](
                header=header, height=24, width=32, encoding="16UC1", is_bigendian=0, step=64,
                data=mm.view(np.uint8).reshape(-1),
            )  # fmt: skip
            out.append(("/cam/depth/image_raw", stamp + 2_000_000, msg))
        return out

    write_ros2(tmp_path / "bag", seconds=1.0, extra=depth_msgs)
    m = RosReader(tmp_path / "bag").infer_mapping()
    assert m.depth == {"depth": "cam/depth/image_raw"}
    mapping = MAPPING + "depth: {depth: cam/depth/image_raw}\n"
    rep = _convert(tmp_path / "bag", tmp_path / "out", "ros", mapping, tmp_path, max_skew_s=0.07)
    assert rep.episodes == 1 and not rep.failures, rep.failures
    info = json.loads((tmp_path / "out" / "meta" / "info.json").read_text())
    feat = info["features"]["observation.images.depth"]
    assert (
        feat["shape"][2] == 1 and feat["info"]["is_depth_map"] and feat["info"]["video.pix_fmt"] == "gray12le"
    )
    r = DatasetReader(tmp_path / "out")
    got = np.stack(list(r.iter_video_frames("observation.images.depth", 0)))
    ep = _episodes(tmp_path / "out").iloc[0]
    grid = np.arange(len(got)) / 30 + (ep["source_start_s"] - T0 / NS)
    k = np.rint(grid * 15).astype(int)  # nearest 15 Hz depth frame
    want = np.stack([(np.arange(24 * 32).reshape(24, 32) * 3 + 500 + 40 * i) for i in k])[..., None].astype(
        np.uint16
    )
    cfg = dq.DepthEncoderConfig.from_info(feat["info"])
    expect = np.stack([dq.dequantize(dq.quantize(w, cfg), cfg, "mm")[..., None] for w in want[..., 0]])
    np.testing.assert_array_equal(got, expect)  # the 12-bit codes survive the lossless video exactly
    report = validate_dataset(tmp_path / "out", full_decode=True)
    assert report.valid, [f.message for f in report.errors]


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_bare_ros2_storage_file_without_metadata_yaml(tmp_path: Path, storage: str) -> None:
    truth = write_ros2(tmp_path / "bag", storage=storage, seconds=0.6)
    (tmp_path / "bare").mkdir()
    src = next(p for p in (tmp_path / "bag").iterdir() if p.suffix in (".db3", ".mcap"))
    bare = src.rename(tmp_path / "bare" / src.name)
    rep = _convert(bare, tmp_path / "out", "ros", MAPPING, tmp_path)
    assert rep.episodes == 1 and not rep.failures
    assert len(_data(tmp_path / "out")) == len(_grid(truth)[1])
