"""Camera spec parsing (``--camera``)."""

from __future__ import annotations

import pytest

from hardware.cameras.config import parse_camera_spec, parse_camera_specs
from robopipe.errors import ConfigError


def test_sim_spec_gets_default_name_and_size() -> None:
    cfg = parse_camera_spec("sim:640x480")
    assert (cfg.name, cfg.source, cfg.width, cfg.height, cfg.fps) == ("front", "sim", 640, 480, None)
    assert cfg.with_fps(30).fps == 30
    assert parse_camera_spec("sim:64x48@15").with_fps(30).fps == 15  # explicit rate wins


def test_v4l2_spec_with_everything() -> None:
    cfg = parse_camera_spec("top=/dev/video2:1280x720@30:mjpeg")
    assert (cfg.name, cfg.source, cfg.path, cfg.width, cfg.height, cfg.fps, cfg.input_format) == (
        "top", "v4l2", "/dev/video2", 1280, 720, 30.0, "mjpeg"
    )  # fmt: skip
    bare = parse_camera_spec("/dev/video0", index=5)
    assert (bare.name, bare.width, bare.input_format) == ("cam5", None, None)


def test_several_specs_are_named_in_order_and_must_be_unique() -> None:
    assert [c.name for c in parse_camera_specs(["sim:64x48", "sim:64x48", "sim:64x48"])] == [
        "front",
        "wrist",
        "top",
    ]
    with pytest.raises(ConfigError, match="unique"):
        parse_camera_specs(["a=sim:64x48", "a=sim:64x48"])


@pytest.mark.parametrize(
    "spec", ["sim", "sim:big", "bad name=sim:64x48", "/dev/video0:640x480:mjpeg:extra", ""]
)
def test_malformed_specs_say_what_is_accepted(spec: str) -> None:
    with pytest.raises(ConfigError, match="camera spec"):
        parse_camera_spec(spec)


def test_robot_yaml_camera_entries_including_lerobot_keys() -> None:
    from hardware.cameras.config import camera_config_from_dict
    from hardware.cameras.pyav_camera import SyntheticCamera, V4L2Camera, make_camera

    cfg = camera_config_from_dict(
        {"type": "opencv", "index_or_path": 2, "width": 640, "height": 480, "fps": 30, "fourcc": "MJPG"},
        "top",
    )
    assert (cfg.name, cfg.source, cfg.path, cfg.input_format) == ("top", "v4l2", "/dev/video2", "mjpeg")
    assert camera_config_from_dict({"spec": "sim:64x48"}, "wrist").name == "wrist"
    assert isinstance(
        make_camera({"type": "sim", "width": 64, "height": 48}, fps=30, name="w"), SyntheticCamera
    )
    assert isinstance(make_camera("/dev/video0", name="front"), V4L2Camera)
    with pytest.raises(ConfigError, match="not supported"):
        camera_config_from_dict({"type": "intelrealsense"}, "x")
