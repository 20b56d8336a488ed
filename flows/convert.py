"""Stage flow ``convert``: the convert recipe with every shard a task run, each shard validated as it lands.

A shard that fails does not stop the others: the shard table reports it and the flow fails *before*
merging, so the output never misses episodes silently; a re-run redoes only the unfinished shards (markers).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture

from flows import artifacts
from flows.runtime import default_task_runner
from robopipe.convert.engine import (
    ConversionPlan,
    ConversionReport,
    ConvertRequest,
    ShardOutcome,
    ShardResult,
    plan_conversion,
    run_conversion,
)
from robopipe.errors import ConversionError
from robopipe.validate import ValidateRequest, ValidationReport
from tasks._policies import CPU_HEAVY
from tasks.executors import PrefectExecutor
from tasks.validate import validate_dataset_task


def convert_and_check(request: ConvertRequest, gx: bool | None = None, workers: int = 2) -> ConversionReport:
    """Inside a flow: the convert recipe on Prefect task runs; ``gx`` not None validates every shard
    (while the others still convert) and refuses to merge an invalid one. Writes the shard table."""
    log = get_run_logger()
    executor = PrefectExecutor(workers, tags=(CPU_HEAVY,))
    plan = plan_conversion(request, executor.workers)
    log.info("%d shards", len(plan.shards))
    progress = artifacts.Progress(
        artifacts.artifact_key("convert-progress", request.out.name),
        len(plan.shards),
        f"shards of {request.out}",
    )
    checks: dict[int, PrefectFuture[ValidationReport]] = {}

    def on_shard(r: ShardResult) -> None:
        progress.advance()
        if gx is not None:
            checks[r.index] = validate_dataset_task.submit(
                ValidateRequest(root=str(plan.shard_root(r.index)), gx=gx)
            )

    def gate(plan: ConversionPlan, outcomes: list[ShardOutcome]) -> None:
        rows, invalid = [], []
        for o in outcomes:
            valid, errors = _shard_check(checks.get(o.index))
            if valid is False:
                invalid.append(o.index)
            r = o.result
            rows.append(
                {
                    "shard": o.index,
                    "episodes": r.episodes if r else None,
                    "frames": r.frames if r else None,
                    "episode_failures": len(r.failures) if r else None,
                    "skipped (done before)": r.skipped if r else None,
                    "valid": valid,
                    "validation_errors": errors,
                    "error": o.error,
                }
            )
        artifacts.run_table(artifacts.artifact_key("shards", request.out.name), rows, "one row per shard")
        if invalid:
            raise ConversionError(
                f"shards {invalid} of {request.out} have validation errors (see the shard table); nothing "
                "was merged: fix the source or mapping and re-run to convert only the rest"
            )

    return run_conversion(request, executor, plan=plan, on_shard=on_shard, before_merge=gate)


def _shard_check(check: PrefectFuture[ValidationReport] | None) -> tuple[bool | None, int | str | None]:
    """(valid, error count) of a shard's validation task; (None, None) when it was not validated."""
    if check is None:
        return None, None
    report = check.result(raise_on_failure=False)
    if isinstance(report, ValidationReport):
        return report.valid, report.counts["error"]
    return False, f"validation crashed: {report}"


@flow(name="convert", task_runner=default_task_runner())
def convert_flow(request: ConvertRequest) -> ConversionReport:
    """Convert ``request.source`` into ``request.out`` (the recipe ``robopipe convert`` runs)."""
    return convert_and_check(request)
