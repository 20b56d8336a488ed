"""Stage flows on the session's Prefect server: stats on a 2-worker Dask LocalCluster, validate, retries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prefect import flow

import robopipe.validate
from robopipe.errors import CorruptFileError, TransientError
from robopipe.validate import ValidateRequest, ValidationReport
from tests.flows.conftest import flow_run_artifacts

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]


def test_stats_flow_on_two_dask_workers_matches_serial(dataset_factory: Any, tmp_path: Path) -> None:
    from flows.stats import stats_flow
    from robopipe.stats.recompute import StatsRequest, recompute_stats

    root = dataset_factory("ds", episodes=3, frames=6, data_files_size_in_mb=0.001)
    twin = dataset_factory("twin", episodes=3, frames=6, data_files_size_in_mb=0.001)
    state = stats_flow(StatsRequest(root=root), return_state=True)  # default runner: LocalCluster(2)
    report = state.result()
    assert report.episodes == 3 and report.frames == 18
    recompute_stats(StatsRequest(root=twin))
    got = json.loads((root / "meta" / "stats.json").read_text())
    want = json.loads((twin / "meta" / "stats.json").read_text())
    assert got.keys() == want.keys()
    for key in want:
        for stat in ("mean", "std", "min", "max", "count"):
            np.testing.assert_allclose(
                got[key][stat], want[key][stat], rtol=1e-6, atol=1e-9, err_msg=f"{key} {stat}"
            )
    arts = flow_run_artifacts(state.state_details.flow_run_id)
    assert "stats-ds" in arts and "stats-progress-ds" in arts


def test_validate_flow_reports_and_artifacts(dataset_factory: Any, tmp_path: Path) -> None:
    from flows.validate import validate_flow

    root = dataset_factory("valid_ds", episodes=2, frames=5)
    state = validate_flow(
        ValidateRequest(root=str(root), gx=True, report_dir=str(tmp_path / "rep")), return_state=True
    )
    report = state.result()
    assert report.valid is True
    assert (tmp_path / "rep" / "report.html").is_file()
    arts = flow_run_artifacts(state.state_details.flow_run_id)
    assert arts["validation-valid-ds"].type == "markdown"
    assert "VALID" in str(arts["validation-valid-ds"].data)


@flow
def _validate_once(request: ValidateRequest) -> ValidationReport:
    from prefect.cache_policies import NO_CACHE

    from tasks.validate import validate_dataset_task

    return validate_dataset_task.with_options(retry_delay_seconds=0, cache_policy=NO_CACHE)(request)


@pytest.mark.parametrize(("error", "calls", "ok"), [(TransientError, 2, True), (CorruptFileError, 1, False)])
def test_transient_failure_is_retried_permanent_is_not(
    dataset_factory: Any, monkeypatch: pytest.MonkeyPatch, error: type[Exception], calls: int, ok: bool
) -> None:
    root = dataset_factory("r", episodes=1, frames=3, cameras={})
    real = robopipe.validate.validate
    seen: list[int] = []

    def flaky(request: ValidateRequest, **kw: Any) -> Any:
        seen.append(1)
        if len(seen) == 1:
            raise error(f"{root}: injected failure")
        return real(request, **kw)

    monkeypatch.setattr(robopipe.validate, "validate", flaky)
    state = _validate_once(ValidateRequest(root=str(root), gx=False), return_state=True)
    assert len(seen) == calls
    assert state.is_completed() is ok


def test_cached_validation_comes_back_as_the_report_model(
    dataset_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task's result is stored as JSON; a cache hit (unchanged dataset, same request) reads it back as a
    ValidationReport, so the flows' attribute reads work on both paths."""
    from flows.validate import validate_flow

    root = dataset_factory("cached", episodes=2, frames=4, cameras={})
    real = robopipe.validate.validate
    runs: list[int] = []

    def counted(request: ValidateRequest, **kw: Any) -> Any:
        runs.append(1)
        return real(request, **kw)

    monkeypatch.setattr(robopipe.validate, "validate", counted)
    first = validate_flow(ValidateRequest(root=str(root), gx=False))
    again = validate_flow(ValidateRequest(root=str(root), gx=False))
    assert len(runs) == 1  # the second run was served from the cache
    assert type(again) is ValidationReport and again.valid and again == first
