"""What a dashboard user reads when a flow fails on bad input: one line naming the file, no traceback.

A robopipe error (bad dataset, bad argument) is the user's to fix, so the Prefect logs of its task and flow runs
carry the one-line message only; a bug (any other exception) keeps its traceback for whoever debugs it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.integration


def _logs(flow_run_id: Any) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async def read() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            return [entry.message for entry in logs]

    return asyncio.run(read())


def test_a_corrupt_file_fails_the_flow_with_one_line_logs(prefect_server: str, tmp_path: Path) -> None:
    from prefect.logging.handlers import APILogWorker
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.stats import stats_flow
    from robopipe.stats.recompute import StatsRequest

    root = make_dataset(tmp_path / "ds", episodes=2, frames=8)
    data = next((root / "data").rglob("*.parquet"))
    data.write_bytes(data.read_bytes()[:100])  # truncated: the footer is gone
    flow = stats_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=2))
    state = flow(StatsRequest(root=root, images=False), return_state=True)
    assert state.is_failed()
    APILogWorker.drain_all()  # every log of the run is on the server (no timeout: never a lost line)
    messages = _logs(state.state_details.flow_run_id)
    errors = [m for m in messages if data.name in m]
    assert errors, messages  # the file is named
    assert not [m for m in messages if "Traceback" in m], messages


def test_the_filter_keeps_tracebacks_of_bugs_and_under_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import sys

    from robopipe.errors import CorruptFileError
    from tasks.logfilter import UserErrorTracebacks

    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            return logging.LogRecord(
                "prefect.task_runs", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
            )

    monkeypatch.delenv("ROBOPIPE_TRACEBACKS", raising=False)
    user, bug = record(CorruptFileError("x.parquet: truncated")), record(KeyError("oops"))
    assert UserErrorTracebacks().filter(user) and UserErrorTracebacks().filter(bug)
    assert user.exc_info is None and bug.exc_info is not None
    monkeypatch.setenv("ROBOPIPE_TRACEBACKS", "1")  # what the CLI's -v sets
    kept = record(CorruptFileError("x.parquet: truncated"))
    UserErrorTracebacks().filter(kept)
    assert kept.exc_info is not None
    for name in ("prefect.flow_runs", "prefect.task_runs"):  # installed by importing tasks
        assert any(isinstance(f, UserErrorTracebacks) for f in logging.getLogger(name).filters)
