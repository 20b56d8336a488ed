"""HDF5 episode sources: ALOHA/ACT (one ``episode_<i>.hdf5`` per episode) and robomimic/LIBERO
(one file, ``data/demo_<i>/``) (core layer).

Keys are the HDF5 dataset paths inside an episode (``observations/qpos``, ``observations/images/cam_high``,
``action``; robomimic ``obs/agentview_image``, ``actions``, ``rewards``). Datasets whose first axis is the
episode length are step keys; attributes and other datasets are episode keys (``attrs/<name>``).
Compressed ALOHA images (1-D arrays of JPEG/PNG bytes) are read as encoded images. A file that cannot be
opened fails only its episode(s).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from robopipe.convert.source import (
    EpisodeFailure,
    FieldKind,
    SourceDescription,
    SourceEpisode,
    SourceField,
    SourceParts,
    SourceSpec,
    encoded_image_shape,
)
from robopipe.errors import ConversionError
from robopipe.format import safepath

_NUM = re.compile(r"(\d+)")


def natural_key(name: str) -> list[Any]:
    """Sort key that puts ``demo_10`` after ``demo_9``."""
    return [int(p) if p.isdigit() else p for p in _NUM.split(name)]


def _is_encoded(ds: h5py.Dataset) -> bool:
    return ds.ndim == 1 and (h5py.check_vlen_dtype(ds.dtype) is not None or ds.dtype.kind in "SOV")


def _walk(group: h5py.Group, prefix: str, length: int, out: dict[str, SourceField]) -> None:
    for name, item in group.items():
        path = f"{prefix}{name}"
        if isinstance(item, h5py.Group):
            _walk(item, path + "/", length, out)
            continue
        if item.ndim >= 1 and item.shape[0] == length:
            if _is_encoded(item):
                shape = encoded_image_shape(np.asarray(item[0]).tobytes())
                out[path] = SourceField(
                    path=path, scope="step", kind="encoded_image", shape=shape, dtype="uint8"
                )
            elif item.dtype.kind in "biuf":
                out[path] = SourceField(
                    path=path, scope="step", kind="tensor", shape=tuple(item.shape[1:]), dtype=item.dtype.name
                )
            elif item.dtype.kind in "SO":
                out[path] = SourceField(path=path, scope="step", kind="text", shape=(), dtype="object")
        elif item.dtype.kind in "biuf":
            out[path] = SourceField(
                path=path, scope="episode", kind="tensor", shape=tuple(item.shape), dtype=item.dtype.name
            )
    for name, value in group.attrs.items():
        path = f"{prefix}attrs/{name}"
        kind: FieldKind = "text" if isinstance(value, str | bytes) else "tensor"
        out[path] = SourceField(
            path=path, scope="episode", kind=kind, shape=(), dtype="object" if kind == "text" else "float64"
        )


def _length(group: h5py.Group) -> int:
    for key in ("action", "actions"):
        if key in group and isinstance(group[key], h5py.Dataset):
            return int(group[key].shape[0])
    if "num_samples" in group.attrs:
        return int(group.attrs["num_samples"])
    raise ConversionError(
        f"{group.file.filename}:{group.name}: cannot tell the episode length (no action/actions dataset)"
    )


def _read(group: h5py.Group, fields: dict[str, SourceField]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    steps: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for path, f in fields.items():
        if "/attrs/" in f"/{path}" or path.startswith("attrs/"):
            head, _, name = path.rpartition("attrs/")
            obj = group[head.rstrip("/")] if head else group
            if name in obj.attrs:
                meta[path] = obj.attrs[name]
            continue
        if path not in group:
            continue
        data = group[path][()]
        if f.scope == "step":
            if f.kind == "encoded_image":
                data = np.asarray([bytes(np.asarray(v).tobytes()) for v in data], dtype=object)
            steps[path] = np.asarray(data)
        else:
            meta[path] = data
    return steps, meta


class Hdf5Reader:
    """:class:`SourceReader` for a folder of ``episode_*.hdf5`` files or one robomimic ``.hdf5`` file."""

    def __init__(self, path: Path, task: str | None = None, episode_files: list[str] | None = None) -> None:
        self.path = Path(path)
        self.task = task
        if self.path.is_dir():
            if episode_files is not None:  # a partial copy (a URL source): the names of every episode file
                names = [safepath.check_component(n, "episode file") for n in episode_files]
                self.files = [self.path / n for n in names]
            else:
                self.files = sorted(
                    (p for p in self.path.iterdir() if p.suffix in (".hdf5", ".h5")),
                    key=lambda p: natural_key(p.name),
                )
            if not self.files:
                raise ConversionError(f"{self.path}: no *.hdf5 / *.h5 files")
            self.layout = "aloha"
            self.demos: list[str] = []
        elif self.path.is_file():
            self.layout = "robomimic"
            self.files = [self.path]
            with h5py.File(self.path, "r") as f:
                if "data" not in f:
                    raise ConversionError(f"{self.path}: expected a robomimic file with a 'data' group")
                self.demos = sorted(f["data"].keys(), key=natural_key)
                self._data_attrs = {k: v for k, v in f["data"].attrs.items()}
        else:
            raise ConversionError(f"{self.path}: HDF5 source not found")
        self._fields = self._describe_first()

    def _describe_first(self) -> dict[str, SourceField]:
        fields: dict[str, SourceField] = {}
        try:
            # the first episode file present (a shard's partial copy holds only its own episodes)
            first = next((p for p in self.files if p.is_file()), self.files[0])
            with h5py.File(first, "r") as f:
                g = f if self.layout == "aloha" else f["data"][self.demos[0]]
                _walk(g, "", _length(g), fields)
        except OSError as exc:
            raise ConversionError(f"{first}: unreadable HDF5 file: {exc}") from exc
        if self.layout == "robomimic":
            info = self._data_attrs.get("problem_info")
            if info is not None:  # LIBERO: language instruction lives in data.attrs["problem_info"]
                fields["language_instruction"] = SourceField(
                    path="language_instruction", scope="episode", kind="text", shape=(), dtype="object"
                )
        if self.task is not None:
            fields["task"] = SourceField(path="task", scope="episode", kind="text", shape=(), dtype="object")
        return fields

    def describe(self) -> SourceDescription:
        n = len(self.files) if self.layout == "aloha" else len(self.demos)
        return SourceDescription(kind="hdf5", name=self.path.stem, num_episodes=n, fields=self._fields)

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        if self.layout == "aloha":
            for i, p in enumerate(self.files[start:stop], start):
                try:
                    with h5py.File(p, "r") as f:
                        steps, meta = _read(f, self._fields)
                except (OSError, KeyError, ValueError) as exc:
                    yield EpisodeFailure(i, str(p), f"unreadable HDF5 episode: {exc}")
                    continue
                yield self._episode(i, str(p), steps, meta)
            return
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise ConversionError(f"{self.path}: unreadable HDF5 file: {exc}") from exc
        with f:
            for i, demo in enumerate(self.demos[start:stop], start):
                try:
                    steps, meta = _read(f["data"][demo], self._fields)
                except (OSError, KeyError, ValueError) as exc:
                    yield EpisodeFailure(i, f"{self.path}:data/{demo}", f"unreadable demo: {exc}")
                    continue
                if "language_instruction" in self._fields:
                    meta["language_instruction"] = _libero_language(self._data_attrs.get("problem_info"))
                yield self._episode(i, f"{self.path}:data/{demo}", steps, meta)

    def _episode(
        self, i: int, source: str, steps: dict[str, np.ndarray], meta: dict[str, Any]
    ) -> SourceEpisode | EpisodeFailure:
        if self.task is not None:
            meta["task"] = self.task
        lengths = {len(v) for v in steps.values()}
        if len(lengths) > 1:
            return EpisodeFailure(i, source, f"step datasets have different lengths {sorted(lengths)}")
        return SourceEpisode(index=i, source=source, steps=steps, metadata=meta)


def _libero_language(problem_info: Any) -> str:
    if problem_info is None:
        return ""
    try:
        text = problem_info.decode() if isinstance(problem_info, bytes) else str(problem_info)
        return str(json.loads(text).get("language_instruction", ""))
    except (ValueError, AttributeError):
        return ""


def _episode_names(listing: dict[str, int]) -> list[str]:
    """The episode files of a folder listing, in the reader's order (top level ``*.hdf5`` / ``*.h5``)."""
    names = [rel for rel in listing if "/" not in rel and rel.endswith((".hdf5", ".h5"))]
    return sorted(names, key=natural_key)


def hdf5_options(listing: dict[str, int]) -> dict[str, Any]:
    return {"episode_files": _episode_names(listing)}


def hdf5_plan_files(listing: dict[str, int]) -> set[str]:
    """Describing a folder reads its first episode file."""
    return set(_episode_names(listing)[:1])


def hdf5_shard_files(
    listing: dict[str, int], planned: Callable[[], Path], spec: SourceSpec, start: int, stop: int | None
) -> set[str]:
    """The episode files ``[start, stop)`` (one file per episode)."""
    return set(_episode_names(listing)[start:stop])


#: A URL folder of episode files: the planner fetches the first, a shard its own. A single (robomimic) file is
#: fetched whole.
HDF5_PARTS = SourceParts(plan=hdf5_plan_files, shard=hdf5_shard_files, options=hdf5_options, plan_cap=None)


def open_hdf5(spec: SourceSpec) -> Hdf5Reader:
    """Registry factory of the ``hdf5`` source kind (see :data:`robopipe.convert.source.READERS`)."""
    return Hdf5Reader(Path(spec.path), **spec.options)
