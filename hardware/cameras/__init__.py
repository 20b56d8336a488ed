"""Cameras through PyAV: V4L2 devices and synthetic lavfi sources, plus V4L2 discovery."""

from hardware.cameras.config import CameraConfig, parse_camera_spec, parse_camera_specs
from hardware.cameras.pyav_camera import (
    CameraFrame,
    CameraTimeoutError,
    PyAVCamera,
    SyntheticCamera,
    V4L2Camera,
    make_camera,
)

__all__ = [
    "CameraConfig",
    "CameraFrame",
    "CameraTimeoutError",
    "PyAVCamera",
    "SyntheticCamera",
    "V4L2Camera",
    "make_camera",
    "parse_camera_spec",
    "parse_camera_specs",
]
