"""JSON documents the viewer page reads: the dataset with its episode list, and one episode (core layer)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from robopipe.errors import FormatError
from robopipe.format.reader import DatasetReader, column_to_numpy
from robopipe.quality.models import EpisodeQuality
from robopipe.quality.store import has_quality, read_episodes, read_frames, read_summary

MAX_POINTS = 4000  # per plotted line; longer episodes are decimated for the plot only


def _names(reader: DatasetReader, key: str) -> list[str]:
    names: Any = reader.features[key].names
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    dims = int(np.prod(reader.features[key].shape or (1,)))
    if isinstance(names, list) and len(names) == dims:
        return [str(n) for n in names]
    return [f"{key}[{i}]" for i in range(dims)]


def _plot_keys(reader: DatasetReader) -> list[str]:
    skip = {"timestamp", "frame_index", "episode_index", "index", "task_index"}
    return [k for k, f in reader.features.items() if f.is_numeric and k not in skip and len(f.shape) <= 1]


def _clean(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x, 4)


def video_url(reader: DatasetReader, path: Path) -> str:
    return path.resolve().relative_to(reader.root.resolve()).as_posix()


def dataset_doc(root: Path) -> dict[str, Any]:
    """Summary, cameras, plotted features and the episode list with quality badges."""
    reader = DatasetReader(root)
    eps = reader.episodes
    quality = quality_by_episode(root)
    rows = []
    for i in range(len(eps)):
        row = eps.iloc[i]
        tasks = row.get("tasks")
        task = str(tasks[0]) if tasks is not None and len(tasks) else ""
        q = quality.get(int(row["episode_index"]))
        success = row.get("success")
        rows.append(
            {
                "index": int(row["episode_index"]),
                "length": int(row["length"]),
                "task": task,
                "success": None if success is None or success != success else bool(success),
                "score": None if q is None else q.score,
                "level": None if q is None else q.level,
                "kinds": [] if q is None else sorted({f.kind for f in q.findings if f.level != "info"}),
            }
        )
    return {
        "root": str(reader.root),
        "fps": reader.fps,
        "robot_type": reader.info.robot_type,
        "episodes": rows,
        "cameras": reader.video_keys,
        "features": {k: _names(reader, k) for k in _plot_keys(reader)},
        "quality": read_summary(root),
    }


def quality_by_episode(root: Path) -> dict[int, EpisodeQuality]:
    """Stored quality results by episode (empty when there are none)."""
    return {q.episode_index: q for q in read_episodes(root)} if has_quality(root) else {}


def episode_doc(
    root: Path,
    episode: int,
    reader: DatasetReader | None = None,
    quality: dict[int, EpisodeQuality] | None = None,
) -> dict[str, Any]:
    """One episode: plotted columns, per-frame quality signals, findings and camera spans."""
    reader = reader or DatasetReader(root)
    quality = quality_by_episode(root) if quality is None else quality
    if not 0 <= episode < reader.num_episodes:
        raise FormatError(f"{root}: no episode {episode} (0..{reader.num_episodes - 1})")
    keys = _plot_keys(reader)
    try:
        table = reader.read_episode(episode, columns=keys)
        n = table.num_rows
        step = max(1, math.ceil(n / MAX_POINTS))
        series: dict[str, list[list[float | None]]] = {}
        for k in keys:
            dims = int(np.prod(reader.features[k].shape or (1,)))
            v = column_to_numpy(table[k], reader.features[k]).astype(np.float64).reshape(n, dims)[::step]
            series[k] = [[_clean(float(x)) for x in v[:, j]] for j in range(v.shape[1])]
    except (KeyError, ValueError, TypeError, IndexError, pa.ArrowException) as exc:
        raise FormatError(f"{root}: episode {episode}: data columns {keys} unreadable ({exc})") from exc
    signals = {k: [_clean(float(x)) for x in v[::step]] for k, v in read_frames(root, episode).items()}
    q = quality.get(episode)
    findings = [] if q is None else [f.model_dump() for f in q.findings]
    score, level = (None, None) if q is None else (q.score, q.level)
    videos = []
    for key in reader.video_keys:
        path, start, end = reader.video_span(key, episode)
        videos.append({"key": key, "url": video_url(reader, path), "from": start, "to": end})
    return {
        "index": episode,
        "length": n,
        "fps": reader.fps,
        "step": step,
        "series": series,
        "signals": signals,
        "findings": findings,
        "score": score,
        "level": level,
        "videos": videos,
    }


def video_files(root: Path) -> set[str]:
    """Relative paths of every mp4 an episode refers to (the only files the server hands out)."""
    reader = DatasetReader(root)
    out = set()
    for key in reader.video_keys:
        for e in range(reader.num_episodes):
            out.add(video_url(reader, reader.video_span(key, e)[0]))
    return out
