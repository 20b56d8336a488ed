"""The shipped deployments run with their default parameters: relative paths resolve against the run's
working directory (or ``$ROBOPIPE_DATA_DIR``), so no stage (GX Data Docs, Dask workers) sees a relative path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from flows.models import DATA_DIR_ENV
from flows.serve import DEFAULT_FILE, load_entry_flow, read_deployments

DEPLOYMENTS = {d["name"]: d for d in read_deployments(DEFAULT_FILE)}


def _paths(model: BaseModel) -> Iterator[tuple[str, Path]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path):
            yield name, value
        elif isinstance(value, BaseModel) and type(value).__module__.startswith("flows"):
            yield from ((f"{name}.{k}", v) for k, v in _paths(value))


def _request(name: str) -> Any:
    entry = DEPLOYMENTS[name]
    flow = load_entry_flow(entry["entrypoint"])
    return flow.validate_parameters(entry["parameters"])["request"]


@pytest.mark.parametrize("name", ["ingest-so101", "nightly-check", "weekly-port"])
def test_relative_defaults_resolve_against_the_run_directory(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    paths = dict(_paths(_request(name)))
    assert paths and all(p.is_absolute() for p in paths.values()), paths
    assert all(p.is_relative_to(tmp_path) for p in paths.values()), paths
    data = tmp_path / "data-dir"
    monkeypatch.setenv(DATA_DIR_ENV, str(data))
    paths = dict(_paths(_request(name)))
    assert all(p.is_relative_to(data) for p in paths.values()), paths


@pytest.mark.integration
@pytest.mark.slow
def test_ingest_and_nightly_check_complete_with_their_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.testing.utilities import prefect_test_harness

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    saved = os.environ.get("PREFECT_API_URL")
    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        os.environ["PREFECT_API_URL"] = str(PREFECT_API_URL.value())  # Dask workers report to it too
        try:
            for name in ("ingest-so101", "nightly-check"):  # ingest creates the master the check reads
                entry = DEPLOYMENTS[name]
                state = load_entry_flow(entry["entrypoint"])(**entry["parameters"], return_state=True)
                assert state.is_completed(), f"{name}: {state.name}: {state.message}"
        finally:
            if saved is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = saved
    assert (tmp_path / "robopipe-data/so101-master/meta/info.json").is_file()
    assert (tmp_path / "robopipe-data/reports/nightly").is_dir()
