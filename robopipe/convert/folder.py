"""Folder and Python-hook sources (core layer).

Folder layout: ``<root>/<episode>/`` per episode (sorted numerically), holding

* camera images: ``<episode>/<camera>/*.png|jpg`` (one sub-folder per camera) or ``<episode>/*.png|jpg``
  (a single camera named ``image``), sorted numerically; kept encoded and decoded once by the mapping;
* one table of per-step values: ``*.csv``, ``*.parquet`` or ``*.npz``. Columns named ``<key>_<i>`` or
  ``<key>.<i>`` are grouped into a vector ``<key>``; text columns are text keys;
* optional ``task.txt`` (episode key ``task``).

Hook: ``module:function`` returning an iterable of episodes, each a mapping of ``key -> (T, ...)`` arrays
or ``{"steps": {...}, "metadata": {...}}``. The first episode describes the keys.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from robopipe.convert.hdf5 import natural_key
from robopipe.convert.source import (
    EpisodeFailure,
    FieldKind,
    SourceDescription,
    SourceEpisode,
    SourceField,
    SourceSpec,
    encoded_image_shape,
)
from robopipe.errors import ConversionError, CorruptFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TABLE_SUFFIXES = (".csv", ".parquet", ".npz")
_VEC = re.compile(r"^(.*?)[._](\d+)$")


def _group_columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    groups: dict[str, list[tuple[int, str]]] = {}
    out: dict[str, np.ndarray] = {}
    for col in df.columns:
        m = _VEC.match(str(col))
        if m and df[col].dtype.kind in "biuf":
            groups.setdefault(m.group(1), []).append((int(m.group(2)), str(col)))
        elif df[col].dtype.kind in "biuf":
            out[str(col)] = df[col].to_numpy()
        else:
            out[str(col)] = np.asarray([str(v) for v in df[col]], dtype=object)
    for key, cols in groups.items():
        out[key] = df[[c for _, c in sorted(cols)]].to_numpy()
    return out


def read_table(path: Path) -> dict[str, np.ndarray]:
    """The per-step values of one episode; an unreadable file is a :class:`CorruptFileError` naming it."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pa.ArrowException) as exc:
        raise CorruptFileError(f"{path}: unreadable table ({type(exc).__name__}: {exc})") from exc
    return _group_columns(df)


