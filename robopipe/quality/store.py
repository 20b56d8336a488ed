"""Where quality results live: ``meta/robopipe/quality/`` (LeRobot ignores ``meta/robopipe``) (core layer).

* ``episodes.parquet`` — one row per episode: score, worst level, ``signals/<name>`` columns, findings (JSON);
* ``frames.parquet`` — per-frame signals (robot motion, idle, per-camera luma / contrast / change) the
  viewer plots, one row per dataset frame, sorted by episode;
* ``summary.json`` — overall score and counts.

Every file is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import CorruptFileError
from robopipe.format import layout
from robopipe.format.atomic import atomic_path, atomic_write_text
from robopipe.quality.models import EpisodeQuality, Finding

QUALITY_DIR = layout.ROBOPIPE_META_DIR + "/quality"
EPISODES_FILE = QUALITY_DIR + "/episodes.parquet"
FRAMES_FILE = QUALITY_DIR + "/frames.parquet"
SUMMARY_FILE = QUALITY_DIR + "/summary.json"


def write_episodes(root: Path, episodes: Sequence[EpisodeQuality]) -> Path:
    names = sorted({k for e in episodes for k in e.signals})
    cols: dict[str, Any] = {
        "episode_index": pa.array([e.episode_index for e in episodes], pa.int64()),
        "length": pa.array([e.length for e in episodes], pa.int64()),
        "score": pa.array([e.score for e in episodes], pa.float64()),
        "level": pa.array([e.level for e in episodes], pa.string()),
        "findings": pa.array(
            [json.dumps([f.model_dump(exclude_none=True) for f in e.findings]) for e in episodes], pa.string()
        ),
    }
    for n in names:
        cols[f"signals/{n}"] = pa.array([e.signals.get(n) for e in episodes], pa.float64())
    path = Path(root) / EPISODES_FILE
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(cols), tmp)
    return path


def write_frames(root: Path, blocks: Sequence[tuple[int, Mapping[str, np.ndarray]]]) -> Path:
    """``blocks`` = ``[(episode_index, {signal: (n,) array}), ...]`` in episode order."""
    names = sorted({k for _, b in blocks for k in b})
    eps, fidx = [], []
    cols: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for ep, b in blocks:
        n = len(next(iter(b.values()))) if b else 0
        eps.append(np.full(n, ep, np.int64))
        fidx.append(np.arange(n, dtype=np.int64))
        for name in names:
            cols[name].append(
                np.asarray(b[name], np.float32) if name in b else np.full(n, np.nan, np.float32)
            )
    table = pa.table(
        {
            "episode_index": np.concatenate(eps) if eps else np.zeros(0, np.int64),
            "frame_index": np.concatenate(fidx) if fidx else np.zeros(0, np.int64),
            **{n: np.concatenate(v) for n, v in cols.items()},
        }
    )
    path = Path(root) / FRAMES_FILE
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=64 * 1024)
    return path


def write_summary(root: Path, summary: Mapping[str, Any]) -> Path:
    path = Path(root) / SUMMARY_FILE
    atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True))
    return path


def has_quality(root: Path) -> bool:
    return (Path(root) / EPISODES_FILE).is_file()


def read_episodes(root: Path) -> list[EpisodeQuality]:
    """Stored per-episode quality (raises :class:`CorruptFileError` when missing or unreadable)."""
    path = Path(root) / EPISODES_FILE
    try:
        t = pq.read_table(path).to_pydict()
        out = []
        sig_cols = [c for c in t if c.startswith("signals/")]
        for i, ep in enumerate(t["episode_index"]):
            out.append(
                EpisodeQuality(
                    episode_index=ep,
                    length=t["length"][i],
                    score=t["score"][i],
                    level=t["level"][i],
                    signals={c.removeprefix("signals/"): t[c][i] for c in sig_cols if t[c][i] is not None},
                    findings=[Finding.model_validate(f) for f in json.loads(t["findings"][i])],
                )
            )
    except FileNotFoundError as exc:
        raise CorruptFileError(f"{path}: no quality results (run `robopipe quality {root}` first)") from exc
    except (OSError, pa.ArrowException, KeyError, ValueError) as exc:
        raise CorruptFileError(
            f"{path}: unreadable quality results ({exc}); re-run robopipe quality"
        ) from exc
    return out


def read_frames(root: Path, episode: int) -> dict[str, np.ndarray]:
    """Per-frame signals of one episode (empty when the dataset has no stored quality)."""
    path = Path(root) / FRAMES_FILE
    if not path.is_file():
        return {}
    try:
        t = pq.read_table(path, filters=[("episode_index", "=", int(episode))])
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(f"{path}: unreadable quality frames ({exc})") from exc
    return {n: t[n].to_numpy() for n in t.column_names if n not in ("episode_index", "frame_index")}


def read_summary(root: Path) -> dict[str, Any] | None:
    path = Path(root) / SUMMARY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"{path}: unreadable quality summary ({exc})") from exc
    return data if isinstance(data, dict) else None
