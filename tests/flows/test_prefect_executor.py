"""The Prefect executor: each unit of a recipe is a visible task run on the flow's task runner."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.executors import PrefectExecutor

pytestmark = pytest.mark.integration


def square(offset: int, x: int) -> int:
    return offset + x * x


def test_prefect_executor_makes_one_task_run_per_unit(prefect_server: str) -> None:
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def squares(items: list[int]) -> list[int]:
        return PrefectExecutor().map(square, 2, items, label="square").results()

    state = squares([1, 2, 3], return_state=True)
    assert state.result() == [3, 6, 11]
    names = _task_run_names(state.state_details.flow_run_id)
    assert sorted(names) == ["square-0", "square-1", "square-2"]


def _task_run_names(flow_run_id: Any) -> list[str]:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            return [r.name for r in runs]

    return asyncio.run(read())
