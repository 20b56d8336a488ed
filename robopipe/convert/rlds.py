"""Read TFDS-built RLDS datasets offline (core layer; the only module that imports TensorFlow).

The dataset is opened with ``tfds.builder_from_directory(<name>/<version>)``, never through the TFDS
registry (registered Open X-Embodiment names try to reach GCS). Episodes are one TFRecord example
each; ``is_last`` is never trusted. A shard reads a contiguous episode range through TFDS split slicing
(``train[a:b]``), so TFDS computes the file instructions and each Dask worker opens only its files.
Images are read as encoded bytes (``SkipDecoding``) and decoded once, later, by the mapping step, so a
corrupt image fails only its episode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from packaging.version import InvalidVersion, Version

from robopipe.convert.source import (
    EpisodeFailure,
    Scope,
    SourceDescription,
    SourceEpisode,
    SourceField,
    SourceParts,
    SourceSpec,
)
from robopipe.errors import ConversionError
from robopipe.format.info import MAX_JSON_BYTES

log = logging.getLogger(__name__)

_TF_HINT = 'RLDS conversion needs TensorFlow Datasets: pip install "robopipe[rlds]"'


def import_tfds() -> Any:
    """tensorflow_datasets with TensorFlow quiet (no C++ notices, no progress bars) and off the GPU."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow >= 2.16 prints its oneDNN notice whatever TF_CPP_MIN_LOG_LEVEL says; decoding and
    # batching records does no float math that oneDNN would change, so it is off unless asked for.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise ConversionError(f"{_TF_HINT} ({exc})") from exc
    tf.config.set_visible_devices([], "GPU")
    tfds.disable_progress_bar()
    return tfds


def _is_version_dir(p: Path) -> bool:
    return (p / "features.json").is_file() and (p / "dataset_info.json").is_file()


def _version_key(p: Path) -> tuple[int, Version | str]:
    try:
        return (1, Version(p.name))
    except InvalidVersion:
        return (0, p.name)


def resolve_rlds_dir(path: Path, _depth: int = 0) -> Path:
    """The ``<name>/[<config>/]<version>`` dir for ``path`` = that dir, ``<root>/<name>`` or ``<root>``.

    The newest version dir holding ``features.json`` wins; ``incomplete.*`` dirs (TFDS mid-write) are ignored.
    """
    path = Path(path)
    if not path.is_dir():
        raise ConversionError(f"{path}: RLDS source not found (expected a directory)")
    if _is_version_dir(path):
        return path
    children = sorted(c for c in path.iterdir() if c.is_dir() and not c.name.startswith(("incomplete.", ".")))
    versions = [c for c in children if _is_version_dir(c)]
    if versions:
        return max(versions, key=_version_key)
    if _depth < 2:
        found = []
        for c in children:
            try:
                found.append(resolve_rlds_dir(c, _depth + 1))
            except ConversionError:
                continue
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listing = ", ".join(str(f.relative_to(path)) for f in found)
            raise ConversionError(f"{path}: several RLDS datasets found ({listing}); pass one of them")
    raise ConversionError(
        f"{path}: no RLDS dataset found (expected <name>/<version>/ with features.json and dataset_info.json; "
        "incomplete.* directories are ignored)"
    )


def _walk(feature: Any, prefix: str, scope: Scope, out: dict[str, SourceField], tfds: Any) -> None:
    feats = tfds.features
    if isinstance(feature, feats.FeaturesDict):
        for k, sub in feature.items():
            _walk(sub, f"{prefix}/{k}" if prefix else k, scope, out, tfds)
        return
    if isinstance(feature, feats.Dataset):
        _walk(feature.feature, prefix, "step", out, tfds)
        return
    if isinstance(feature, feats.Image):
        out[prefix] = SourceField(
            path=prefix, scope=scope, kind="encoded_image", shape=tuple(feature.shape), dtype="uint8"
        )
    elif isinstance(feature, feats.Text):
        out[prefix] = SourceField(path=prefix, scope=scope, kind="text", shape=(), dtype="object")
    elif isinstance(feature, feats.Tensor):
        shape = tuple(int(d) if d is not None else -1 for d in feature.shape)
        out[prefix] = SourceField(
            path=prefix, scope=scope, kind="tensor", shape=shape, dtype=np.dtype(feature.np_dtype).name
        )
    else:
        log.warning("RLDS feature %s (%s) is not supported and is ignored", prefix, type(feature).__name__)


def _skip_decoders(feature: Any, tfds: Any) -> Any:
    feats = tfds.features
    if isinstance(feature, feats.FeaturesDict):
        sub = {k: _skip_decoders(v, tfds) for k, v in feature.items()}
        sub = {k: v for k, v in sub.items() if v is not None}
        return sub or None
    if isinstance(feature, feats.Dataset):
        return _skip_decoders(feature.feature, tfds)
    if isinstance(feature, feats.Image):
        return tfds.decode.SkipDecoding()
    return None


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}/{k}" if prefix else k, out)
    else:
        out[prefix] = value


