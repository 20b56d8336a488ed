"""The quality stage flow and the ingest quarantine on the session's Prefect server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.defects import DEFECTS, make_defect_dataset
from tests.flows.conftest import flow_run_artifacts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]
ERRORS = sorted(e for e, (kind, _, _) in DEFECTS.items() if kind not in ("idle", "spike"))  # [1, 4, 5]


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_defect_dataset(tmp_path_factory.mktemp("qf") / "ds")


def test_quality_flow_table_artifact(defects: Path, tmp_path: Path) -> None:
    from flows.quality import quality_flow
    from robopipe.quality.models import QualityRequest

    root = tmp_path / "ds"
    shutil.copytree(defects, root)
    state = quality_flow(QualityRequest(root=root), return_state=True)
    report = state.result()
    assert {s.episode_index for s in report.suspects} == set(DEFECTS)
    art = flow_run_artifacts(state.state_details.flow_run_id)["quality-ds"]
    assert art.type == "table" and "frozen_camera [frames 10-29]" in str(art.data)


def test_ingest_quarantines_bad_episodes_before_merging(defects: Path, tmp_path: Path) -> None:
    from flows.ingest import ingest_flow
    from flows.models import IngestRequest
    from robopipe.format.reader import DatasetReader

    sessions = tmp_path / "master.sessions"
    shutil.copytree(defects, sessions / "session-a")
    before = sorted(p.relative_to(sessions).as_posix() for p in (sessions / "session-a").rglob("*"))
    request = IngestRequest.model_validate(
        {"master": str(tmp_path / "master"), "gx": False, "images": False, "execution": {"workers": 1}}
    )
    state = ingest_flow(request, return_state=True)
    summary = state.result()
    assert sorted(q.episode for q in summary.quarantined or []) == ERRORS
    assert DatasetReader(tmp_path / "master").num_episodes == 8 - len(ERRORS)
    assert DatasetReader(sessions / ".quarantine" / "session-a").num_episodes == len(ERRORS)
    row = summary.sessions[0]
    assert row.status == "cleaned" and "quarantined by quality" in row.note
    arts = flow_run_artifacts(state.state_details.flow_run_id)
    assert arts["quarantine-master"].type == "table" and "duplicate_episode" in str(
        arts["quarantine-master"].data
    )
    after = {p.relative_to(sessions).as_posix() for p in (sessions / "session-a").rglob("*")}
    assert set(before) <= after  # the session keeps all its files (quality results are added)
