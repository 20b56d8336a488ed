"""Synthetic (lavfi) cameras through the same PyAV reader thread as V4L2 devices; V4L2 discovery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from hardware.cameras import CameraConfig, SyntheticCamera, V4L2Camera, make_camera, parse_camera_spec
from hardware.cameras.discovery import find_cameras, query_device
from robopipe.errors import DeviceError, DeviceNotConnectedError


@pytest.fixture
def camera() -> Iterator[SyntheticCamera]:
    cam = make_camera(parse_camera_spec("sim:64x48@30").model_copy(update={"warmup_s": 0.1}))
    assert isinstance(cam, SyntheticCamera)
    cam.connect()
    yield cam
    cam.disconnect()


def test_latest_frame_has_shape_sequence_and_timestamp(camera: SyntheticCamera) -> None:
    frame = camera.async_read_frame(timeout_ms=1000)
    assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
    assert camera.shape == (48, 64, 3)
    assert frame.seq >= 1 and frame.pts_us is not None
    newer = camera.async_read_frame(timeout_ms=1000)  # waits for a frame not returned yet
    assert newer.seq > frame.seq and newer.pts_us > frame.pts_us


def test_same_frame_twice_is_counted_as_duplicated(camera: SyntheticCamera) -> None:
    first = camera.async_read_frame(timeout_ms=1000)
    again = camera.read_latest_frame(max_age_ms=10_000)
    dupes = camera.duplicated
    if again.seq == first.seq:  # no new frame arrived in between
        assert dupes == 1
    again2 = camera.read_latest_frame(max_age_ms=10_000)
    assert camera.duplicated == dupes + (1 if again2.seq == again.seq else 0)
    assert isinstance(camera.read_latest(), np.ndarray) and isinstance(camera.read(), np.ndarray)


def test_reads_need_a_connection() -> None:
    cam = make_camera(parse_camera_spec("sim:64x48"), fps=30)
    with pytest.raises(DeviceNotConnectedError):
        cam.read_latest()


def test_missing_v4l2_device_fails_with_a_hint(tmp_path: Path) -> None:
    cam = V4L2Camera(
        CameraConfig(name="front", source="v4l2", path=str(tmp_path / "video9"), width=64, height=48)
    )
    with pytest.raises(DeviceError, match="find-cameras"):
        cam.connect()


def test_discovery_with_no_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert find_cameras(str(tmp_path / "video*")) == []
    info = query_device(str(tmp_path / "missing"))
    assert info.error and not info.capture
    (tmp_path / "video0").write_bytes(b"")  # not a V4L2 node: reported, not raised
    assert find_cameras(str(tmp_path / "video*"))[0].error
    assert (
        main(["find-cameras", "--pattern", str(tmp_path / "none*"), "--output-dir", str(tmp_path / "out")])
        == 0
    )
    assert "no cameras found" in capsys.readouterr().out