class RldsReader:
    """:class:`SourceReader` for an RLDS dataset directory (all splits in order, or one ``split``)."""

    def __init__(self, path: Path, split: str | None = None) -> None:
        self.path = resolve_rlds_dir(path)
        self._tfds = import_tfds()
        try:
            self._builder = self._tfds.builder_from_directory(str(self.path))
        except Exception as exc:  # tfds raises a zoo of types for broken metadata
            raise ConversionError(f"{self.path}: cannot open RLDS dataset: {exc}") from exc
        info = self._builder.info
        if str(getattr(info, "file_format", "tfrecord")).lower().find("tfrecord") < 0:
            raise ConversionError(
                f"{self.path}: file format {info.file_format} is not supported (tfrecord only)"
            )
        names = list(info.splits.keys())
        order = sorted(names, key=lambda s: (s != "train", s))
        if split is not None:
            wanted = [s.strip() for s in split.split(",")]
            missing = [s for s in wanted if s not in names]
            if missing:
                raise ConversionError(f"{self.path}: split(s) {missing} not found; available: {names}")
            order = wanted
        self.splits: list[tuple[str, int]] = [(s, int(info.splits[s].num_examples)) for s in order]
        fields: dict[str, SourceField] = {}
        feats = info.features
        if "steps" not in feats:
            raise ConversionError(f"{self.path}: not an RLDS dataset (no 'steps' feature)")
        for key, sub in feats.items():
            _walk(
                sub,
                "" if key == "steps" else key,
                "step" if key == "steps" else "episode",
                fields,
                self._tfds,
            )
        self._fields = fields
        self._decoders = _skip_decoders(feats, self._tfds)

    def describe(self) -> SourceDescription:
        return SourceDescription(
            kind="rlds",
            name=str(self._builder.info.name),
            num_episodes=sum(n for _, n in self.splits),
            fields=self._fields,
        )

    def _locate(self, split: str, i: int) -> str:
        """'<file> record <k>' of episode ``i`` of ``split`` (file order = read order without shuffling)."""
        s = self._builder.info.splits[split]
        for fname, n in zip(s.filepaths, s.shard_lengths):
            if i < n:
                return f"{Path(str(fname)).name} record {i}"
            i -= n
        return f"{split}[{i}]"

    def _ranges(self, start: int, stop: int) -> Iterator[tuple[str, int, int, int]]:
        offset = 0
        for split, n in self.splits:
            a, b = max(start - offset, 0), min(stop - offset, n)
            if a < b:
                yield split, a, b, offset
            offset += n

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        total = sum(n for _, n in self.splits)
        stop = total if stop is None else min(stop, total)
        for split, a, b, offset in self._ranges(start, stop):
            yield from self._read_split(split, a, b, offset)

    def _open(self, split: str, a: int, b: int) -> Any:
        ds = self._builder.as_dataset(split=f"{split}[{a}:{b}]", shuffle_files=False, decoders=self._decoders)
        return iter(
            ds.map(
                lambda e: {**e, "steps": e["steps"].batch(1 << 30).get_single_element()}
            ).as_numpy_iterator()
        )

    def _read_split(
        self, split: str, a: int, b: int, offset: int
    ) -> Iterator[SourceEpisode | EpisodeFailure]:
        import tensorflow as tf

        i = a
        it = self._open(split, a, b)
        while i < b:
            try:
                raw = next(it)
            except StopIteration:
                if i < b:
                    yield EpisodeFailure(
                        offset + i, f"{self.path}: {self._locate(split, i)}", "episode missing"
                    )
                    i += 1
                    it = self._open(split, i, b) if i < b else it
                continue
            except (tf.errors.OpError, ValueError) as exc:
                # A corrupt record (or an empty episode) fails only itself: restart after it.
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                yield EpisodeFailure(offset + i, f"{self.path}: {self._locate(split, i)}", msg[:500])
                i += 1
                if i < b:
                    it = self._open(split, i, b)
                continue
            steps: dict[str, Any] = {}
            _flatten(raw["steps"], "", steps)
            meta: dict[str, Any] = {}
            for k, v in raw.items():
                if k != "steps":
                    _flatten(v, k, meta)
            steps = {k: np.asarray(v) for k, v in steps.items() if k in self._fields}
            yield SourceEpisode(
                index=offset + i,
                source=f"{self.path}: {self._locate(split, i)}",
                steps=steps,
                metadata={k: v for k, v in meta.items() if k in self._fields},
            )
            i += 1


def rlds_metadata(rel: str) -> bool:
    """TFDS metadata (``dataset_info.json``, ``features.json``, label ``*.txt`` files), never a TFRecord and
    nothing under an ``incomplete.*`` dir (TFDS mid-write)."""
    parts = rel.split("/")
    return parts[-1].endswith((".json", ".txt")) and not any(
        p.startswith(("incomplete.", ".")) for p in parts
    )


def rlds_plan_files(listing: dict[str, int]) -> set[str]:
    """The TFDS metadata files of a source listing (what describing it reads)."""
    return {rel for rel in listing if rlds_metadata(rel)}


def rlds_shard_files(
    listing: dict[str, int], planned: Callable[[], Path], spec: SourceSpec, start: int, stop: int | None
) -> set[str]:
    """The metadata plus the TFRecord files holding episodes ``[start, stop)`` of the splits read, from each
    split's ``shard_lengths`` and file names in ``dataset_info.json``; TFDS split slicing (``train[a:b]``) then
    opens only those."""
    meta = planned()
    reader = RldsReader(meta, split=spec.split)
    base = reader.path.relative_to(meta)
    total = sum(n for _, n in reader.splits)
    out = rlds_plan_files(listing)
    for split, a, b, _ in reader._ranges(start, total if stop is None else min(stop, total)):
        s = reader._builder.info.splits[split]
        first = 0
        for fname, n in zip(s.filepaths, s.shard_lengths):
            if first < b and a < first + int(n):
                out.add((base / Path(str(fname)).name).as_posix())
            first += int(n)
    return out


#: A URL source: the planner fetches the metadata, a shard that plus the TFRecord files of its episode range.
RLDS_PARTS = SourceParts(plan=rlds_plan_files, shard=rlds_shard_files, plan_cap=MAX_JSON_BYTES)


def open_rlds(spec: SourceSpec) -> RldsReader:
    """Registry factory of the ``rlds`` source kind (see :data:`robopipe.convert.source.READERS`)."""
    return RldsReader(Path(spec.path), split=spec.split)
