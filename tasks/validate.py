"""Task: validate one dataset root (a recorded session, a converted shard, a merged dataset)."""

from __future__ import annotations

from datetime import timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.validate import ValidateRequest, ValidationReport
from tasks._policies import TRANSIENT_RETRIES, request_dataset_key


@task(
    name="validate-dataset",
    cache_key_fn=request_dataset_key,
    cache_expiration=timedelta(days=7),
    result_serializer="json",
    **TRANSIENT_RETRIES,
)
def validate_dataset_task(request: ValidateRequest) -> ValidationReport:
    """Every rule and GX suite on ``request.root``; returns the report (stored as JSON, read back as the model).

    Cached on the request plus the dataset's file sizes/mtimes: an unchanged dataset is not re-validated.
    GX runs serially inside this task; parallelism comes from validating several roots (shards) at once.
    """
    from robopipe.validate import validate

    return validate(request)


@task(name="html-report", cache_policy=NO_CACHE)
def html_report_task(root: str, out_dir: str, report: ValidationReport) -> str:
    """Write ``out_dir/report.html`` (episodes, features, findings, thumbnails); returns its path."""
    from robopipe.report import build_report

    return str(build_report(root, out_dir, validation=report))
