"""Statistics of LeRobot v3.0 datasets (core layer: numpy only).

* :func:`compute_episode_stats` — LeRobot 0.4.4's per-episode numeric stats, reproduced exactly.
* :class:`ImageStatsAccumulator` — streaming per-episode camera stats with LeRobot's sampling and a
  correct std.
* :class:`FeatureStats` / :class:`DatasetStats` — mergeable values (a monoid) with exact pooled
  count/mean/variance/min/max and a quantile sketch with a documented error bound
  (:mod:`robopipe.stats.sketch`).
* :func:`summarize_episode` — both at once, for the dataset writer.
* persistence: sketch side files and ``meta/stats.json``.
"""

from robopipe.stats.episode import EpisodeSummary, compute_episode_stats, summarize_episode
from robopipe.stats.image import ImageStatsAccumulator
from robopipe.stats.io import (
    load_stats_json,
    read_sketch_file,
    read_sketches,
    sketch_files,
    sketch_path,
    write_sketch_file,
    write_stats_json,
)
from robopipe.stats.lerobot_math import DEFAULT_QUANTILES, QUANTILE_KEYS
from robopipe.stats.sketch import ABS_FLOOR, ALPHA, QuantileSketch
from robopipe.stats.values import DatasetStats, FeatureStats, merge, merge_all

__all__ = [
    "ABS_FLOOR",
    "ALPHA",
    "DEFAULT_QUANTILES",
    "QUANTILE_KEYS",
    "DatasetStats",
    "EpisodeSummary",
    "FeatureStats",
    "ImageStatsAccumulator",
    "QuantileSketch",
    "compute_episode_stats",
    "load_stats_json",
    "merge",
    "merge_all",
    "read_sketch_file",
    "read_sketches",
    "sketch_files",
    "sketch_path",
    "summarize_episode",
    "write_sketch_file",
    "write_stats_json",
]
