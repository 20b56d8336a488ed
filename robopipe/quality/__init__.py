"""Per-episode quality signals of a LeRobot v3.0 dataset: which episodes are bad data, and where (core layer).

Entry point: :func:`compute_quality` (signals -> ``meta/robopipe/quality/``); thresholds in
``defaults.yaml`` (:func:`load_config`); stored results via :mod:`robopipe.quality.store`.
"""

from robopipe.quality.config import QualityConfig, load_config
from robopipe.quality.models import EpisodeQuality, Finding, QualityReport
from robopipe.quality.recipe import compute_quality, finish_quality, plan_quality, run_quality_unit

__all__ = [
    "EpisodeQuality",
    "Finding",
    "QualityConfig",
    "QualityReport",
    "compute_quality",
    "finish_quality",
    "load_config",
    "plan_quality",
    "run_quality_unit",
]
