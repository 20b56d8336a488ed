"""A dataset root at an fsspec URL, read by byte ranges (core layer).

:class:`RemoteRoot` is the remote twin of a local dataset folder: ``meta/`` files are fetched whole (small,
size-checked first), data parquet files are opened as fsspec file objects so pyarrow reads the footer and
only the column chunks / row groups it needs, and mp4 files are opened the same way for PyAV (the ``moov``
box and the sample ranges of the decoded span). Reads go through fsspec's block cache (aligned blocks of
:data:`BLOCK_SIZE`; fsspec keeps at most 32 per open file).

Confinement is the local rule: every path derived from the dataset is a checked relative path joined under
the URL's own prefix (no ``..``, no absolute path, no ``scheme://`` part, no empty component), so no
template can reach another prefix or bucket. Errors name the URL without credentials.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import (
    CorruptFileError,
    DatasetNotFoundError,
    FormatError,
    RobopipeError,
    StorageError,
    UnsafePathError,
)
from robopipe.format import layout, safepath
from robopipe.format.info import MAX_JSON_BYTES, DatasetInfo, info_from_json
from robopipe.storage.urls import MAX_FILES, _safe, filesystem

BLOCK_SIZE = 1 << 20  # 1 MB aligned blocks: a parquet footer or an mp4 sample range costs one or two
MAX_FOOTER_BYTES = 64 << 20  # a parquet footer (schema + row-group metadata) larger than this is refused
_FILE_PART = re.compile(r"^chunk-[^/]+/file-[^/]+$")
# clients whose errors fsspec does not always translate to OSError (connection refused, bad endpoint, ...)
_NETWORK_MODULES = (
    "botocore",
    "aiobotocore",
    "aiohttp",
    "httpx",
    "httpx2",
    "httpcore",
    "requests",
    "urllib3",
    "huggingface_hub",
)
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "HF_TOKEN")


def scrub(text: str, url: str = "") -> str:
    """``text`` without the credentials of ``url`` or of the environment (never shown)."""
    secrets = [os.environ.get(k) for k in _SECRET_ENV]
    userinfo = url.partition("://")[2].split("/", 1)[0]
    if "@" in userinfo:
        secrets += userinfo.rsplit("@", 1)[0].split(":")
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


class RemoteRoot:
    """The dataset at ``url``: confined paths, bounded metadata reads, ranged data and video reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        label = _safe(url)
        self.label = label if label.endswith("://") else label.rstrip("/")
        with self._errors():  # some filesystems (hf://) reach the server to resolve the path
            self.fs, path = filesystem(url)
        self.base = str(path).rstrip("/")
        if not self.base:
            raise StorageError(f"{self.label}: no bucket or folder in the URL")

    def __str__(self) -> str:
        return self.label

    @property
    def name(self) -> str:
        return self.base.rsplit("/", 1)[-1]

    # ------------------------------------------------------------------ paths
    def path(self, rel: str, what: str = "path") -> str:
        """``base/rel`` after the confinement checks (raises :class:`UnsafePathError`)."""
        safepath.check_relative(rel, what)
        parts = rel.split("/")
        if any(p in ("", ".") for p in parts) or "://" in rel or parts[0].endswith(":"):
            raise UnsafePathError(f"{self.label}: {what} {rel!r} must stay under the dataset URL")
        return f"{self.base}/{rel}"

    def where(self, rel: str) -> str:
        return f"{self.label}/{rel}"

    @contextmanager
    def _errors(self, rel: str = "") -> Iterator[None]:
        """fsspec/botocore/huggingface_hub failures as one robopipe error, credentials scrubbed."""
        where = self.where(rel) if rel else self.label
        try:
            yield
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise DatasetNotFoundError(f"{where}: not found") from exc
        except PermissionError as exc:
            raise StorageError(
                f"{where}: access denied ({scrub(str(exc), self.url)[:200]}); check the credentials"
            ) from exc
        except (OSError, ValueError, RuntimeError) as exc:
            if isinstance(exc, RobopipeError):
                raise
            reason = scrub(f"{type(exc).__name__}: {exc}", self.url)[:200]
            raise StorageError(f"{where}: cannot read ({reason})") from exc
        except Exception as exc:  # botocore/aiohttp/httpx errors that fsspec did not translate
            if type(exc).__module__.split(".")[0] not in _NETWORK_MODULES:
                raise
            reason = scrub(f"{type(exc).__name__}: {exc}", self.url)[:200]
            raise StorageError(f"{where}: cannot read ({reason})") from exc

    # ------------------------------------------------------------------ listing
    @cached_property
    def listing(self) -> dict[str, int]:
        """relative path -> size of every file under the root (one listing, cached)."""
        with self._errors():
            found = self.fs.find(self.base, detail=True)
        if len(found) > MAX_FILES:
            raise StorageError(f"{self.label}: more than {MAX_FILES} files")
        out: dict[str, int] = {}
        prefix = self.base + "/"
        for name, meta in found.items():
            name = str(name)
            if meta.get("type") == "directory" or not name.startswith(prefix):
                continue
            rel = name[len(prefix) :]
            if rel and not any(p in ("", ".", "..") for p in rel.split("/")):
                out[rel] = int(meta.get("size") or 0)
        return out

    def size(self, rel: str) -> int:
        if rel in self.listing:
            return self.listing[rel]
        with self._errors(rel):
            return int(self.fs.size(self.path(rel)))

    def is_file(self, rel: str) -> bool:
        self.path(rel)
        return rel in self.listing

    def sorted_files(self, subdir: str, suffix: str) -> list[str]:
        """``<subdir>/chunk-*/file-*<suffix>`` files in LeRobot's (sorted) order, as relative paths."""
        prefix = subdir.rstrip("/") + "/"
        return sorted(
            rel
            for rel in self.listing
            if rel.startswith(prefix)
            and rel.endswith(suffix)
            and _FILE_PART.match(rel[len(prefix) : len(rel) - len(suffix)])
        )

    # ------------------------------------------------------------------ reads
    def open(self, rel: str, what: str = "file", cache: str = "blockcache") -> IO[bytes]:
        """A read-only file object of ``rel`` (the caller closes it): block-cached for PyAV's many small
        reads; ``cache="none"`` for pyarrow, which asks for exact (coalesced) column-chunk ranges."""
        path = self.path(rel, what)
        with self._errors(rel):
            f = self.fs.open(path, "rb", block_size=BLOCK_SIZE, cache_type=cache)
        with suppress(AttributeError):
            f.label = self.where(rel)  # named in decode errors
        return f

    def read_bytes(self, rel: str, limit: int, what: str = "file") -> bytes:
        """The whole file, refused before reading when it is over ``limit`` bytes."""
        size = self.size(rel)
        if size > limit:
            raise CorruptFileError(
                f"{self.where(rel)}: {size} bytes, over the {limit} bytes allowed for a {what}"
            )
        with self._errors(rel):
            data: bytes = self.fs.cat_file(self.path(rel, what), start=0, end=limit + 1)  # even if it grew
        if len(data) > limit:
            raise CorruptFileError(f"{self.where(rel)}: over the {limit} bytes allowed for a {what}")
        return data

    def read_json(self, rel: str, fix: str) -> Any:
        data = self.read_bytes(rel, MAX_JSON_BYTES, "metadata file")
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise CorruptFileError(f"{self.where(rel)}: unreadable JSON ({exc}); {fix}") from exc

    def parquet(self, rel: str, what: str = "parquet file") -> tuple[pq.ParquetFile, IO[bytes]]:
        """A :class:`pyarrow.parquet.ParquetFile` reading ranges of ``rel`` and its file object (the caller
        closes it); the footer length is checked against the file size (and :data:`MAX_FOOTER_BYTES`)
        before pyarrow allocates it."""
        size = self.size(rel)
        f = self.open(rel, what, cache="none")
        try:
            if size < 12:
                raise CorruptFileError(f"{self.where(rel)}: {size} bytes, too short for a parquet file")
            with self._errors(rel):
                f.seek(size - 8)
                tail = f.read(8)
            footer = int.from_bytes(tail[:4], "little")
            if tail[4:] != b"PAR1" or footer > size - 12 or footer > MAX_FOOTER_BYTES:
                raise CorruptFileError(
                    f"{self.where(rel)}: unreadable parquet (footer of {footer} bytes in a file of {size}); "
                    "the file is truncated or corrupt"
                )
            return pq.ParquetFile(f, pre_buffer=True), f
        except (OSError, pa.ArrowException) as exc:
            f.close()
            raise CorruptFileError(f"{self.where(rel)}: unreadable parquet ({exc})") from exc
        except BaseException:
            f.close()
            raise

    def read_table(self, rel: str, columns: list[str] | None = None, what: str = "parquet file") -> pa.Table:
        pf, f = self.parquet(rel, what)
        try:
            with self._errors(rel):
                return pf.read(columns=columns)
        except pa.ArrowException as exc:
            raise CorruptFileError(f"{self.where(rel)}: unreadable parquet ({exc})") from exc
        finally:
            f.close()

    # ------------------------------------------------------------------ dataset metadata
    def load_info(self) -> DatasetInfo:
        if not self.is_file(layout.INFO_PATH):
            raise DatasetNotFoundError(f"{self.label}: not a LeRobot dataset (missing {layout.INFO_PATH})")
        raw = self.read_json(layout.INFO_PATH, "restore meta/info.json")
        return info_from_json(raw, self.where(layout.INFO_PATH))

    def load_episodes(self, stats: bool = True) -> pd.DataFrame:
        """All episode rows; without ``stats`` the ``stats/*`` column chunks (most of the bytes) are not read."""
        files = self.sorted_files(layout.EPISODES_DIR, ".parquet")
        if not files:
            raise FormatError(
                f"{self.label}: no episodes metadata ({layout.EPISODES_DIR}/chunk-*/file-*.parquet)"
            )
        tables = []
        for rel in files:
            pf, f = self.parquet(rel, "episodes file")
            try:
                with self._errors(rel):
                    names = pf.schema_arrow.names
                    cols = names if stats else [c for c in names if not c.startswith("stats/")]
                    tables.append(pf.read(columns=cols))
            except pa.ArrowException as exc:
                raise CorruptFileError(f"{self.where(rel)}: unreadable parquet ({exc})") from exc
            finally:
                f.close()
        return pa.concat_tables(tables, promote_options="permissive").to_pandas(types_mapper=None)

    def load_tasks(self) -> list[str]:
        from robopipe.format.tasks import tasks_from_frame

        if not self.is_file(layout.TASKS_PATH):
            raise FormatError(f"{self.label}: missing {layout.TASKS_PATH}")
        table = self.read_table(layout.TASKS_PATH, None, "tasks file")
        return tasks_from_frame(table.to_pandas(), self.where(layout.TASKS_PATH))
