"""Zarr replay buffers (Diffusion Policy / UMI layout) as a :class:`SourceReader` (core layer).

Layout: ``data/<key>`` arrays whose first axis is the step, concatenated over all episodes, and
``meta/episode_ends`` (cumulative end index of each episode). Written by zarr v2 in the original projects;
zarr 3 reads v2 and v3 stores alike. Keys are the array names under ``data/``; uint8 HxWxC arrays are
images (encoded to video by the engine). ``episode_ends`` is checked before any work: strictly
increasing, positive, ending exactly at the arrays' length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from robopipe.convert.mapping import CameraSpec, ConversionMapping, TaskSpec, VectorPart, VectorSpec
from robopipe.convert.source import EpisodeFailure, SourceDescription, SourceEpisode, SourceField, SourceSpec
from robopipe.errors import ConversionError, InvalidSourceError

MAX_EPISODES = 10_000_000
_STATE = re.compile(r"(state|qpos|pos|rot|gripper|joint|eef|proprio)", re.IGNORECASE)


def _open(path: Path | str) -> Any:
    try:
        import zarr
    except ImportError as exc:
        raise ConversionError("reading Zarr replay buffers needs zarr: pip install 'robopipe[zarr]'") from exc

    if isinstance(path, str):  # a URL: zarr's fsspec store reads the chunks of each episode by key
        from robopipe.storage.remote import scrub
        from robopipe.storage.urls import _safe

        try:
            return zarr.open_group(path, mode="r")
        except Exception as exc:  # fsspec/botocore/zarr errors: one line, credentials scrubbed
            reason = scrub(" ".join(str(exc).split()) or type(exc).__name__, path)[:300]
            raise ConversionError(f"{_safe(path)}: not a readable Zarr store: {reason}") from exc
    if not path.exists():
        raise ConversionError(f"{path}: Zarr store not found")
    try:
        if path.is_file() and path.suffix == ".zip":
            from zarr.storage import ZipStore

            return zarr.open_group(ZipStore(path, mode="r"), mode="r")
        return zarr.open_group(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a folder that is not a store
        raise ConversionError(
            f"{path}: not a readable Zarr store: {' '.join(str(exc).split()) or type(exc).__name__}"
        ) from exc


class ZarrReader:
    """:class:`SourceReader` for a Diffusion Policy / UMI replay buffer."""

    def __init__(self, path: Path | str, task: str | None = None) -> None:
        from robopipe.storage.urls import _safe, fetch_file, is_url

        if is_url(str(path)) and str(path).endswith(".zip"):
            path = fetch_file(str(path))  # a zipped store: one file, fetched whole
        self.path: Path | str = _safe(str(path)).rstrip("/") if is_url(str(path)) else Path(path)
        self.task = task
        root = _open(str(path) if isinstance(self.path, str) else self.path)
        if "data" not in root or "meta" not in root or "episode_ends" not in root["meta"]:
            raise ConversionError(
                f"{self.path}: not a replay buffer (expected data/<key> arrays and meta/episode_ends)"
            )
        self._root = root
        self._arrays: dict[str, Any] = {}
        for name, arr in sorted(root["data"].arrays()):
            self._arrays[name] = arr
        if not self._arrays:
            raise ConversionError(f"{self.path}: data/ holds no arrays")
        self.ends = self._episode_ends()

    def _episode_ends(self) -> np.ndarray:
        where = f"{self.path}/meta/episode_ends"
        arr = self._root["meta"]["episode_ends"]
        if arr.ndim != 1 or arr.shape[0] > MAX_EPISODES or arr.dtype.kind not in "iu":
            raise InvalidSourceError(
                f"{where}: expected a 1-D integer array, got {arr.dtype} {list(arr.shape)}"
            )
        ends = np.asarray(arr[:], dtype=np.int64)
        lengths = {name: int(a.shape[0]) for name, a in self._arrays.items() if a.ndim >= 1}
        if len(set(lengths.values())) > 1:
            raise InvalidSourceError(f"{self.path}: data arrays have different lengths {lengths}")
        total = next(iter(lengths.values()), 0)
        if len(ends) == 0:
            raise InvalidSourceError(f"{where}: no episodes")
        if ends[0] <= 0 or np.any(np.diff(ends) <= 0):
            bad = int(np.flatnonzero(np.diff(np.concatenate([[0], ends])) <= 0)[0])
            raise InvalidSourceError(
                f"{where}: episode ends must be strictly increasing and positive; episode {bad} ends at "
                f"{int(ends[bad])} after {int(ends[bad - 1]) if bad else 0}"
            )
        if int(ends[-1]) != total:
            raise InvalidSourceError(
                f"{where}: the last episode ends at step {int(ends[-1])} but the data arrays hold {total} steps"
            )
        return ends

    def describe(self) -> SourceDescription:
        fields: dict[str, SourceField] = {}
        for name, a in self._arrays.items():
            fields[name] = SourceField(
                path=name,
                scope="step",
                kind="tensor",
                shape=tuple(int(s) for s in a.shape[1:]),
                dtype=a.dtype.name,
            )
        if self.task is not None:
            fields["task"] = SourceField(path="task", scope="episode", kind="text", shape=(), dtype="object")
        return SourceDescription(
            kind="zarr",
            name=str(self.path).rsplit("/", 1)[-1].split(".")[0],
            num_episodes=len(self.ends),
            fields=fields,
        )

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        starts = np.concatenate([[0], self.ends[:-1]])
        for i in range(start, min(stop if stop is not None else len(self.ends), len(self.ends))):
            a, b = int(starts[i]), int(self.ends[i])
            source = f"{self.path}:{a}-{b}"
            try:
                steps = {name: np.asarray(arr[a:b]) for name, arr in self._arrays.items()}
            except Exception as exc:  # a missing or corrupt chunk, an unavailable codec
                yield EpisodeFailure(
                    i, source, f"unreadable chunk: {' '.join(str(exc).split()) or type(exc).__name__}"
                )
                continue
            meta = {"task": self.task} if self.task is not None else {}
            yield SourceEpisode(index=i, source=source, steps=steps, metadata=meta)

    def infer_mapping(self) -> ConversionMapping:
        """Cameras: uint8 image arrays; depth: uint16 HxWx1 arrays (mm); action: 'action'; state: the other
        float vectors (robot-ish names first); fps is not stored in replay buffers and must be given."""
        desc = self.describe()
        cams = {n: CameraSpec(key=n) for n, f in desc.fields.items() if f.is_image}
        depth = {n: n for n, f in desc.fields.items() if f.dtype == "uint16" and f.shape[2:] == (1,)}
        floats = [
            n for n, f in desc.fields.items()
            if f.kind == "tensor" and f.dtype.startswith("float") and len(f.shape) <= 1 and n not in cams
        ]  # fmt: skip
        action = [n for n in floats if n in ("action", "actions")]
        state = [n for n in floats if n not in action and _STATE.search(n)] or [
            n for n in floats if n not in action
        ]
        return ConversionMapping(
            name=desc.name,
            cameras=cams,
            depth=depth,
            state=VectorSpec(parts=[VectorPart(key=k) for k in state]) if state else None,
            action=VectorSpec(parts=[VectorPart(key=k) for k in action[:1]]) if action else None,
            task=TaskSpec(key="task") if self.task is not None else TaskSpec(),
        )


def open_zarr(spec: SourceSpec) -> ZarrReader:
    """Registry factory (``robopipe.convert.source.READERS``)."""
    from robopipe.storage.urls import is_url

    return ZarrReader(spec.path if is_url(spec.path) else Path(spec.path), **spec.options)
