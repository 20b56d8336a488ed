"""Stage flow ``edit``: delete episodes, split, remove/rename features, set the task."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import artifacts
from robopipe.edit import EditRequest, edit
from tasks.executors import PrefectExecutor


@flow(name="edit")
def edit_flow(request: EditRequest) -> dict[str, Any]:
    """Run one edit (the recipe the CLI runs; one task run per output file); returns the EditReport dict."""
    report = edit(request, PrefectExecutor()).model_dump(mode="json")
    artifacts.run_table(
        artifacts.artifact_key("edit", request.operation, request.root.name),
        [{"output": o["root"], "episodes": o["episodes"], "frames": o["frames"]} for o in report["outputs"]],
        f"{request.operation} on {request.root}",
    )
    return report
