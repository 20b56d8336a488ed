"""Stage flow ``merge``: several datasets into one (stream copy, no re-encode); one task run per output file."""

from __future__ import annotations

from prefect import flow

from flows import artifacts
from robopipe.edit import EditReport, MergeRequest, merge
from tasks.executors import PrefectExecutor


@flow(name="merge")
def merge_flow(request: MergeRequest) -> EditReport:
    """Merge ``request.roots`` into ``request.out`` (the recipe ``robopipe merge`` runs); the EditReport."""
    report = merge(request, PrefectExecutor())
    artifacts.run_table(
        artifacts.artifact_key("merge", request.out.name),
        [
            {"output": str(o.root), "episodes": o.episodes, "frames": o.frames, "bytes": o.bytes}
            for o in report.outputs
        ],
        f"merge of {len(request.roots)} datasets",
    )
    return report
