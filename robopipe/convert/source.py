"""What every source reader yields, and the ``SourceReader`` port (core layer).

A reader turns one source format (RLDS, HDF5, folders, a user hook) into :class:`SourceEpisode` values:
flat ``path -> (T, ...) array`` step columns plus episode-level metadata. One conversion engine then
applies a mapping and writes them, so every format shares the same mapping, sharding and failure rules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from robopipe.errors import ConfigError

FieldKind = Literal["tensor", "encoded_image", "text"]
Scope = Literal["step", "episode"]


class SourceField(BaseModel):
    """One key of the source: where it lives, what it holds and its per-step shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(
        description="'/'-separated key, e.g. 'observation/image' or 'episode_metadata/file_path'"
    )
    scope: Scope = Field(description="'step' (one value per step) or 'episode' (one value per episode)")
    kind: FieldKind = Field(
        description="'tensor' (numeric array), 'encoded_image' (JPEG/PNG bytes) or 'text'"
    )
    shape: tuple[int, ...] = Field(default=(), description="per-step shape (H, W, C for images)")
    dtype: str = Field(default="float32", description="numpy dtype of the decoded values")

    @property
    def is_image(self) -> bool:
        """True for encoded images and for uint8 HxWxC tensors with 1, 3 or 4 channels."""
        if self.kind == "encoded_image":
            return True
        return (
            self.kind == "tensor"
            and self.dtype == "uint8"
            and len(self.shape) == 3
            and self.shape[-1] in (1, 3, 4)
        )


class SourceDescription(BaseModel):
    """The keys and size of a source, known before any episode is read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="source format: rlds, hdf5, folder, hook")
    name: str = Field(description="dataset name (RLDS builder name, folder name, ...)")
    num_episodes: int | None = Field(description="episodes in the source (None if unknown before reading)")
    fields: dict[str, SourceField] = Field(description="every source key by path")
    planned: dict[str, Any] = Field(
        default_factory=dict,
        description="reader options found while planning (e.g. episode spans cut from logs); the plan passes "
        "them to every shard so workers do not rescan the source",
    )

    def available(self, scope: Scope | None = None) -> list[str]:
        return [p for p, f in self.fields.items() if scope is None or f.scope == scope]


@dataclass
class SourceEpisode:
    """One episode as read from the source, before mapping.

    ``steps`` holds step-level columns with the step axis first; encoded images and text are object
    arrays (bytes / str). ``metadata`` holds episode-level values.
    """

    index: int
    source: str
    steps: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)
    # written to the episode metadata whatever the mapping says (e.g. a log's measured alignment skew)
    provenance: dict[str, Any] = field(default_factory=dict)
    # source packets of a step key that may be stream-copied (robopipe.format.video.EncodedVideo)
    encoded: dict[str, Any] = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        return len(next(iter(self.steps.values()))) if self.steps else 0


@dataclass(frozen=True)
class EpisodeFailure:
    """An episode that could not be read or converted; the rest of the shard carries on."""

    index: int
    source: str
    error: str


class SourceSpec(BaseModel):
    """A serialisable reference to a source; workers re-open the reader from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(
        description="source format: rlds, hdf5, folder, hook, ros, mcap, zarr (or a registered reader)"
    )
    path: str = Field(
        description="source path (RLDS dir, HDF5 file/dir, folder, bag, MCAP, Zarr store) or 'module:function' hook"
    )
    split: str | None = Field(default=None, description="RLDS split(s) to read, e.g. 'train' (default: all)")
    options: dict[str, Any] = Field(default_factory=dict, description="format-specific options")


@runtime_checkable
class SourceReader(Protocol):
    """A source format: describes its keys and yields episodes of a contiguous episode range."""

    def describe(self) -> SourceDescription:
        """Keys, kinds and shapes of the source (cheap: no episode is decoded)."""
        ...

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        """Episodes ``start <= i < stop`` in source order; a broken episode yields an EpisodeFailure."""
        ...


