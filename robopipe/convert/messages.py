"""Robot-log messages -> source values (core layer): one code path for ROS 1, ROS 2, JSON and protobuf.

Every backend (rosbags for bags, ``mcap`` for MCAP files) hands over decoded messages in its own object
model; :func:`to_plain` turns them into nested dicts / lists / numpy arrays, and :func:`extract` turns one
plain message into flat source values keyed by a ``/``-path below the topic:

* ``sensor_msgs/JointState`` -> ``position|velocity|effort`` vectors in the topic's joint-name order (a
  message with the joints in another order is re-ordered by name) plus one scalar per joint
  (``position/<joint>``);
* ``sensor_msgs/Image`` -> an HxWxC array (rgb8, bgr8 -> RGB, rgba8/bgra8 -> RGB, mono8, 16UC1/mono16
  depth as uint16, 32FC1 as float32); ``CompressedImage`` -> the JPEG/PNG bytes (decoded by the engine);
* ``foxglove CompressedVideo`` -> an H.264/H.265 packet, decoded in order by :class:`VideoDecoder`;
* geometry (Pose, Twist, Transform, Wrench, Vector3, Point, Quaternion, their Stamped/WithCovariance
  forms), recognised by their fields, -> flat vectors (pose: x y z qx qy qz qw; twist: vx vy vz wx wy wz);
* ``std_msgs`` arrays -> their ``data``; every other numeric or text field -> a key by its dotted path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from robopipe.errors import ConversionError

MAX_ARRAY = 1 << 16  # numeric arrays longer than this are not features (point clouds, maps)


@dataclass(frozen=True)
class VideoPacket:
    """One compressed video packet (Foxglove CompressedVideo) and its codec ('h264' or 'h265')."""

    data: bytes
    codec: str


# --- object models -> plain values --------------------------------------------------------------------
_SCALARS = (bool, int, float, str, type(None))
# per message class: the attribute names to read (dataclass fields, protobuf fields, __slots__); one lookup
# per class instead of a chain of isinstance/getattr probes per message
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _fields_of(cls: type, msg: Any) -> tuple[str, ...] | None:
    if cls not in _FIELDS:
        names: tuple[str, ...] | None = None
        if dataclasses.is_dataclass(msg):  # rosbags keeps the type name in a '__msgtype__' field
            names = tuple(f.name for f in dataclasses.fields(msg) if not f.name.startswith("__"))
        elif hasattr(getattr(msg, "DESCRIPTOR", None), "fields"):  # protobuf message
            names = tuple(f.name for f in msg.DESCRIPTOR.fields)
        elif slots := getattr(cls, "__slots__", None):  # mcap_ros2 dynamic messages
            names = tuple(s for s in slots if not s.startswith("_"))
        _FIELDS[cls] = names
    return _FIELDS[cls]


def to_plain(msg: Any, depth: int = 0) -> Any:
    """Nested dict/list/ndarray/scalar/bytes/str of a decoded message (rosbags, mcap_ros2, JSON, protobuf)."""
    if depth > 32:
        raise ConversionError("message nesting deeper than 32 levels")
    cls = type(msg)
    if cls in _SCALARS or cls is np.ndarray:
        return msg
    if isinstance(msg, bytes | bytearray | memoryview):
        return bytes(msg)
    if isinstance(msg, (*_SCALARS, np.ndarray)):  # subclasses (numpy bool_ is not one of them)
        return msg
    if isinstance(msg, np.generic):
        return msg.item()
    if isinstance(msg, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in msg.items()}
    if isinstance(msg, list | tuple):
        items = [to_plain(v, depth + 1) for v in msg]
        if items and all(type(v) in (int, float) for v in items):
            return np.asarray(items)
        return items
    names = _fields_of(cls, msg)
    if names is not None:
        return {n: to_plain(getattr(msg, n), depth + 1) for n in names}
    if hasattr(msg, "__iter__") and hasattr(msg, "__len__"):  # protobuf repeated fields
        return to_plain(list(msg), depth + 1)
    raise ConversionError(f"cannot read a message value of type {cls.__name__}")


def type_name(schema: str) -> str:
    """'sensor_msgs/msg/JointState', 'sensor_msgs.msg.JointState', 'foxglove.CompressedVideo' -> 'pkg/Type'."""
    parts = [p for p in schema.replace(".", "/").replace("::", "/").split("/") if p and p != "msg"]
    return "/".join(parts[-2:]) if len(parts) >= 2 else (parts[0] if parts else "")


def stamp_ns(msg: dict[str, Any]) -> int | None:
    """The message's own time (``header.stamp`` or Foxglove ``timestamp``) in ns; None if it has none."""
    stamp = None
    header = msg.get("header")
    if isinstance(header, dict):
        stamp = header.get("stamp")
    if stamp is None:
        stamp = msg.get("timestamp")
    if not isinstance(stamp, dict):
        return None
    sec = stamp.get("sec", stamp.get("secs", stamp.get("seconds")))
    nsec = stamp.get("nanosec", stamp.get("nsec", stamp.get("nsecs", stamp.get("nanos", 0))))
    if not isinstance(sec, int | np.integer) or not isinstance(nsec, int | np.integer):
        return None
    if sec == 0 and nsec == 0:
        return None  # an unset stamp: fall back to the log time
    return int(sec) * 1_000_000_000 + int(nsec)


