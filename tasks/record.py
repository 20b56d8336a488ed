"""Task: one recording session on a robot (runs in the flow's process, next to the devices)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from recording import RecordRequest, RecordResult
from tasks._policies import ROBOT, TRANSIENT_RETRIES


@task(
    name="record-session",
    tags=[ROBOT],
    cache_policy=NO_CACHE,
    **{**TRANSIENT_RETRIES, "retry_delay_seconds": 2},
)
def record_session_task(request: RecordRequest) -> RecordResult:
    """Record ``request.num_episodes`` episodes; returns the small :class:`RecordResult`.

    A device timeout is transient: the retry resumes the same dataset and records only the episodes
    still missing (the writer keeps every saved episode of the failed attempt).
    """
    from prefect.context import TaskRunContext

    from recording.session import record_session
    from robopipe.format.reader import DatasetReader

    root = request.dataset_root()
    ctx = TaskRunContext.get()
    if ctx is not None and ctx.task_run.run_count > 1 and (root / "meta" / "info.json").is_file():
        saved = DatasetReader(root).num_episodes  # a retry: keep what the failed attempt saved
        if saved >= request.num_episodes:
            return RecordResult(root=root, repo_id=request.repo_id, total_episodes=saved)
        request = request.model_copy(update={"resume": True, "num_episodes": request.num_episodes - saved})
    return record_session(request)
