"""Camera configuration and the ``--camera`` spec syntax (hardware layer).

A camera spec on the command line is ``[name=]source[:WxH][@FPS][:input_format]``:

* ``sim:640x480`` — a synthetic camera (PyAV ``lavfi`` test source), 640×480 at the recording fps;
* ``front=/dev/video0:640x480@30:mjpeg`` — a V4L2 device through PyAV, MJPEG at 640×480, 30 fps;
* ``wrist=/dev/video2`` — a V4L2 device at the driver's default size (probed at connect).

Unnamed cameras are called ``front``, ``wrist``, ``top``, ``side``, then ``cam4``, ``cam5`` … in order.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from robopipe.errors import ConfigError

DEFAULT_NAMES = ("front", "wrist", "top", "side")
_SIZE = re.compile(r"^(\d+)x(\d+)(?:@(\d+(?:\.\d+)?))?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CameraConfig(BaseModel):
    """One camera: where its frames come from and the shape/rate it must deliver."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Camera name; the dataset feature is observation.images.<name>.")
    source: Literal["v4l2", "sim"] = Field(
        description="'v4l2' for /dev/video*, 'sim' for a lavfi test source."
    )
    path: str | None = Field(default=None, description="Device path for v4l2 cameras (e.g. /dev/video0).")
    width: int | None = Field(
        default=None, gt=0, description="Frame width; None = the device default (v4l2)."
    )
    height: int | None = Field(
        default=None, gt=0, description="Frame height; None = the device default (v4l2)."
    )
    fps: float | None = Field(default=None, gt=0, description="Capture rate; None = the recording fps.")
    input_format: str | None = Field(
        default=None, description="V4L2 input format, e.g. 'mjpeg' or 'yuyv422' (None = driver default)."
    )
    pattern: str = Field(
        default="testsrc2",
        description="lavfi source of a sim camera: testsrc2, testsrc, smptebars, rgbtestsrc.",
    )
    warmup_s: float = Field(default=1.0, ge=0, description="Seconds of frames read and discarded at connect.")
    open_timeout_s: float = Field(default=5.0, gt=0, description="How long to wait for the first frame.")

    def with_fps(self, fps: float) -> CameraConfig:
        """This config with ``fps`` filled in when it was left to the recording rate."""
        return self if self.fps is not None else self.model_copy(update={"fps": float(fps)})


def parse_camera_spec(spec: str, index: int = 0) -> CameraConfig:
    """Parse one ``[name=]source[:WxH][@FPS][:input_format]`` spec (see the module docstring).

    Raises:
        ConfigError: the spec is malformed; the message shows the accepted forms.
    """
    text = spec.strip()
    name = DEFAULT_NAMES[index] if index < len(DEFAULT_NAMES) else f"cam{index}"
    if "=" in text:
        name, text = text.split("=", 1)
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"camera spec {spec!r}: name {name!r} must be an identifier (letters, digits, _), "
                "e.g. front=sim:640x480"
            )
    parts = text.split(":")
    head, rest = parts[0], parts[1:]
    width = height = None
    fps: float | None = None
    input_format = None
    if rest and (m := _SIZE.fullmatch(rest[0])):
        width, height = int(m.group(1)), int(m.group(2))
        fps = float(m.group(3)) if m.group(3) else None
        rest = rest[1:]
    if rest:
        input_format, rest = rest[0] or None, rest[1:]
    if rest or not head:
        raise ConfigError(
            f"camera spec {spec!r} is malformed; expected [name=]sim:WxH[@FPS] or "
            "[name=]/dev/videoN[:WxH][@FPS][:input_format], e.g. front=/dev/video0:640x480@30:mjpeg"
        )
    if head == "sim":
        if width is None or height is None:
            raise ConfigError(f"camera spec {spec!r}: a sim camera needs a size, e.g. sim:640x480")
        return CameraConfig(
            name=name, source="sim", width=width, height=height, fps=fps, pattern=input_format or "testsrc2"
        )
    return CameraConfig(
        name=name, source="v4l2", path=head, width=width, height=height, fps=fps, input_format=input_format
    )


def parse_camera_specs(specs: list[str] | tuple[str, ...]) -> list[CameraConfig]:
    """Parse several specs, naming unnamed cameras in order, and reject duplicate names."""
    configs = [parse_camera_spec(s, i) for i, s in enumerate(specs)]
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"camera names must be unique, got {names} (duplicates: {dupes}); name them: front=…"
        )
    return configs


def camera_config_from_dict(data: dict[str, Any], name: str = "camera") -> CameraConfig:
    """A :class:`CameraConfig` from a robot YAML's camera entry, also accepting LeRobot's keys.

    ``{"type": "opencv" | "v4l2" | "sim", "index_or_path" | "path": "/dev/video0", "width", "height", "fps",
    "fourcc" | "input_format", "spec": "sim:640x480"}``; ``name`` is the camera's key in the robot config.
    """
    if "spec" in data:
        return parse_camera_spec(f"{name}={data['spec']}")
    kind = str(data.get("type", data.get("source", "v4l2")))
    path = data.get("path", data.get("index_or_path"))
    if isinstance(path, int):
        path = f"/dev/video{path}"
    fourcc = data.get("input_format", data.get("fourcc"))
    if isinstance(fourcc, str) and fourcc.upper() in ("MJPG", "YUYV"):
        fourcc = {"MJPG": "mjpeg", "YUYV": "yuyv422"}[fourcc.upper()]
    fields: dict[str, Any] = {
        "name": name,
        "source": "sim" if kind in ("sim", "lavfi") else "v4l2",
        "path": None if kind in ("sim", "lavfi") else path,
        "width": data.get("width"),
        "height": data.get("height"),
        "fps": data.get("fps"),
        "input_format": fourcc,
    }
    for key in ("pattern", "warmup_s", "open_timeout_s"):
        if key in data:
            fields[key] = data[key]
    if kind not in ("sim", "lavfi", "v4l2", "opencv"):
        raise ConfigError(f"camera {name!r}: type {kind!r} is not supported; use v4l2 (or opencv) or sim")
    try:
        return CameraConfig(**fields)
    except ValueError as exc:
        raise ConfigError(f"camera {name!r}: invalid config {data}: {exc}") from exc