# --- images ---------------------------------------------------------------------------------------------
_ENCODINGS: dict[str, tuple[str, int]] = {  # encoding -> (dtype, channels)
    "rgb8": ("uint8", 3),
    "bgr8": ("uint8", 3),
    "rgba8": ("uint8", 4),
    "bgra8": ("uint8", 4),
    "mono8": ("uint8", 1),
    "8uc1": ("uint8", 1),
    "8uc3": ("uint8", 3),
    "mono16": ("uint16", 1),
    "16uc1": ("uint16", 1),
    "32fc1": ("float32", 1),
}


def payload(msg: dict[str, Any]) -> bytes:
    """The ``data`` bytes of a message (JSON encodes them as base64 text, as Foxglove's schemas say)."""
    data = msg.get("data")
    if isinstance(data, np.ndarray):
        return data.tobytes()
    if isinstance(data, str):
        import base64
        import binascii

        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ConversionError(f"data is text but not base64: {exc}") from exc
    return bytes(data or b"")


def image_array(msg: dict[str, Any]) -> np.ndarray:
    """HxWxC array of a sensor_msgs/Image (BGR/BGRA turned into RGB; depth kept as uint16/float32)."""
    enc = str(msg.get("encoding", "")).lower()
    if enc not in _ENCODINGS:
        raise ConversionError(
            f"image encoding {msg.get('encoding')!r} is not supported (expected one of {', '.join(_ENCODINGS)})"
        )
    dtype_name, c = _ENCODINGS[enc]
    h, w, step = int(msg.get("height", 0)), int(msg.get("width", 0)), int(msg.get("step", 0))
    dtype = np.dtype(dtype_name)
    if msg.get("is_bigendian"):
        dtype = dtype.newbyteorder(">")
    row = w * c * dtype.itemsize
    raw = payload(msg)
    if h <= 0 or w <= 0 or h * w > 1 << 26 or step < row or len(raw) < step * h:
        raise ConversionError(f"image {w}x{h} {enc} with step {step} does not fit its {len(raw)} data bytes")
    rows = np.frombuffer(raw, dtype=np.uint8, count=step * h).reshape(h, step)[:, :row]
    arr = np.ascontiguousarray(rows).view(dtype).reshape(h, w, c).astype(dtype.newbyteorder("="))
    if enc in ("bgr8", "bgra8"):
        arr = arr[..., [2, 1, 0]]
    elif enc == "rgba8":
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


# --- extraction -------------------------------------------------------------------------------------------
_GEOMETRY: list[tuple[frozenset[str], tuple[str, ...]]] = [
    (frozenset({"position", "orientation"}), ("position", "orientation")),  # Pose
    (frozenset({"translation", "rotation"}), ("translation", "rotation")),  # Transform
    (frozenset({"linear", "angular"}), ("linear", "angular")),  # Twist / Accel
    (frozenset({"force", "torque"}), ("force", "torque")),  # Wrench
]


def _geometry(v: Any) -> np.ndarray | None:
    """Flat vector of a geometry message recognised by its field names, else None."""
    if not isinstance(v, dict):
        return None
    keys = frozenset(v)
    if keys == {"x", "y", "z", "w"}:
        return np.asarray([v["x"], v["y"], v["z"], v["w"]], dtype=np.float64)
    if keys == {"x", "y", "z"}:
        return np.asarray([v["x"], v["y"], v["z"]], dtype=np.float64)
    for fields, order in _GEOMETRY:
        if keys == fields:
            parts = [_geometry(v[k]) for k in order]
            if all(p is not None for p in parts):
                return np.concatenate([p for p in parts if p is not None])
    return None