def _images(d: Path) -> list[Path]:
    return sorted(
        (p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: natural_key(p.name)
    )


def _episode_parts(ep_dir: Path) -> tuple[dict[str, list[Path]], Path | None]:
    cams: dict[str, list[Path]] = {}
    direct = _images(ep_dir)
    if direct:
        cams["image"] = direct
    for sub in sorted(p for p in ep_dir.iterdir() if p.is_dir()):
        imgs = _images(sub)
        if imgs:
            cams[sub.name] = imgs
    tables = [p for p in sorted(ep_dir.iterdir()) if p.suffix in TABLE_SUFFIXES]
    if len(tables) > 1:
        raise ConversionError(f"{ep_dir}: several step tables {[t.name for t in tables]}; keep one")
    return cams, tables[0] if tables else None


def _describe_steps(steps: dict[str, np.ndarray]) -> dict[str, SourceField]:
    out = {}
    for k, v in steps.items():
        if v.dtype == object and len(v) and isinstance(v[0], bytes):
            shape = encoded_image_shape(v[0])
            out[k] = SourceField(path=k, scope="step", kind="encoded_image", shape=shape, dtype="uint8")
        elif v.dtype == object or v.dtype.kind in "SU":
            out[k] = SourceField(path=k, scope="step", kind="text", shape=(), dtype="object")
        else:
            out[k] = SourceField(
                path=k, scope="step", kind="tensor", shape=tuple(v.shape[1:]), dtype=v.dtype.name
            )
    return out


class FolderReader:
    """:class:`SourceReader` for a folder of per-episode folders (images + one step table)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ConversionError(f"{self.path}: folder source not found")
        self.episodes = sorted(
            (p for p in self.path.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: natural_key(p.name),
        )
        if not self.episodes:
            raise ConversionError(f"{self.path}: no episode sub-folders")
        first = self._load(self.episodes[0])
        self._fields = _describe_steps(first.steps)
        if "task" in first.metadata:
            self._fields["task"] = SourceField(
                path="task", scope="episode", kind="text", shape=(), dtype="object"
            )

    def _load(self, ep_dir: Path, index: int = 0) -> SourceEpisode:
        cams, table = _episode_parts(ep_dir)
        steps: dict[str, np.ndarray] = read_table(table) if table is not None else {}
        for cam, imgs in cams.items():
            steps[cam] = np.asarray([p.read_bytes() for p in imgs], dtype=object)
        lengths = {k: len(v) for k, v in steps.items()}
        if len(set(lengths.values())) > 1:
            raise ConversionError(f"{ep_dir}: different numbers of steps per key {lengths}")
        meta: dict[str, Any] = {}
        if (ep_dir / "task.txt").is_file():
            meta["task"] = (ep_dir / "task.txt").read_text(encoding="utf-8").strip()
        return SourceEpisode(index=index, source=str(ep_dir), steps=steps, metadata=meta)

    def describe(self) -> SourceDescription:
        return SourceDescription(
            kind="folder", name=self.path.name, num_episodes=len(self.episodes), fields=self._fields
        )

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        for i, d in enumerate(self.episodes[start:stop], start):
            try:
                yield self._load(d, i)
            except (ConversionError, OSError, ValueError) as exc:
                yield EpisodeFailure(i, str(d), str(exc))


def load_hook(spec: str) -> Callable[..., Iterable[Any]]:
    module, _, func = spec.partition(":")
    if not module or not func:
        raise ConversionError(f"hook {spec!r}: expected 'package.module:function'")
    try:
        fn = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise ConversionError(f"hook {spec!r}: cannot import: {exc}") from exc
    if not callable(fn):
        raise ConversionError(f"hook {spec!r}: {func} is not callable")
    return fn


def _as_episode(i: int, spec: str, item: Any) -> SourceEpisode:
    if not isinstance(item, dict):
        raise ConversionError(
            f"hook {spec}: episode {i} is a {type(item).__name__}, expected a dict of arrays"
        )
    steps = item.get("steps", item)
    meta = item.get("metadata", {}) if "steps" in item else {}
    if not isinstance(steps, dict) or not isinstance(meta, dict):
        raise ConversionError(f"hook {spec}: episode {i}: 'steps' and 'metadata' must be dicts")
    arrays = {
        str(k): (
            np.asarray(v, dtype=object)
            if isinstance(v, list) and v and isinstance(v[0], bytes | str)
            else np.asarray(v)
        )
        for k, v in steps.items()
    }
    arrays = _broadcast_scalar_text(arrays, f"hook {spec}: episode {i}")
    return SourceEpisode(
        index=i,
        source=f"{spec}[{i}]",
        steps=arrays,
        metadata={f"episode_metadata/{k}": v for k, v in meta.items()},
    )


def _broadcast_scalar_text(arrays: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """A scalar text step field (``"task": "pick the cube"``) holds for every step; other scalars are errors."""
    lengths = {len(v) for v in arrays.values() if v.ndim > 0}
    scalars = [k for k, v in arrays.items() if v.ndim == 0]
    if not scalars:
        return arrays
    if len(lengths) != 1:
        raise ConversionError(
            f"{where}: step fields need one value per step; got no array to take the length from"
        )
    (n,) = lengths
    out = dict(arrays)
    for k in scalars:
        value = arrays[k].item()
        if not isinstance(value, str | bytes):
            raise ConversionError(
                f"{where}: step field {k!r} is a single {type(value).__name__}, expected one value per step "
                f"(an array of length {n}); put per-episode values under 'metadata'"
            )
        out[k] = np.full(n, value, dtype=object)
    return out


class HookReader:
    """:class:`SourceReader` over a user function; it may accept ``start``/``stop`` to read a range itself."""

    def __init__(self, spec: str, arg: str | None = None) -> None:
        self.spec = spec
        self.arg = arg
        self.fn = load_hook(spec)
        first = next(iter(self._call(0, 1)), None)
        if first is None:
            raise ConversionError(f"hook {spec}: returned no episodes")
        ep = _as_episode(0, spec, first)
        self._fields = _describe_steps(ep.steps)
        for k, v in ep.metadata.items():
            kind: FieldKind = "text" if isinstance(v, str | bytes) else "tensor"
            self._fields[k] = SourceField(
                path=k, scope="episode", kind=kind, shape=(), dtype="object" if kind == "text" else "float64"
            )

    def _call(self, start: int, stop: int | None) -> Iterable[Any]:
        params = inspect.signature(self.fn).parameters
        args = [self.arg] if self.arg is not None else []
        if "start" in params and "stop" in params:
            return self.fn(*args, start=start, stop=stop)
        return itertools.islice(self.fn(*args), start, stop)

    def describe(self) -> SourceDescription:
        return SourceDescription(kind="hook", name=self.spec, num_episodes=None, fields=self._fields)

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        for i, item in enumerate(self._call(start, stop), start):
            try:
                yield _as_episode(i, self.spec, item)
            except (ConversionError, ValueError) as exc:
                yield EpisodeFailure(i, f"{self.spec}[{i}]", str(exc))


def open_folder(spec: SourceSpec) -> FolderReader:
    """Registry factory of the ``folder`` source kind (see :data:`robopipe.convert.source.READERS`)."""
    return FolderReader(Path(spec.path), **spec.options)


def open_hook(spec: SourceSpec) -> HookReader:
    """Registry factory of the ``hook`` source kind: ``path`` is ``module:function``."""
    return HookReader(spec.path, **spec.options)
