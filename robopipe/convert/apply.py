"""Apply a :class:`ConversionMapping` to source episodes: features, images, vectors, tasks (core layer)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from robopipe.convert.mapping import ConversionMapping, VectorSpec
from robopipe.convert.source import SourceDescription, SourceEpisode
from robopipe.errors import ConversionError

CAMERA_PREFIX = "observation.images."


@dataclass
class MappedEpisode:
    """An episode ready for ``DatasetWriter.add_episode``: columns with the frame axis first."""

    columns: dict[str, np.ndarray]
    tasks: list[str]  # one per frame
    metadata: dict[str, Any] = field(default_factory=dict)
    encoded: dict[str, Any] = field(default_factory=dict)  # feature -> EncodedVideo to stream-copy

    @property
    def num_frames(self) -> int:
        return len(self.tasks)


def output_features(mapping: ConversionMapping, desc: SourceDescription) -> dict[str, dict[str, Any]]:
    """The LeRobot features (without the five default ones) a mapping produces from a source."""
    feats: dict[str, dict[str, Any]] = {}
    for name, cam in mapping.cameras.items():
        f = desc.fields[cam.key]
        h, w = cam.resize if cam.resize is not None else (f.shape[0], f.shape[1])
        c = f.shape[2] if len(f.shape) == 3 else 3
        feats[CAMERA_PREFIX + name] = {
            "dtype": "video" if mapping.use_videos else "image",
            "shape": [int(h), int(w), 3 if c in (1, 4) else int(c)],  # frames are made RGB below
            "names": ["height", "width", "channels"],
        }
    for name, key in mapping.depth.items():
        f = desc.fields[key]
        feats[CAMERA_PREFIX + name] = {
            "dtype": "video" if mapping.use_videos else "image",
            "shape": [int(f.shape[0]), int(f.shape[1]), 1],
            "names": ["height", "width", "channels"],
            "info": {"is_depth_map": True, "depth_unit": "mm"},
        }
    for key, vec in (("observation.state", mapping.state), ("action", mapping.action)):
        if vec is not None:
            size = mapping.vector_size(vec, desc)
            feats[key] = {"dtype": vec.dtype, "shape": [size], "names": mapping.vector_names(vec, desc)}
    for name, src in mapping.extras.items():
        f = desc.fields[src]
        if f.kind == "text":
            feats[name] = {"dtype": "string", "shape": [1], "names": None}
        else:
            shape = [int(np.prod(f.shape))] if f.shape else [1]
            feats[name] = {"dtype": f.dtype, "shape": shape, "names": None}
    return feats


def decode_image(data: Any, where: str) -> np.ndarray:
    """HxWxC uint8 from JPEG/PNG bytes (or pass an array through)."""
    if isinstance(data, np.ndarray) and data.dtype != object:
        return data
    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            img.load()
            arr = np.asarray(img.convert("RGB") if img.mode not in ("RGB", "L") else img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ConversionError(f"{where}: cannot decode image: {exc}") from exc
    return arr[..., None] if arr.ndim == 2 else arr


def _camera_frames(
    values: np.ndarray, cam_key: str, bgr: bool, resize: tuple[int, int] | None, where: str
) -> np.ndarray:
    frames = [decode_image(v, f"{where} step {t} {cam_key}") for t, v in enumerate(values)]
    out = np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)
    if out.ndim == 4 and out.shape[-1] == 4:
        out = out[..., :3]
    if out.ndim == 4 and out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    if bgr:
        out = out[..., ::-1]
    if resize is not None and out.shape[1:3] != tuple(resize):
        h, w = resize
        out = np.stack(
            [np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BILINEAR)) for f in out]
        )
    return np.ascontiguousarray(out, dtype=np.uint8)


def _depth_mm(x: np.ndarray) -> np.ndarray:
    """uint16 millimetres (what LeRobot 0.6.1 depth maps hold): float sources are metres; NaN/Inf -> 0."""
    if x.dtype == np.uint16:
        return np.ascontiguousarray(x)
    mm = np.nan_to_num(x.astype(np.float64) * 1000.0, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(np.rint(mm), 0, 65535).astype(np.uint16)


def _vector(vec: VectorSpec, ep: SourceEpisode, t: int) -> np.ndarray:
    cols = []
    for p in vec.parts:
        if p.key is None:
            cols.append(np.zeros((t, p.pad), dtype=np.float64))
            continue
        x = np.asarray(ep.steps[p.key]).reshape(t, -1).astype(np.float64)
        if p.index is not None:
            x = x[:, p.index]
        if p.invert:
            x = 1.0 - x
        if p.binarize is not None:
            x = (x > p.binarize).astype(np.float64)
        if p.scale != 1.0:
            x = x * p.scale
        cols.append(x)
    out = np.concatenate(cols, axis=1) if cols else np.zeros((t, 0))
    return out.astype(vec.dtype)


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v.item())
    return str(v)


def map_episode(mapping: ConversionMapping, ep: SourceEpisode) -> MappedEpisode:
    """Columns, per-frame tasks and metadata of one episode (images decoded exactly once here)."""
    where = f"episode {ep.index} ({ep.source})"
    t_all = ep.num_steps
    lo, hi = mapping.drop_first_steps, t_all - mapping.drop_last_steps
    if hi - lo <= 0:
        raise ConversionError(
            f"{where}: no steps left ({t_all} steps, dropping {mapping.drop_first_steps} first and "
            f"{mapping.drop_last_steps} last)"
        )
    steps = {k: v[lo:hi] for k, v in ep.steps.items()}
    sub = SourceEpisode(index=ep.index, source=ep.source, steps=steps, metadata=ep.metadata)
    t = hi - lo
    cols: dict[str, np.ndarray] = {}
    for name, cam in mapping.cameras.items():
        cols[CAMERA_PREFIX + name] = _camera_frames(steps[cam.key], cam.key, cam.bgr, cam.resize, where)
    for name, key in mapping.depth.items():
        cols[CAMERA_PREFIX + name] = _depth_mm(np.asarray(steps[key]))
    if mapping.state is not None:
        cols["observation.state"] = _vector(mapping.state, sub, t)
    if mapping.action is not None:
        cols["action"] = _vector(mapping.action, sub, t)
    for name, src in mapping.extras.items():
        v = np.asarray(steps[src])
        if v.dtype == object or v.dtype.kind in "SU":
            cols[name] = np.asarray([_text(x) for x in v], dtype=object)
        else:
            cols[name] = v.reshape(t, -1) if v.ndim > 1 else v.reshape(t, 1)
    for key, col in cols.items():
        if col.dtype.kind == "f" and not np.isfinite(col).all():
            bad = np.argwhere(~np.isfinite(col.reshape(len(col), -1)).all(axis=1)).ravel().tolist()
            raise ConversionError(f"{where}: non-finite values (NaN/Inf) in {key!r} at steps {bad[:10]}")
    tasks = _tasks(mapping, ep, steps, t)
    meta = {name: _meta_value(ep.metadata[src]) for name, src in mapping.episode_metadata.items()}
    encoded = {  # untouched frames of the whole episode only: no colour flip, resize or dropped steps
        CAMERA_PREFIX + name: ep.encoded[cam.key]
        for name, cam in mapping.cameras.items()
        if cam.key in ep.encoded and not cam.bgr and cam.resize is None and (lo, hi) == (0, t_all)
    }
    return MappedEpisode(columns=cols, tasks=tasks, metadata=meta, encoded=encoded)


def _tasks(mapping: ConversionMapping, ep: SourceEpisode, steps: dict[str, np.ndarray], t: int) -> list[str]:
    key = mapping.task.key
    default = mapping.task.default
    if key is None:
        return [default] * t
    if key in steps:
        return [(_text(v).strip() or default) for v in steps[key]]
    value = _text(ep.metadata[key]).strip() if key in ep.metadata else ""
    return [value or default] * t


def _meta_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray):
        return v.item() if v.shape == () else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v
