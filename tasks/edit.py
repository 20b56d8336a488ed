"""Tasks: merge datasets and single-dataset edits (each output file written once, in threads)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.edit import EditRequest, MergeRequest
from tasks._policies import TRANSIENT_RETRIES


@task(name="merge-datasets", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def merge_datasets_task(request: MergeRequest) -> dict[str, Any]:
    """Merge ``request.roots`` into ``request.out`` (stream copy, no re-encode); returns the EditReport dict.

    The core plans first and commits atomically, so a failed attempt leaves no half-written output.
    """
    from robopipe.edit import merge

    return merge(request).model_dump(mode="json")


@task(name="edit-dataset", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def edit_dataset_task(request: EditRequest) -> dict[str, Any]:
    """One edit (delete-episodes, split, remove/rename feature, set-task); returns the EditReport dict."""
    from robopipe.edit import edit

    return edit(request).model_dump(mode="json")