def encoded_image_shape(data: bytes) -> tuple[int, int, int]:
    """(H, W, C) of JPEG/PNG bytes, read from the header (C is 3 unless the image is grayscale/RGBA)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(bytes(data))) as im:
        w, h = im.size
        return h, w, {"L": 1, "RGBA": 4}.get(im.mode, 3)


ReaderFactory = Callable[[SourceSpec], SourceReader]

#: Source formats by name: ``kind -> "module:function"`` building the reader from a :class:`SourceSpec`.
#: Modules are imported on first use (TensorFlow only for RLDS). Add a format with :func:`register_reader`.
READERS: dict[str, str] = {
    "rlds": "robopipe.convert.rlds:open_rlds",
    "hdf5": "robopipe.convert.hdf5:open_hdf5",
    "folder": "robopipe.convert.folder:open_folder",
    "hook": "robopipe.convert.folder:open_hook",
    "ros": "robopipe.convert.ros:open_ros",
    "mcap": "robopipe.convert.mcap_source:open_mcap",
    "zarr": "robopipe.convert.zarr_source:open_zarr",
}


@dataclass(frozen=True)
class SourceParts:
    """Which files of a source a reader needs, so a URL source is fetched in parts (registered per kind in
    :data:`SOURCE_PARTS`). Every callable gets the URL's listing (relative path -> size)."""

    #: listing -> the files the planner reads to describe the source
    plan: Callable[[dict[str, int]], set[str]]
    #: (listing, fetch of the plan files, spec, start, stop) -> every file the episode range ``[start, stop)`` reads
    shard: Callable[[dict[str, int], Callable[[], Path], SourceSpec, int, int | None], set[str]]
    #: listing -> reader options (e.g. the ordered episode files, so a partial copy keeps the indices)
    options: Callable[[dict[str, int]], dict[str, Any]] | None = None
    #: size cap of each plan file (metadata), None for plan files that are episodes themselves
    plan_cap: int | None = None


#: Formats fetched per shard from a URL: ``kind -> "module:attribute"`` of a :class:`SourceParts`. A kind
#: missing here is materialized whole (once per machine). Add one with :func:`register_parts`.
SOURCE_PARTS: dict[str, str] = {
    "rlds": "robopipe.convert.rlds:RLDS_PARTS",
    "hdf5": "robopipe.convert.hdf5:HDF5_PARTS",
    "v21": "robopipe.convert.v21:V21_PARTS",  # `convert v21`, not an engine reader
}

#: Readers that open fsspec URLs themselves (reading chunks / byte ranges per episode): nothing is fetched.
NATIVE_URL_KINDS: set[str] = {"zarr"}

#: Readers that resample onto the output fps grid: the plan gives them its fps and the keys the mapping uses.
RESAMPLING_KINDS = frozenset({"ros", "mcap"})


def register_reader(kind: str, factory: str) -> None:
    """Register a source format: ``factory`` is ``"module:function"`` taking a :class:`SourceSpec`."""
    if not kind or ":" not in factory:
        raise ConfigError(f"expected a kind and a 'module:function' factory, got {kind!r} -> {factory!r}")
    READERS[kind] = factory


def register_parts(kind: str, target: str) -> None:
    """Register the :class:`SourceParts` (``"module:attribute"``) of a source format."""
    if not kind or ":" not in target:
        raise ConfigError(f"expected a kind and a 'module:attribute' target, got {kind!r} -> {target!r}")
    SOURCE_PARTS[kind] = target


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def local_source(spec: SourceSpec, span: tuple[int, int | None] | None = None) -> tuple[Path, dict[str, Any]]:
    """(local folder/file standing for the URL source ``spec.path``, reader options found on the way), in this
    machine's scratch and reused while unchanged.

    A format with :data:`SOURCE_PARTS` is fetched in parts: what its planner reads (``span`` None), or the
    files the episode range ``span`` reads (a shard unit). Other formats, ``file://`` URLs and single-file
    URLs are used whole."""
    from robopipe.storage.parts import fetch_parts, fetch_whole, source_listing

    target = SOURCE_PARTS.get(spec.kind)
    listing = None if target is None else source_listing(spec.path)
    if target is None or listing is None:
        return fetch_whole(spec.path), {}
    parts: SourceParts = _load(target)
    found = parts.options(listing) if parts.options else {}
    spec = spec.model_copy(update={"options": {**found, **spec.options}})
    plan_files = parts.plan(listing)

    def planned() -> Path:
        return fetch_parts(spec.path, plan_files, cap=parts.plan_cap, listing=listing)

    if span is None:
        return planned(), found
    return fetch_parts(spec.path, parts.shard(listing, planned, spec, *span)), found


def open_reader(spec: SourceSpec, span: tuple[int, int | None] | None = None) -> SourceReader:
    """The reader for ``spec``, from the :data:`READERS` registry. A URL source is read from a local copy
    (:func:`local_source`): ``span`` is the episode range the caller reads, None for planning."""
    target = READERS.get(spec.kind)
    if target is None:
        raise ConfigError(f"unknown source kind {spec.kind!r}; expected one of {sorted(READERS)}")
    if spec.kind != "hook":
        from robopipe.storage import is_url

        if is_url(spec.path) and spec.kind not in NATIVE_URL_KINDS:
            local, found = local_source(spec, span)
            spec = spec.model_copy(update={"path": str(local), "options": {**found, **spec.options}})
    factory: ReaderFactory = _load(target)
    return factory(spec)
