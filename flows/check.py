"""Pipeline ``check``: validate a dataset root and recompute its statistics (the nightly deployment)."""

from __future__ import annotations

from prefect import flow

from flows.models import CheckRequest, CheckSummary
from flows.runtime import dask_cluster, task_runner
from flows.stats import stats_flow
from flows.validate import validate_flow
from robopipe.errors import ValidationFailedError
from robopipe.stats.recompute import StatsRequest
from robopipe.validate import ValidateRequest


@flow(name="check")
def check_flow(request: CheckRequest) -> CheckSummary:
    """Validate, then recompute stats; the run fails (after both) when validation found errors."""
    report_dir = str(request.report_dir) if request.report_dir else None
    report = validate_flow(ValidateRequest(root=str(request.root), gx=request.gx, report_dir=report_dir))
    stats = None
    if report.valid:
        with dask_cluster(request.execution) as address:
            stats = stats_flow.with_options(task_runner=task_runner(address, request.execution.workers))(
                StatsRequest(root=request.root, images=request.images)
            )
    else:
        raise ValidationFailedError(
            f"{request.root}: {report.counts['error']} validation errors (stats not recomputed); "
            "see the 'validation-...' artifact of this run"
        )
    return CheckSummary(valid=report.valid, counts=report.counts, stats=stats)
