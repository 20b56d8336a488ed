"""Cameras read through PyAV: V4L2 devices and synthetic ``lavfi`` test sources (hardware layer).

A background thread decodes continuously and keeps only the newest frame, with its device timestamp
(``pts`` in µs: the V4L2 buffer's kernel capture time, or the lavfi stream time) and its arrival time on
the monotonic clock. This is LeRobot's pattern (``read_latest`` / ``async_read``) with two additions:
every frame carries a sequence number, so a consumer can tell a *new* frame from the *same* frame
returned twice (a stale camera), and the camera counts those repeats in :attr:`PyAVCamera.duplicated`.
FFmpeg's v4l2 demuxer queues up to 256 buffers FIFO, so without a thread that always drains it a slow
consumer would read ever older frames (reference hardware.md §5.2).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from hardware.base import Camera
from hardware.cameras.config import CameraConfig, camera_config_from_dict, parse_camera_spec
from robopipe.errors import DeviceError, DeviceNotConnectedError, DeviceTimeoutError

logger = logging.getLogger(__name__)


class CameraTimeoutError(DeviceTimeoutError, TimeoutError):
    """No (fresh enough) frame arrived in time; also a builtin ``TimeoutError`` like LeRobot raises."""


@dataclass(frozen=True)
class CameraFrame:
    """One decoded frame: RGB pixels plus where it sits in time."""

    image: np.ndarray  #: (H, W, 3) uint8 RGB
    seq: int  #: 1, 2, 3 … in arrival order; equal seq = the same frame
    pts_us: int | None  #: device timestamp in µs (V4L2 kernel capture time; lavfi stream time)
    arrival_s: float  #: time.monotonic() when the reader thread stored it


class PyAVCamera(Camera):
    """Base class: open a PyAV input, decode in a thread, serve the newest frame.

    Subclasses implement :meth:`_open` (return an opened ``av`` input container).
    """

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.name = config.name
        self._container: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._latest: CameraFrame | None = None
        self._error: BaseException | None = None
        self._consumed_seq = 0  # newest seq handed out by read()/async_read()/read_latest()
        self._shape: tuple[int, int, int] | None = (
            (config.height, config.width, 3) if config.width and config.height else None
        )
        self.frames_received = 0
        self.duplicated = 0  #: reads that returned a frame already returned before

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # ------------------------------------------------------------------ Device
    @property
    def is_connected(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def shape(self) -> tuple[int, int, int]:
        if self._shape is None:
            raise DeviceNotConnectedError(
                f"{self}: the frame size is only known after connect() (no width/height configured)"
            )
        return self._shape

    def connect(self, warmup: bool = True) -> None:
        """Open the source, start the reader thread, wait for a first frame, then warm up."""
        if self.is_connected:
            return
        self._stop.clear()
        self._error = None
        self._latest = None
        self._consumed_seq = 0
        self._container = self._open()
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        w, h = stream.codec_context.width, stream.codec_context.height
        want = self._shape
        if want is not None and w and h and (h, w) != want[:2]:
            self._container.close()
            raise DeviceError(
                f"camera {self.name!r} ({self._describe()}): asked for {want[1]}x{want[0]}, the device "
                f"delivers {w}x{h}; pick a size the device supports (robopipe find-cameras lists them)"
            )
        if w and h:
            self._shape = (h, w, 3)
        self._thread = threading.Thread(target=self._run, name=f"camera:{self.name}", daemon=True)
        self._thread.start()
        first = self._wait_new(0, self.config.open_timeout_s)
        if first is None:
            self.disconnect()
            raise CameraTimeoutError(
                f"camera {self.name!r} ({self._describe()}): no frame within {self.config.open_timeout_s} s "
                "of opening; check the device/cable and that no other program uses it"
            ) from self._error
        h, w, c = first.image.shape
        self._shape = (int(h), int(w), int(c))
        if warmup and self.config.warmup_s > 0:
            end = time.monotonic() + self.config.warmup_s
            while time.monotonic() < end:
                self._check_alive()
                time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        self._consumed_seq = self._latest.seq if self._latest else 0
        self.duplicated = 0
        logger.info("camera %s connected: %s, %s", self.name, self._describe(), self._shape)

    def disconnect(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._container is not None:
            try:
                self._container.close()
            except av.FFmpegError as exc:  # closing a vanished device; nothing left to release
                logger.debug("camera %s: close failed: %s", self.name, exc)
            self._container = None

    # ------------------------------------------------------------------ reads
    def read(self) -> np.ndarray:
        """Block until a frame newer than the last one returned arrives (≤ open_timeout_s)."""
        return self.async_read(timeout_ms=self.config.open_timeout_s * 1000)

    def async_read(self, timeout_ms: float = 200) -> np.ndarray:
        """The newest frame not yet returned; waits up to ``timeout_ms`` for one (LeRobot's semantics)."""
        return self.async_read_frame(timeout_ms).image

    def async_read_frame(self, timeout_ms: float = 200) -> CameraFrame:
        """Like :meth:`async_read` but returns the :class:`CameraFrame` (seq, pts, arrival)."""
        self._check_connected()
        frame = self._wait_new(self._consumed_seq, timeout_ms / 1000)
        if frame is None:
            self._check_alive()
            raise CameraTimeoutError(
                f"camera {self.name!r} ({self._describe()}): no new frame within {timeout_ms:.0f} ms"
            )
        self._consumed_seq = frame.seq
        return frame

    def read_latest(self, max_age_ms: int = 500) -> np.ndarray:
        """The newest frame without waiting; raises if it is older than ``max_age_ms`` (LeRobot's semantics)."""
        return self.read_latest_frame(max_age_ms).image

    def read_latest_frame(self, max_age_ms: float = 500) -> CameraFrame:
        """Like :meth:`read_latest` but returns the :class:`CameraFrame`; counts repeats in ``duplicated``."""
        self._check_connected()
        self._check_alive()
        frame = self._latest
        if frame is None:
            raise CameraTimeoutError(f"camera {self.name!r}: no frame received yet")
        age_ms = (time.monotonic() - frame.arrival_s) * 1000
        if age_ms > max_age_ms:
            raise CameraTimeoutError(
                f"camera {self.name!r} ({self._describe()}): newest frame is {age_ms:.0f} ms old "
                f"(max {max_age_ms} ms); the camera stalled or was unplugged"
            )
        if frame.seq <= self._consumed_seq:
            self.duplicated += 1
        self._consumed_seq = frame.seq
        return frame

    # ------------------------------------------------------------------ internals
    def _open(self) -> Any:
        raise NotImplementedError

    def _describe(self) -> str:
        return self.config.source

    def _check_connected(self) -> None:
        if self._thread is None:
            raise DeviceNotConnectedError(f"{self} is not connected; call connect() first")

    def _check_alive(self) -> None:
        if self._error is not None or (self._thread is not None and not self._thread.is_alive()):
            raise DeviceError(
                f"camera {self.name!r} ({self._describe()}) stopped delivering frames: {self._error!r}; "
                "check the device is still plugged in"
            ) from self._error

    def _wait_new(self, after_seq: int, timeout_s: float) -> CameraFrame | None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._latest is None or self._latest.seq <= after_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._error is not None:
                    return None
                self._cond.wait(remaining)
            return self._latest

    def _run(self) -> None:
        seq = 0
        try:
            for frame in self._container.decode(video=0):
                if self._stop.is_set():
                    break
                image = frame.to_ndarray(format="rgb24")
                t = frame.time
                seq += 1
                item = CameraFrame(image, seq, None if t is None else round(t * 1e6), time.monotonic())
                with self._cond:
                    self._latest = item
                    self.frames_received = seq
                    self._cond.notify_all()
            else:
                raise DeviceError(f"camera {self.name!r}: end of stream")
        except BaseException as exc:
            if not self._stop.is_set():
                logger.error("camera %s: reader stopped: %s", self.name, exc)
                self._error = exc
        finally:
            with self._cond:
                self._cond.notify_all()


class V4L2Camera(PyAVCamera):
    """A ``/dev/video*`` device opened with PyAV's v4l2 demuxer (kernel capture timestamps)."""

    def _open(self) -> Any:
        cfg = self.config
        options: dict[str, str] = {}
        if cfg.width and cfg.height:
            options["video_size"] = f"{cfg.width}x{cfg.height}"
        if cfg.fps:
            options["framerate"] = f"{cfg.fps:g}"
        if cfg.input_format:
            options["input_format"] = cfg.input_format
        try:
            return av.open(str(cfg.path), format="v4l2", options=options, timeout=cfg.open_timeout_s)
        except av.FFmpegError as exc:
            raise DeviceError(
                f"camera {cfg.name!r}: cannot open {cfg.path} with {options or 'default settings'}: {exc}; "
                "run `robopipe find-cameras` to see the devices and their formats"
            ) from exc

    def _describe(self) -> str:
        return f"v4l2 {self.config.path}"


class SyntheticCamera(PyAVCamera):
    """A lavfi test source paced in real time (``testsrc2=size=WxH:rate=FPS,realtime``): no hardware needed."""

    def _open(self) -> Any:
        cfg = self.config
        if not (cfg.width and cfg.height and cfg.fps):
            raise DeviceError(f"sim camera {cfg.name!r} needs width, height and fps, got {cfg}")
        graph = f"{cfg.pattern}=size={cfg.width}x{cfg.height}:rate={cfg.fps:g},realtime"
        try:
            return av.open(graph, format="lavfi")
        except av.FFmpegError as exc:
            raise DeviceError(f"sim camera {cfg.name!r}: lavfi source {graph!r} failed: {exc}") from exc

    def _describe(self) -> str:
        c = self.config
        return f"sim {c.pattern} {c.width}x{c.height}@{c.fps:g}"


def make_camera(
    config: CameraConfig | dict[str, Any] | str, fps: float | None = None, name: str = "camera"
) -> PyAVCamera:
    """Build the camera for ``config`` (``fps`` fills in an unset capture rate).

    ``config`` may also be a robot YAML camera entry (dict, see :func:`camera_config_from_dict`) or a
    ``--camera`` spec string; ``name`` names it when the dict/spec does not.
    """
    if isinstance(config, str):
        config = parse_camera_spec(config if "=" in config else f"{name}={config}")
    elif isinstance(config, dict):
        config = camera_config_from_dict(config, name)
    if fps is not None:
        config = config.with_fps(fps)
    if config.source == "sim":
        return SyntheticCamera(config)
    return V4L2Camera(config)
