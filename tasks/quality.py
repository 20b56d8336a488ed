"""Task: the quality stage on one dataset root (signals stored in the dataset; a small summary returned)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.quality.models import QualityRequest
from tasks._policies import TRANSIENT_RETRIES


@task(name="quality", cache_policy=NO_CACHE, task_run_name="quality-{request.root.name}", **TRANSIENT_RETRIES)
def quality_task(request: QualityRequest) -> dict[str, Any]:
    """Compute and store the quality signals of ``request.root``; returns the QualityReport as JSON.

    Video files are decoded on ``request.workers`` threads inside the task (each mp4 once).
    """
    from robopipe.quality import compute_quality

    report = compute_quality(request.root, request.config, workers=request.workers)
    return report.model_dump(mode="json")