def _walk(v: Any, path: str, out: dict[str, Any], collapse: bool = True) -> None:
    geo = _geometry(v) if collapse else None
    if geo is not None:
        out[path] = geo  # the vector, and every component by its path (pose/position/x)
        _walk(v, path, out, collapse=False)
        return
    if isinstance(v, dict):
        if {"data", "layout"} <= set(v):  # std_msgs/*MultiArray: its data
            _walk(v["data"], path or "data", out)
            return
        for k, sub in v.items():
            if k == "header":
                continue
            if not collapse and isinstance(sub, dict):
                _walk(sub, f"{path}/{k}" if path else k, out, collapse=False)
                continue
            if isinstance(sub, dict) and len(sub) == 2 and "covariance" in sub:  # *WithCovariance
                inner = next(v for n, v in sub.items() if n != "covariance")
                sub = inner if _geometry(inner) is not None else sub
            _walk(sub, f"{path}/{k}" if path else k, out)
        return
    numeric_array = isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.ndim == 1
    if isinstance(v, bool | int | float) and path:
        out[path] = np.asarray(v, dtype=np.float64 if isinstance(v, float) else np.int64)
    elif (numeric_array and 0 < len(v) <= MAX_ARRAY) or (isinstance(v, str) and path):
        out[path] = v


def extract(typ: str, msg: dict[str, Any], joint_order: list[str] | None = None) -> dict[str, Any]:
    """Flat values of one plain message; keys are '/'-paths below the topic ('' = the topic itself)."""
    if typ in ("sensor_msgs/Image",):
        return {"": image_array(msg)}
    if typ == "sensor_msgs/CompressedImage":
        fmt = str(msg.get("format", "")).lower()
        if "compresseddepth" in fmt:
            raise ConversionError(f"CompressedImage format {fmt!r} (compressedDepth) is not supported")
        return {"": payload(msg)}
    if typ.endswith("/CompressedVideo"):
        fmt = str(msg.get("format", "")).lower()
        if fmt not in ("h264", "h265", "hevc"):
            raise ConversionError(f"CompressedVideo format {fmt!r} is not supported (expected h264 or h265)")
        return {"": VideoPacket(payload(msg), "hevc" if fmt in ("h265", "hevc") else "h264")}
    if typ == "sensor_msgs/JointState":
        return _joint_state(msg, joint_order)
    out: dict[str, Any] = {}
    _walk(msg, "", out)
    if "" in out:  # a bare geometry message (Pose, Twist, ...): the vector and components under its name
        name = typ.rsplit("/", 1)[-1].lower()
        out = {(f"{name}/{k}" if k else name): v for k, v in out.items()}
    return out


def _joint_state(msg: dict[str, Any], joint_order: list[str] | None) -> dict[str, Any]:
    names = [str(n) for n in (msg.get("name") or [])]
    order = joint_order if joint_order is not None else names
    where = {n: i for i, n in enumerate(names)}
    out: dict[str, Any] = {}
    for part in ("position", "velocity", "effort"):
        vals = msg.get(part)
        if vals is None or len(vals) == 0:
            continue
        vals = np.asarray(vals, dtype=np.float64)
        if len(vals) != len(names):
            raise ConversionError(f"JointState {part} has {len(vals)} values for {len(names)} joint names")
        for n, i in where.items():
            out[f"{part}/{n}"] = vals[i : i + 1].reshape(())
        if order and all(n in where for n in order):  # by name: a re-ordered message still lands right
            out[part] = vals[[where[n] for n in order]]
    return out


def has_parameter_sets(data: bytes, codec: str) -> bool:
    """True if an Annex-B access unit carries its parameter sets in-band (H.264 SPS+PPS, H.265 VPS+SPS+PPS)."""
    types: set[int] = set()
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        b = data[i + 3]
        types.add(b & 0x1F if codec == "h264" else (b >> 1) & 0x3F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return {7, 8} <= types if codec == "h264" else {32, 33, 34} <= types


# --- video ------------------------------------------------------------------------------------------------
class VideoDecoder:
    """Decodes H.264/H.265 packets (one frame each, as Foxglove CompressedVideo requires) in order.

    Frames come out as ``(packet number, HxWx3 RGB, keyframe)``: the number travels as the packet's pts, so a frame
    is matched to its own message time whatever the decoder's delay. Packets before the first keyframe
    (an episode cut mid-GOP) decode to nothing; the aligner then reports the missing frames.
    """

    def __init__(self, codec: str) -> None:
        import av

        self.codec = codec
        self._ctx = av.CodecContext.create(codec, "r")

    def _frames(self, packet: Any) -> list[tuple[int, np.ndarray, bool]]:
        import av

        try:
            frames = self._ctx.decode(packet)  # type: ignore[attr-defined]
            return [(int(f.pts), f.to_ndarray(format="rgb24"), bool(f.key_frame)) for f in frames]
        except av.error.FFmpegError:
            return []

    def decode(self, data: bytes, number: int) -> list[tuple[int, np.ndarray, bool]]:
        import av

        pkt = av.Packet(data)
        pkt.pts = pkt.dts = number
        return self._frames(pkt)

    def flush(self) -> list[tuple[int, np.ndarray, bool]]:
        return self._frames(None)
