"""Depth maps as LeRobot 0.6.1 stores them (core layer).

* ``image`` depth features: one single-channel 16-bit frame per row, TIFF bytes (raw, uncompressed) in the
  parquet image struct, values in the feature's ``depth_unit`` (``mm`` for integer frames).
* ``video`` depth features: the depth is quantised to 12-bit codes (``0..4095``), logarithmically by default,
  and encoded losslessly as HEVC ``gray12le`` (``x265-params lossless=1``). The quantisation parameters are
  recorded in the feature's ``info`` as ``video.depth_min`` / ``video.depth_max`` / ``video.shift`` (metres) and
  ``video.use_log``. :func:`quantize` and :func:`dequantize` are 0.6.1's ``depth_utils`` numpy math, operation for
  operation, so robopipe and LeRobot agree on every code and every decoded millimetre.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from robopipe.errors import FormatError, FrameError

DEPTH_QUANT_BITS = 12
DEPTH_QMAX = (1 << DEPTH_QUANT_BITS) - 1  # 4095
MM_PER_METRE = 1000.0
DEPTH_PIX_FMT = "gray12le"
DepthUnit = Literal["m", "mm"]


class DepthEncoderConfig(BaseModel):
    """Encoder of depth cameras (LeRobot 0.6.1's ``DepthEncoderConfig`` defaults): lossless HEVC 12-bit gray."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    codec: Literal["hevc"] = Field(
        default="hevc", description="HEVC (Main 12 / RExt), the 12-bit capable codec"
    )
    pix_fmt: Literal["gray12le"] = Field(default="gray12le", description="12-bit grayscale")
    g: int = Field(default=2, ge=1, description="GOP size")
    crf: int = Field(
        default=30, ge=0, le=51, description="recorded as LeRobot does; lossless mode ignores it"
    )
    depth_min: float = Field(default=0.01, description="depth (metres) at code 0")
    depth_max: float = Field(default=10.0, description="depth (metres) at code 4095")
    shift: float = Field(default=3.5, description="pre-log offset (metres); depth_min + shift must be > 0")
    use_log: bool = Field(default=True, description="logarithmic quantisation (finer steps near the camera)")
    threads: int | None = Field(default=None, description="encoder threads (None = encoder default)")
    queue_frames: int = Field(
        default=64, ge=1, description="frames buffered per camera before add_frame blocks"
    )

    @model_validator(mode="after")
    def _check_range(self) -> DepthEncoderConfig:
        if not self.depth_min < self.depth_max:
            raise ValueError(f"depth_min {self.depth_min} must be below depth_max {self.depth_max}")
        if self.use_log and self.depth_min + self.shift <= 0:
            raise ValueError(
                f"depth_min + shift must be > 0 for log quantisation, got {self.depth_min + self.shift}"
            )
        return self

    @property
    def extra_options(self) -> dict[str, str]:
        # bframes=0: decode order == presentation order, so episodes cut and append like RGB segments
        return {"x265-params": "lossless=1:bframes=0"}

    def stream_options(self) -> dict[str, str]:
        opts = {"g": str(self.g), "crf": str(self.crf), **self.extra_options}
        if self.threads:
            opts["threads"] = str(self.threads)
        return opts

    @property
    def codec_name(self) -> str:
        return "hevc"

    def info_keys(self) -> dict[str, Any]:
        """The encoder and quantiser settings 0.6.1 records under the feature's ``info``."""
        return {
            "video.g": self.g,
            "video.crf": self.crf,
            "video.preset": None,
            "video.fast_decode": 0,
            "video.video_backend": "pyav",
            "video.extra_options": self.extra_options,
            "video.depth_min": self.depth_min,
            "video.depth_max": self.depth_max,
            "video.shift": self.shift,
            "video.use_log": self.use_log,
        }

    @classmethod
    def from_info(cls, info: Mapping[str, Any] | None) -> DepthEncoderConfig:
        """Quantiser settings from a feature ``info`` block (missing keys: 0.6.1's defaults)."""
        info = info or {}
        kw = {
            n: info[f"video.{n}"]
            for n in ("depth_min", "depth_max", "shift", "use_log")
            if info.get(f"video.{n}") is not None
        }
        try:
            return cls(**kw)
        except ValueError as exc:
            raise FormatError(f"depth quantisation settings {kw}: {exc}") from exc


