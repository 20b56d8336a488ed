"""The ingest pipeline on the simulated SO-101: record → validate → stats → merge → publish; resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.flows.conftest import flow_run_artifacts

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]


def _request(tmp_path: Path, record: bool) -> Any:
    from flows.models import IngestRequest

    rec = {
        "robot": "sim-so101",
        "teleop": "sim-so101-leader",
        "cameras": ["front=sim:64x48"],
        "repo_id": "test/so101",
        "single_task": "pick the cube",
        "fps": 15,
        "num_episodes": 2,
        "episode_time_s": 1.0,
        "reset_time_s": 0,
        "keyboard": False,
        "timing": "patient",  # a simulator on a loaded machine: see tests/fixtures/timing.py
    }
    return IngestRequest.model_validate(
        {
            "record": rec if record else None,
            "master": str(tmp_path / "master"),
            "gx": False,
            "images": False,
            "publish": {"repo_id": "test/so101", "target": "local", "registry": str(tmp_path / "registry")},
            "execution": {"workers": 1},
        }
    )


def test_ingest_records_merges_and_publishes_then_resumes_pending(
    dataset_factory: Any, tmp_path: Path
) -> None:
    from flows.ingest import ingest_flow
    from robopipe.format.reader import DatasetReader
    from robopipe.ingest import MERGED
    from robopipe.publish import HistoryRequest, history

    state = ingest_flow(_request(tmp_path, record=True), return_state=True)
    summary = state.result()
    assert summary.master_episodes == 2
    assert DatasetReader(tmp_path / "master").num_episodes == 2
    assert summary.published is not None and "v0.1.0" in summary.published.tags
    arts = flow_run_artifacts(state.state_details.flow_run_id)
    assert arts["ingest-master"].type == "table"

    # a session left pending (recorded, never merged) is picked up by the next run, even without recording
    sessions = tmp_path / "master.sessions"
    src = DatasetReader(tmp_path / "master")
    assert all((s / MERGED).exists() for s in sessions.iterdir() if not s.name.startswith("."))
    shutil.copytree(
        next(s for s in sessions.iterdir() if not s.name.startswith(".")), sessions / "session-pending"
    )
    (sessions / "session-pending" / MERGED).unlink()
    summary = ingest_flow(_request(tmp_path, record=False))
    assert [r.session.name for r in summary.sessions] == ["session-pending"]
    assert DatasetReader(tmp_path / "master").num_episodes == src.num_episodes + 2
    tags = history(HistoryRequest(repo_id="test/so101", target="local", registry=tmp_path / "registry")).tags
    assert {"v0.1.0", "v0.1.1"} <= set(tags)
