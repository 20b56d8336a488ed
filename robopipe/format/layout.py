"""Paths, templates and chunk/file arithmetic of LeRobotDataset v3.0 (core layer).

Values are LeRobot 0.4.4's (``lerobot/datasets/utils.py``); see ``shared/reference/lerobot-v3-format.md`` §1.
"""

from __future__ import annotations

import re
from pathlib import Path

from robopipe.errors import UnsafePathError
from robopipe.format import safepath

CODEBASE_VERSION = "v3.0"
DEFAULT_CHUNK_SIZE = 1000  # max files per chunk directory
DEFAULT_DATA_FILE_SIZE_IN_MB = 100
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 200

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
DATA_DIR = "data"
VIDEO_DIR = "videos"
IMAGES_DIR = "images"  # LeRobot's PNG staging; never part of a finished dataset
# robopipe's own side files live here; LeRobot ignores unknown files under meta/.
ROBOPIPE_META_DIR = "meta/robopipe"

CHUNK_FILE_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DEFAULT_EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE_PATTERN + ".parquet"
DEFAULT_DATA_PATH = DATA_DIR + "/" + CHUNK_FILE_PATTERN + ".parquet"
DEFAULT_VIDEO_PATH = VIDEO_DIR + "/{video_key}/" + CHUNK_FILE_PATTERN + ".mp4"

DEFAULT_QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
STAT_NAMES = ("min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99")

_CHUNK_FILE_RE = re.compile(r"chunk-(\d+)/file-(\d+)\.[a-z0-9]+$")


def next_chunk_file(chunk_index: int, file_index: int, chunks_size: int) -> tuple[int, int]:
    """The (chunk, file) after the given one: files run 0..chunks_size-1 inside each chunk.

    Example:
        >>> next_chunk_file(0, 999, 1000)
        (1, 0)
        >>> next_chunk_file(2, 5, 1000)
        (2, 6)
    """
    if file_index >= chunks_size - 1:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


def data_path(chunk_index: int, file_index: int, template: str = DEFAULT_DATA_PATH) -> str:
    """Relative path of a data parquet file (template and indices checked by :mod:`safepath`)."""
    return safepath.format_path(
        template, safepath.V30_DATA_KEYS, "data_path", chunk_index=chunk_index, file_index=file_index
    )


def video_path(video_key: str, chunk_index: int, file_index: int, template: str = DEFAULT_VIDEO_PATH) -> str:
    """Relative path of one video key's mp4 file (template, key and indices checked by :mod:`safepath`)."""
    return safepath.format_path(
        template,
        safepath.V30_VIDEO_KEYS,
        "video_path",
        video_key=video_key,
        chunk_index=chunk_index,
        file_index=file_index,
    )


def episodes_path(chunk_index: int, file_index: int) -> str:
    """Relative path of an episodes-metadata parquet file."""
    return DEFAULT_EPISODES_PATH.format(chunk_index=chunk_index, file_index=file_index)


def parse_chunk_file(path: str | Path) -> tuple[int, int]:
    """(chunk, file) indices from a path ending in ``chunk-XXX/file-YYY.ext``.

    Example:
        >>> parse_chunk_file("data/chunk-002/file-017.parquet")
        (2, 17)
    """
    m = _CHUNK_FILE_RE.search(Path(path).as_posix())
    if m is None:
        raise ValueError(f"not a chunk/file path: {path!s} (expected .../chunk-XXX/file-YYY.ext)")
    return int(m.group(1)), int(m.group(2))


def sorted_files(root: Path, subdir: str, suffix: str) -> list[Path]:
    """Files ``<root>/<subdir>/chunk-*/file-*<suffix>`` in the order LeRobot reads them (sorted paths)."""
    base = root / subdir
    if not base.is_dir():
        return []
    files = sorted(p for p in base.glob(f"chunk-*/file-*{suffix}") if p.is_file())
    bad = safepath.escaping_symlinks(root, [p.relative_to(root).as_posix() for p in files])
    if bad:
        raise UnsafePathError(
            f"{root}: {', '.join(bad[:3])} resolve(s) outside the dataset root (a symlink leaves it); not read"
        )
    return files


def new_staging_dir(root: Path, kind: str) -> Path:
    """A fresh ``meta/robopipe/.<kind>-staging-<id>`` path (not created) for one run's scratch files.

    Folders of the same kind left by interrupted runs are logged (they are safe to delete by hand; a
    concurrent run may still own one, so none is removed here).
    """
    import logging
    import uuid

    meta = Path(root) / ROBOPIPE_META_DIR
    stale = sorted(meta.glob(f".{kind}-staging-*")) if meta.is_dir() else []
    if stale:
        logging.getLogger(__name__).warning(
            "%s: leftover staging folders of an interrupted %s run (safe to delete): %s",
            root,
            kind,
            ", ".join(p.name for p in stale),
        )
    return meta / f".{kind}-staging-{uuid.uuid4().hex[:12]}"
