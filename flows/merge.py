"""Stage flow ``merge``: several datasets into one (stream copy, no re-encode)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import artifacts
from robopipe.edit import MergeRequest
from tasks.edit import merge_datasets_task


@flow(name="merge")
def merge_flow(request: MergeRequest) -> dict[str, Any]:
    """Merge ``request.roots`` into ``request.out``; returns the EditReport dict."""
    report = merge_datasets_task(request)
    artifacts.run_table(
        artifacts.artifact_key("merge", request.out.name),
        [
            {"output": o["root"], "episodes": o["episodes"], "frames": o["frames"], "bytes": o["bytes"]}
            for o in report["outputs"]
        ],
        f"merge of {len(request.roots)} datasets",
    )
    return report
