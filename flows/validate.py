"""Stage flow ``validate``: every rule + GX suites on one dataset; artifacts: summary, Data Docs, report."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows import artifacts
from robopipe.validate import ValidateRequest, ValidationReport
from tasks.validate import html_report_task, validate_dataset_task


@flow(name="validate", log_prints=False)
def validate_flow(request: ValidateRequest) -> ValidationReport:
    """Validate ``request.root``; returns the report (``valid`` says pass/fail; the caller decides)."""
    log = get_run_logger()
    report = validate_dataset_task(request)
    key = artifacts.artifact_key("validation", _name(request.root))
    artifacts.validation_summary(report, key)
    if request.report_dir:
        html = html_report_task(request.root, request.report_dir, report)
        log.info("HTML report: %s", html)
    log.info(
        "%s: %s (%d errors, %d warnings)",
        request.root,
        "valid" if report.valid else "INVALID",
        report.counts["error"],
        report.counts["warning"],
    )
    return report


def _name(root: str) -> str:
    from pathlib import Path

    return Path(root).name
