"""The error boundary also holds when the failure happens in child processes: Dask workers and Prefect flows
print nothing after the one ``error:`` line (captured at the file-descriptor level, so child output counts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.integration


def _stderr_lines(capfd: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capfd.readouterr().err.splitlines() if line.strip()]


def test_failure_on_a_dask_worker_is_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=4, cameras={})
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["action"]["shape"] = [7]
    (root / "meta/info.json").write_text(json.dumps(info))
    assert main(["stats", str(root), "--workers", "2"]) == 1
    err = _stderr_lines(capfd)
    assert len(err) == 1 and err[0].startswith("error: ") and "shape [7]" in err[0], err


def test_failed_flow_run_on_user_input_is_one_line(
    prefect_server: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = make_dataset(tmp_path / "not-hdf5", episodes=1, frames=3, cameras={})
    argv = [
        "port",
        str(source),
        "--out",
        str(tmp_path / "out"),
        "--kind",
        "hdf5",
        "--no-gx",
        "--workers",
        "1",
    ]
    assert main(argv) == 2
    err = _stderr_lines(capfd)
    assert len(err) == 1 and err[0].startswith("error: ") and "hdf5" in err[0], err
    assert "Traceback" not in err[0]
