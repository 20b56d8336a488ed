"""Stage flow ``quality`` and the ingest quarantine step: find a session's bad episodes and set them aside."""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import flow, get_run_logger

from flows import artifacts
from flows.edit import edit_flow
from flows.models import QualityGate
from robopipe.edit import EditRequest
from robopipe.quality.models import EpisodeQuality, QualityReport, QualityRequest
from robopipe.quality.summary import reasons

LEVEL_RANK = {"error": 0, "warning": 1, "info": 2}


def reason_text(suspect: EpisodeQuality) -> str:
    return reasons(suspect, limit=6)


@flow(name="quality")
def quality_flow(request: QualityRequest) -> QualityReport:
    """Quality signals of one dataset; publishes the ranked suspects as a table artifact.

    The same recipe as ``robopipe quality``; its units (one per data / mp4 file) run as task runs on this
    flow's task runner.
    """
    from robopipe.quality import compute_quality
    from tasks.executors import PrefectExecutor

    report = compute_quality(request.root, request.config, executor=PrefectExecutor())
    artifacts.run_table(
        artifacts.artifact_key("quality", request.root.name),
        [
            {
                "rank": i + 1,
                "episode": s.episode_index,
                "score": s.score,
                "level": s.level,
                "reasons": reason_text(s),
            }
            for i, s in enumerate(report.suspects)
        ],
        f"quality of {request.root}: score {report.score}/100, {report.counts}",
    )
    get_run_logger().info(
        "quality of %s: score %.1f, %d suspect episode(s)", request.root, report.score, len(report.suspects)
    )
    return report


def bad_episodes(report: QualityReport, level: str) -> dict[int, EpisodeQuality]:
    """Suspects at ``level`` or worse (``"error"`` or ``"warning"``), by episode index."""
    worst = LEVEL_RANK[level]
    return {s.episode_index: s for s in report.suspects if LEVEL_RANK.get(s.level or "", 9) <= worst}


def quarantine_session(
    root: Path, quarantine_dir: Path, clean_dir: Path, request: QualityRequest, level: str
) -> QualityGate:
    """Run quality on ``root``; copy its bad episodes to ``quarantine_dir`` and the rest to ``clean_dir``.

    Both are new datasets written by stream copy (``root`` keeps its episodes; only its quality results
    are added). The gate's ``root`` is the dataset to merge (None when every episode is bad).
    """
    report = quality_flow(request)
    bad = bad_episodes(report, level)
    if not bad:
        return QualityGate(root=root, quarantined=bad, report=report)
    keep_bad = sorted(set(range(report.episodes)) - set(bad))
    if not keep_bad:  # every episode is bad: merge nothing; the session stays as it is, unmerged
        return QualityGate(root=None, quarantined=bad, report=report)
    for d in (quarantine_dir, clean_dir):
        if d.exists():
            shutil.rmtree(d)  # left by an interrupted run; never the session itself
    edit_flow(EditRequest(operation="delete-episodes", root=root, out=quarantine_dir, episodes=keep_bad))
    edit_flow(EditRequest(operation="delete-episodes", root=root, out=clean_dir, episodes=sorted(bad)))
    return QualityGate(root=clean_dir, quarantined=bad, report=report)
