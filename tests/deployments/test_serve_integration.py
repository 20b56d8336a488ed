"""A real ``prefect server`` (SQLite, loopback, temp PREFECT_HOME) + ``robopipe serve``: a run triggered through
the API with a parameters dict, exactly as the dashboard does, produces the dataset and its artifacts; bad
parameters are rejected by the server before any run starts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.serve import PROJECT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server_and_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("prefect-home")
    work = tmp_path_factory.mktemp("serve-cwd")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    serve = None
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("prefect server did not become healthy")
            time.sleep(0.5)
        env_serve = {
            **env,
            "PREFECT_API_URL": url,
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PYTHONPATH": str(PROJECT_DIR),
        }
        serve = subprocess.Popen(
            [sys.executable, "-m", "flows", "serve", "--name", "ingest-so101", "--limit", "1"],
            env=env_serve,
            cwd=work,
            stdout=(work / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        yield url, work
    finally:
        if serve is not None:
            _stop(serve)  # serve first (it pauses its deployments through the API), then the server
        _stop(server)


async def _deployment_id(client: Any, name: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return (await client.read_deployment_by_name(name)).id
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


def test_dashboard_style_run_of_served_ingest_deployment(
    server_and_serve: tuple[str, Path], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from robopipe.format.reader import DatasetReader

    url, _ = server_and_serve
    params = {
        "request": {
            "record": {
                "robot": "sim-so101",
                "teleop": "sim-so101-leader",
                "cameras": ["front=sim:64x48"],
                "repo_id": "test/served",
                "single_task": "pick the cube",
                "fps": 15,
                "num_episodes": 2,
                "episode_time_s": 1.0,
                "reset_time_s": 0.0,
                "keyboard": False,
                "timing": "patient",  # a simulator on a loaded machine: see tests/fixtures/timing.py
            },
            "master": str(tmp_path / "master"),
            "gx": False,
            "images": False,
            "publish": {"repo_id": "test/served", "target": "local", "registry": str(tmp_path / "registry")},
            "execution": {"workers": 1},
        }
    }

    async def scenario() -> tuple[Any, dict[str, Any]]:
        async with get_client() as client:
            dep = await _deployment_id(client, "ingest/ingest-so101")
            bad = {"request": {**params["request"], "execution": {"workers": 0}}}
            with pytest.raises(PrefectHTTPStatusError, match=r"409|422"):
                await client.create_flow_run_from_deployment(dep, parameters=bad)
            run = await client.create_flow_run_from_deployment(dep, parameters=params)
            deadline = time.monotonic() + 420
            while True:
                run = await client.read_flow_run(run.id)
                if run.state is not None and run.state.is_final():
                    break
                assert time.monotonic() < deadline, f"run still {run.state}"
                await asyncio.sleep(2)
            arts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            runs = await client.read_flow_runs()
            return run, {"artifacts": {a.key: a for a in arts if a.key}, "runs": len(runs)}

    with temporary_settings({PREFECT_API_URL: url}):
        run, found = asyncio.run(scenario())
    assert run.state.is_completed(), run.state
    assert found["runs"] >= 1
    assert DatasetReader(tmp_path / "master").num_episodes == 2
    assert found["artifacts"]["ingest-master"].type == "table"
    assert "test/served" in str(found["artifacts"]["published-test-served"].data)
