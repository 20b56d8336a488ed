"""One Prefect test server for the whole session (flow tests request ``prefect_server``).

The server URL is also exported as ``PREFECT_API_URL`` so Dask worker processes started by a flow report
their task runs to the same server; result storage goes to a session temp folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_ENV = ("PREFECT_API_URL", "PREFECT_RESULTS_LOCAL_STORAGE_PATH", "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL, PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-results")
    saved = {k: os.environ.get(k) for k in _ENV}
    with prefect_test_harness(server_startup_timeout=120):
        url = str(PREFECT_API_URL.value())
        os.environ["PREFECT_API_URL"] = url
        os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(storage)
        os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
        try:
            with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: storage}):
                yield url
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def flow_run_artifacts(flow_run_id: object) -> dict[str, object]:
    """key -> artifact of one flow run (and its subflow runs' artifacts are under their own runs)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> dict[str, object]:
        async with get_client() as client:
            arts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
        return {a.key: a for a in arts if a.key}

    return asyncio.run(read())
