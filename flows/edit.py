"""Stage flow ``edit``: delete episodes, split, remove/rename features, set the task."""

from __future__ import annotations

from prefect import flow

from flows import artifacts
from robopipe.edit import EditReport, EditRequest, edit
from tasks.executors import PrefectExecutor


@flow(name="edit")
def edit_flow(request: EditRequest) -> EditReport:
    """Run one edit (the recipe the CLI runs; one task run per output file); returns the EditReport."""
    report = edit(request, PrefectExecutor())
    artifacts.run_table(
        artifacts.artifact_key("edit", request.operation, request.root.name),
        [{"output": str(o.root), "episodes": o.episodes, "frames": o.frames} for o in report.outputs],
        f"{request.operation} on {request.root}",
    )
    return report
