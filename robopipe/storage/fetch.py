"""Local copies of exactly the files a whole-file stage needs from a dataset at a URL (core layer).

Edits stream-copy most bytes and validation/report checks every file, so they run on local files; but a URL is
not copied as a tree: only ``meta/`` and the data/video files the episodes reference are fetched (each path
confined under the URL by :class:`~robopipe.storage.remote.RemoteRoot`), leaving out junk, staging folders and
files of other datasets under the same prefix. Copies live in this machine's scratch folder and are reused
while the remote files are unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from robopipe.errors import ConfigError, FormatError
from robopipe.format import layout, safepath
from robopipe.format.episodes import video_columns
from robopipe.storage.remote import RemoteRoot
from robopipe.storage.urls import STAMP, _safe, is_local, is_url, materialize, publish_tree, scratch_dir


def needed_files(remote: RemoteRoot, *, videos: bool = True, unreferenced: bool = False) -> set[str]:
    """``meta/`` plus the data (and, with ``videos``, mp4) files the episodes table points at, as relative
    paths present at the URL; every derived path is checked to stay under the URL first. ``unreferenced``:
    also every ``data/chunk-*/file-*.parquet`` and ``videos/<video key>/chunk-*/file-*.mp4`` no episode
    points at (the validator reports those)."""
    info = remote.load_info()
    eps = remote.load_episodes(stats=False)
    wanted = {rel for rel in remote.listing if rel.startswith("meta/") and ".staging" not in rel}
    if unreferenced:
        wanted.update(remote.sorted_files(layout.DATA_DIR, ".parquet"))
        for name in (k for k, f in info.features.items() if f.is_video and videos):
            folder = f"{layout.VIDEO_DIR}/{safepath.check_component(name, 'video key')}"
            wanted.update(remote.sorted_files(folder, ".mp4"))
    locations: list[tuple[str, str, str | None]] = [("data/chunk_index", "data/file_index", None)]
    if videos:
        locations += [(*video_columns(k)[:2], k) for k, f in info.features.items() if f.is_video]
    for chunk_col, file_col, key in locations:
        if chunk_col not in eps.columns or file_col not in eps.columns:
            continue  # the validator names missing location columns
        pairs = eps[[chunk_col, file_col]].dropna().drop_duplicates()
        for chunk, file in pairs.itertuples(index=False):
            if pd.isna(chunk) or pd.isna(file) or float(chunk) != int(chunk) or float(file) != int(file):
                raise FormatError(f"{remote}: meta/episodes {chunk_col}/{file_col} hold non-integers")
            if key is None:
                rel = layout.data_path(int(chunk), int(file), info.data_path)
            else:
                rel = layout.video_path(
                    key, int(chunk), int(file), info.video_path or layout.DEFAULT_VIDEO_PATH
                )
            remote.path(rel, "data file" if key is None else "video file")  # confined under the URL
            if rel in remote.listing:
                wanted.add(rel)  # a missing file is the validator's finding, not a download error
    return wanted


def fetch_dataset(url: str, *, videos: bool = True, unreferenced: bool = False) -> Path:
    """A local folder holding the files of the dataset at ``url`` that a whole-file stage reads (see
    :func:`needed_files`); ``file://`` URLs are used in place."""
    remote = RemoteRoot(url)
    if is_local(remote.fs):
        return Path(remote.base)
    files = needed_files(remote, videos=videos, unreferenced=unreferenced)
    key = hashlib.sha256(f"{remote.label}|{videos}|{unreferenced}".encode()).hexdigest()[:16]
    return materialize(url, into=scratch_dir() / "fetched" / key, files=files)


def local_input(root: str | Path, *, videos: bool = True, unreferenced: bool = False) -> Path:
    """A command's input dataset: a folder or ``ORG/NAME`` as is, a URL fetched by :func:`fetch_dataset`."""
    from robopipe.format.home import resolve_dataset_root

    if is_url(str(root)):
        return fetch_dataset(str(root), videos=videos, unreferenced=unreferenced)
    return resolve_dataset_root(root)


def refuse_url(root: str | Path, option: str) -> None:
    """Some options write into their input (``--in-place``): a URL input cannot take them."""
    if is_url(str(root)):
        raise ConfigError(f"{option} needs a local dataset folder, not a URL; write the result with --out")


@contextmanager
def fetched(root: str | Path, *, videos: bool = True, write: bool = False) -> Iterator[Path]:
    """:func:`local_input` for a command that may rewrite ``meta/`` (stats, quality): with ``write``, a URL's
    changed ``meta/`` is published back (``meta/info.json`` last) when the block succeeds."""
    if not is_url(str(root)):
        yield local_input(root)
        return
    url = str(root)
    if write and url.startswith("hf://"):
        raise ConfigError(
            f"{_safe(url)}: a Hub dataset is updated by `robopipe publish`, not rewritten in place; "
            f"run this on a local copy (`robopipe download`) and publish the result"
        )
    local = fetch_dataset(url, videos=videos)
    in_place = not local.joinpath(STAMP).exists()  # file:// URLs are used in place
    if write and not in_place:
        local.joinpath(STAMP).unlink()  # the copy is about to differ from the URL: never reused as is
    yield local
    if write and not in_place:
        publish_tree(local, url, replace=True, only="meta/")