def infer_unit(dtype: np.dtype[Any]) -> DepthUnit:
    """0.6.1's rule: floating frames are metres, integer frames millimetres."""
    return "m" if np.issubdtype(dtype, np.floating) else "mm"


def squeeze_channel(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 1)`` / ``(1, H, W)`` / ``(H, W)`` -> ``(H, W)``."""
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[-1] == 1:
        return a[..., 0]
    if a.ndim == 3 and a.shape[0] == 1:
        return a[0]
    if a.ndim != 2:
        raise FrameError(f"depth frame must be (H, W) or (H, W, 1), got shape {a.shape}")
    return a


def quantize(depth: np.ndarray, cfg: DepthEncoderConfig, unit: DepthUnit | None = None) -> np.ndarray:
    """Depth (mm if integer, m if float, unless ``unit``) -> 12-bit codes ``(H, W)`` uint16, as 0.6.1."""
    d = squeeze_channel(depth)
    unit = unit or infer_unit(d.dtype)
    depth_f = d.astype(np.float32, order="K")
    scale = 1.0 if unit == "m" else MM_PER_METRE
    lo_u, hi_u, shift_u = (np.float32(v * scale) for v in (cfg.depth_min, cfg.depth_max, cfg.shift))
    if cfg.use_log:
        log_min = math.log(float(lo_u + shift_u))
        log_max = math.log(float(hi_u + shift_u))
        norm = (np.log(depth_f + shift_u) - log_min) / (log_max - log_min)
    else:
        norm = (depth_f - lo_u) / (hi_u - lo_u)
    return np.rint(norm * DEPTH_QMAX).clip(0, DEPTH_QMAX).astype(np.uint16, copy=False)


def dequantize(codes: np.ndarray, cfg: DepthEncoderConfig, unit: DepthUnit = "mm") -> np.ndarray:
    """12-bit codes -> depth ``(H, W)``: uint16 mm (``unit="mm"``) or float32 metres, as 0.6.1's numpy path."""
    lo, hi, shift = float(cfg.depth_min), float(cfg.depth_max), float(cfg.shift)
    if cfg.use_log:
        log_min, log_max = math.log(lo + shift), math.log(hi + shift)
        scale, offset = (log_max - log_min) / DEPTH_QMAX, log_min
    else:
        scale, offset = (hi - lo) / DEPTH_QMAX, lo
    arr = np.asarray(codes)
    buf = np.empty(arr.shape, dtype=np.float32)
    np.multiply(arr, scale, out=buf)
    np.add(buf, offset, out=buf)
    if cfg.use_log:
        np.exp(buf, out=buf)
        np.subtract(buf, shift, out=buf)
    np.clip(buf, lo, hi, out=buf)
    if unit == "m":
        return buf
    np.multiply(buf, MM_PER_METRE, out=buf)
    np.rint(buf, out=buf)
    np.clip(buf, 0.0, 65535, out=buf)
    return buf.astype(np.uint16, copy=False)


def encode_tiff(frame: np.ndarray) -> bytes:
    """Raw TIFF bytes of one depth frame (uint16 ``I;16`` or float32 ``F``), as 0.6.1's image writer."""
    d = squeeze_channel(frame)
    if d.dtype not in (np.uint16, np.float32):
        raise FrameError(f"depth image must be uint16 (mm) or float32 (m), got {d.dtype}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(d)).save(buf, format="TIFF", compression="raw")
    return buf.getvalue()


def decode_image(data: bytes, max_pixels: int = 1 << 27) -> np.ndarray:
    """A stored depth image (TIFF or 16-bit PNG) as ``(H, W, 1)`` in its stored dtype."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > max_pixels:
                raise FormatError(f"depth image of {im.width}x{im.height} exceeds {max_pixels} pixels")
            arr = np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(f"unreadable depth image: {exc}") from exc
    if arr.ndim != 2:
        raise FormatError(f"depth image has shape {arr.shape}, expected a single channel")
    if arr.dtype == np.int32:  # PIL mode I (some 16-bit PNGs)
        arr = arr.astype(np.uint16)
    return arr[:, :, None]
