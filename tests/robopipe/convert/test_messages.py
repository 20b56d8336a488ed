"""Robot-log message values: images by encoding, JointState by name, geometry, arrays, stamps, payloads."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from robopipe.convert.messages import (
    extract,
    has_parameter_sets,
    image_array,
    stamp_ns,
    to_plain,
    type_name,
)
from robopipe.errors import ConversionError


def _img(encoding: str, arr: np.ndarray, pad: int = 0, big: bool = False) -> dict:
    h, w = arr.shape[:2]
    rows = arr.reshape(h, -1)
    if big:
        rows = arr.astype(arr.dtype.newbyteorder(">")).reshape(h, -1)
    raw = rows.view(np.uint8).reshape(h, -1)
    raw = np.concatenate([raw, np.zeros((h, pad), np.uint8)], axis=1)
    return {
        "encoding": encoding,
        "height": h,
        "width": w,
        "step": raw.shape[1],
        "is_bigendian": int(big),
        "data": raw.reshape(-1),
    }


def test_image_encodings() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_array(_img("rgb8", rgb, pad=3)), rgb)  # row padding dropped
    np.testing.assert_array_equal(image_array(_img("bgr8", rgb[..., ::-1].copy())), rgb)
    rgba = np.concatenate([rgb, np.full((4, 5, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(image_array(_img("bgra8", rgba[..., [2, 1, 0, 3]].copy())), rgb)
    mono = rng.integers(0, 255, (4, 5, 1), dtype=np.uint8)
    np.testing.assert_array_equal(image_array(_img("mono8", mono)), mono)
    depth = rng.integers(0, 65535, (4, 5, 1), dtype=np.uint16)
    for big in (False, True):
        got = image_array(_img("16UC1", depth, big=big))
        assert got.dtype == np.uint16 and got.dtype.byteorder in "=|<"
        np.testing.assert_array_equal(got, depth)
    with pytest.raises(ConversionError, match="not supported"):
        image_array(_img("yuv422", rgb))
    bad = _img("rgb8", rgb)
    bad["height"] = 400
    with pytest.raises(ConversionError, match="does not fit"):
        image_array(bad)


def test_joint_state_by_name() -> None:
    msg = {
        "name": ["b", "a", "c"],
        "position": np.array([2.0, 1.0, 3.0]),
        "velocity": np.array([]),
        "effort": [],
    }
    out = extract("sensor_msgs/JointState", msg, ["a", "b", "c"])
    np.testing.assert_array_equal(out["position"], [1.0, 2.0, 3.0])
    assert float(out["position/b"]) == 2.0 and "velocity" not in out
    missing = extract("sensor_msgs/JointState", {"name": ["a"], "position": np.array([1.0])}, ["a", "b"])
    assert "position" not in missing and float(missing["position/a"]) == 1.0  # no vector without every joint
    with pytest.raises(ConversionError, match="2 values for 3 joint names"):
        extract("sensor_msgs/JointState", {"name": ["a", "b", "c"], "position": np.array([1.0, 2.0])}, None)


def test_geometry_arrays_and_dotted_fields() -> None:
    pose = {
        "position": {"x": 1.0, "y": 2.0, "z": 3.0},
        "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
    }
    stamped = {"header": {"stamp": {"sec": 5, "nanosec": 7}, "frame_id": "w"}, "pose": pose}
    np.testing.assert_array_equal(
        extract("geometry_msgs/PoseStamped", stamped)["pose"], [1, 2, 3, 0, 0, 0, 1]
    )
    twist = {"linear": {"x": 1.0, "y": 0.0, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": 0.5}}
    np.testing.assert_array_equal(extract("geometry_msgs/Twist", twist)["twist"], [1, 0, 0, 0, 0, 0.5])
    odom = {"header": {}, "child_frame_id": "base", "pose": {"pose": pose, "covariance": np.zeros(36)},
            "twist": {"twist": twist, "covariance": np.zeros(36)}}  # fmt: skip
    out = extract("nav_msgs/Odometry", odom)
    assert {k for k in out if "/" not in k} == {"child_frame_id", "pose", "twist"}
    assert "pose/covariance" not in out and float(out["twist/angular/z"]) == 0.5
    arr = {"layout": {"dim": [], "data_offset": 0}, "data": np.array([1.5, 2.5])}
    np.testing.assert_array_equal(extract("std_msgs/Float64MultiArray", arr)["data"], [1.5, 2.5])
    custom = {"gripper": {"width": 0.04, "force": {"value": 3}}, "mode": "auto", "blob": b"x"}
    out = extract("my_msgs/Custom", custom)
    assert (
        float(out["gripper/width"]) == 0.04 and int(out["gripper/force/value"]) == 3 and out["mode"] == "auto"
    )
    assert "blob" not in out


def test_stamps_types_payloads() -> None:
    assert stamp_ns({"header": {"stamp": {"sec": 2, "nanosec": 5}}}) == 2_000_000_005
    assert stamp_ns({"timestamp": {"sec": 1, "nsec": 3}}) == 1_000_000_003
    assert stamp_ns({"timestamp": {"seconds": 1, "nanos": 3}}) == 1_000_000_003
    assert stamp_ns({"header": {"stamp": {"sec": 0, "nanosec": 0}}}) is None  # unset: use the log time
    assert stamp_ns({"data": 1}) is None
    assert type_name("sensor_msgs/msg/JointState") == "sensor_msgs/JointState"
    assert type_name("foxglove.CompressedVideo") == "foxglove/CompressedVideo"
    jpeg = b"\xff\xd8\xff\xe0fake"
    out = extract("sensor_msgs/CompressedImage", {"format": "jpeg", "data": base64.b64encode(jpeg).decode()})
    assert out[""] == jpeg  # JSON-encoded bytes are base64 text
    with pytest.raises(ConversionError, match="base64"):
        extract("sensor_msgs/CompressedImage", {"format": "jpeg", "data": "not base64!"})
    with pytest.raises(ConversionError, match="compressedDepth"):
        extract("sensor_msgs/CompressedImage", {"format": "16UC1; compressedDepth", "data": b""})
    with pytest.raises(ConversionError, match="vp9"):
        extract("foxglove/CompressedVideo", {"format": "vp9", "data": b""})
    assert to_plain([1, 2.5]).tolist() == [1, 2.5] and to_plain((b"a", "b")) == [b"a", "b"]
    assert has_parameter_sets(b"\x00\x00\x00\x01\x67aa\x00\x00\x01\x68bb\x00\x00\x01\x65cc", "h264")
    assert not has_parameter_sets(b"\x00\x00\x00\x01\x41aa", "h264")


def test_geometry_components_are_keys_too() -> None:
    pose = {
        "position": {"x": 1.0, "y": 2.0, "z": 3.0},
        "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
    }
    out = extract("geometry_msgs/PoseStamped", {"header": {}, "pose": pose})
    assert float(out["pose/position/y"]) == 2.0 and float(out["pose/orientation/w"]) == 1.0
    bare = extract("geometry_msgs/Pose", pose)
    np.testing.assert_array_equal(bare["pose"], [1, 2, 3, 0, 0, 0, 1])
    assert float(bare["pose/position/z"]) == 3.0
