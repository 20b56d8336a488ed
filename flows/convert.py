"""Stage flow ``convert``: shards converted in parallel (one task per shard), then merged.

A shard that fails does not stop the others: its error is reported and the flow fails *before* merging,
so the output never misses episodes silently; a re-run redoes only the unfinished shards (markers).
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import as_completed

from flows import artifacts
from flows.runtime import default_task_runner
from robopipe.convert.engine import ConversionPlan, ConvertRequest
from robopipe.errors import ConversionError
from robopipe.validate import ValidateRequest
from tasks.convert import convert_shard_task, finish_conversion_task, plan_conversion_task
from tasks.validate import validate_dataset_task


def run_shards(request: ConvertRequest, gx: bool | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Inside a flow: convert every shard (finished ones return their marker), optionally validate each.

    Returns (plan JSON, one row per shard with ``error`` / ``valid`` set). ``gx=None`` skips validation.
    """
    log = get_run_logger()
    plan_json, todo = plan_conversion_task(request)
    plan = ConversionPlan.model_validate_json(plan_json)
    log.info(
        "%d shards, %d to convert, %d already finished",
        len(plan.shards),
        len(todo),
        len(plan.shards) - len(todo),
    )
    progress = artifacts.Progress(
        artifacts.artifact_key("convert-progress", request.out.name),
        len(plan.shards),
        f"shards of {request.out}",
    )
    futures = [convert_shard_task.submit(plan_json, s.index) for s in plan.shards]
    index_of = {id(f): s.index for f, s in zip(futures, plan.shards)}
    rows: dict[int, dict[str, Any]] = {}
    checks = {}
    for fut in as_completed(futures):
        i = index_of[id(fut)]
        row: dict[str, Any] = {"shard": i, "error": None, "valid": None}
        result, row["error"] = _outcome(fut)
        if result is not None:
            row.update(result)
            if gx is not None:  # validate this shard while the others still convert
                checks[i] = validate_dataset_task.submit(ValidateRequest(root=str(plan.shard_root(i)), gx=gx))
        rows[i] = row
        progress.advance()
    for i, vfut in checks.items():
        report, error = _outcome(vfut)
        if report is not None:
            rows[i].update(valid=report["valid"], validation_errors=report["counts"]["error"])
        else:
            rows[i]["error"] = f"validation crashed: {error}"
    return plan_json, [rows[i] for i in sorted(rows)]


def merge_finished(plan_json: str, rows: list[dict[str, Any]], t0: float, out_name: str) -> dict[str, Any]:
    """Report every shard, fail on a broken or invalid one (nothing merged), else merge the shards."""
    artifacts.run_table(
        artifacts.artifact_key("shards", out_name),
        [
            {
                "shard": r["shard"],
                "episodes": r.get("episodes"),
                "frames": r.get("frames"),
                "episode_failures": len(r.get("failures") or []),
                "skipped (done before)": r.get("skipped"),
                "valid": r.get("valid"),
                "error": r.get("error"),
            }
            for r in rows
        ],
        "one row per shard",
    )
    bad = [r for r in rows if r["error"] or r.get("valid") is False]
    if bad:
        raise ConversionError(
            f"{len(bad)} of {len(rows)} shards failed or are invalid ("
            + "; ".join(f"shard {r['shard']}: {r['error'] or 'validation errors'}" for r in bad[:5])
            + "); the finished shards are kept: fix the cause and re-run to convert only the rest"
        )
    results = [
        {k: v for k, v in r.items() if k not in ("shard", "error", "valid", "validation_errors")}
        for r in rows
    ]
    return finish_conversion_task(plan_json, results, round(time.perf_counter() - t0, 3))


@flow(name="convert", task_runner=default_task_runner())
def convert_flow(request: ConvertRequest) -> dict[str, Any]:
    """Convert ``request.source`` into ``request.out``; returns the ConversionReport dict."""
    t0 = time.perf_counter()
    plan_json, rows = run_shards(request)
    return merge_finished(plan_json, rows, t0, request.out.name)


def _outcome(fut: Any) -> tuple[Any, str | None]:
    """(result, None) or (None, error text) of a finished future: a failed shard must not stop the rest."""
    try:
        return fut.result(), None
    except Exception as exc:  # reported in the shard table and the final error, never swallowed
        return None, f"{type(exc).__name__}: {exc}"
