"""Find V4L2 cameras and list their formats with the kernel's own ioctls (hardware layer).

``VIDIOC_QUERYCAP`` gives the driver, card name and bus; ``VIDIOC_ENUM_FMT`` and
``VIDIOC_ENUM_FRAMESIZES`` list pixel formats and sizes. UVC webcams expose a second ``/dev/video*``
node for metadata that cannot capture frames; it is reported with ``capture=False`` and skipped when
saving sample frames.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import logging
import os
import struct
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
VIDIOC_ENUM_FMT = 0xC0405602  # _IOWR('V', 2, struct v4l2_fmtdesc), 64 bytes
VIDIOC_ENUM_FRAMESIZES = 0xC02C564A  # _IOWR('V', 74, struct v4l2_frmsizeenum), 44 bytes
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_FRMSIZE_TYPE_DISCRETE = 1
#: FFmpeg ``input_format`` names of common fourccs.
FOURCC_TO_FFMPEG = {"MJPG": "mjpeg", "YUYV": "yuyv422", "H264": "h264", "NV12": "nv12", "YU12": "yuv420p"}


class CameraFormat(BaseModel):
    """One pixel format a device offers, with its sizes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fourcc: str = Field(description="V4L2 fourcc, e.g. MJPG, YUYV.")
    input_format: str = Field(description="FFmpeg input_format to request it (e.g. mjpeg, yuyv422).")
    description: str = Field(description="Driver's description.")
    sizes: list[str] = Field(description="Discrete sizes WxH (or one 'min-max' range for stepwise devices).")


class CameraInfo(BaseModel):
    """A ``/dev/video*`` node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="Device path.")
    card: str = Field(default="", description="Device name reported by the driver.")
    driver: str = Field(default="", description="Kernel driver (uvcvideo …).")
    bus_info: str = Field(default="", description="Bus location (usb-0000:00:14.0-1 …).")
    capture: bool = Field(default=False, description="True if the node can capture video frames.")
    formats: list[CameraFormat] = Field(default_factory=list, description="Pixel formats and sizes.")
    error: str | None = Field(default=None, description="Why the node could not be queried, if it failed.")


def _cstr(raw: bytes | bytearray) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _ioctl(fd: int, request: int, buf: bytearray) -> bool:
    try:
        fcntl.ioctl(fd, request, buf)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # end of an enumeration
            return False
        raise
    return True


def _sizes(fd: int, pixfmt: int) -> list[str]:
    sizes: list[str] = []
    for index in range(256):
        buf = bytearray(struct.pack("III", index, pixfmt, 0) + bytes(32))
        if not _ioctl(fd, VIDIOC_ENUM_FRAMESIZES, buf):
            break
        kind = struct.unpack_from("I", buf, 8)[0]
        if kind == V4L2_FRMSIZE_TYPE_DISCRETE:
            w, h = struct.unpack_from("II", buf, 12)
            sizes.append(f"{w}x{h}")
        else:
            min_w, max_w, _, min_h, max_h, _ = struct.unpack_from("6I", buf, 12)
            sizes.append(f"{min_w}x{min_h}-{max_w}x{max_h}")
            break
    return sizes


def query_device(path: str) -> CameraInfo:
    """Capabilities, formats and sizes of one V4L2 node; errors are reported in ``error``, not raised."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError as exc:
        return CameraInfo(path=path, error=f"cannot open: {exc.strerror}")
    try:
        cap = bytearray(104)
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, cap)
        driver, card, bus = _cstr(cap[0:16]), _cstr(cap[16:48]), _cstr(cap[48:80])
        caps, device_caps = struct.unpack_from("II", cap, 84)
        effective = device_caps if caps & V4L2_CAP_DEVICE_CAPS else caps
        capture = bool(effective & V4L2_CAP_VIDEO_CAPTURE)
        formats: list[CameraFormat] = []
        for index in range(64) if capture else ():
            buf = bytearray(struct.pack("III", index, V4L2_BUF_TYPE_VIDEO_CAPTURE, 0) + bytes(52))
            if not _ioctl(fd, VIDIOC_ENUM_FMT, buf):
                break
            desc = _cstr(buf[12:44])
            pixfmt = struct.unpack_from("I", buf, 44)[0]
            fourcc = pixfmt.to_bytes(4, "little").decode("ascii", "replace")
            formats.append(
                CameraFormat(
                    fourcc=fourcc,
                    input_format=FOURCC_TO_FFMPEG.get(fourcc, fourcc.strip().lower()),
                    description=desc,
                    sizes=_sizes(fd, pixfmt),
                )
            )
        return CameraInfo(path=path, card=card, driver=driver, bus_info=bus, capture=capture, formats=formats)
    except OSError as exc:
        return CameraInfo(path=path, error=f"not a V4L2 device or query failed: {exc.strerror}")
    finally:
        os.close(fd)


def list_video_devices(pattern: str = "/dev/video*") -> list[str]:
    """``/dev/video*`` paths sorted by number."""

    def key(p: str) -> tuple[int, str]:
        digits = "".join(ch for ch in Path(p).name if ch.isdigit())
        return (int(digits) if digits else 1 << 30, p)

    return sorted(glob.glob(pattern), key=key)


def find_cameras(pattern: str = "/dev/video*") -> list[CameraInfo]:
    """Query every V4L2 node matching ``pattern``."""
    return [query_device(p) for p in list_video_devices(pattern)]
