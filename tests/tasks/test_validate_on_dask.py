"""The validate recipe with GX on a real 2-worker Dask LocalCluster gives the same findings as serially."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robopipe.execution import Execution
from robopipe.validate import ValidateRequest, validate, validate_dataset
from tasks.executors import DaskExecutor, open_executor
from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runner():  # type: ignore[no-untyped-def]
    with open_executor(Execution(kind="dask-local", workers=2)) as r:
        yield r


@pytest.fixture(scope="module")
def multi_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_dataset(
        tmp_path_factory.mktemp("dask") / "ds",
        frames=[30, 30, 30, 30],
        cameras={},
        data_files_size_in_mb=0.002,
    )
    assert len(list((root / "data").glob("*/*.parquet"))) >= 2
    return root


def test_dask_runner_valid(runner: DaskExecutor, multi_file: Path, tmp_path: Path) -> None:
    report = validate_dataset(multi_file, executor=runner, report_dir=tmp_path / "rep")
    assert report.findings == [], [f.model_dump() for f in report.findings]
    assert report.gx is not None and report.gx.runner.startswith("dask:tcp://")
    assert report.gx.files == len(list((multi_file / "data").glob("*/*.parquet"))) and report.gx.failed == 0
    assert (tmp_path / "rep/data_docs/index.html").is_file()


def test_dask_equals_serial_on_broken_data(runner: DaskExecutor, multi_file: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(multi_file, root)
    last = sorted((root / "data").glob("*/*.parquet"))[-1]
    t = pq.read_table(last)
    m = np.stack(t.column("action").to_numpy(zero_copy_only=False)).astype(np.float32)
    m[1, 3] = 1e6
    arr = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), 6)
    pq.write_table(t.set_column(t.column_names.index("action"), "action", arr), last)
    serial = validate_dataset(root)
    dask = validate_dataset(root, executor=runner)
    assert [f.model_dump() for f in dask.findings] == [f.model_dump() for f in serial.findings]
    assert any(f.code == "RP601" and f.feature == "action_3" for f in dask.findings)


def test_validate_on_existing_scheduler_address(runner: DaskExecutor, multi_file: Path) -> None:
    address = runner.client.scheduler.address
    with open_executor(Execution(address=address)) as executor:
        report = validate(ValidateRequest(root=str(multi_file)), executor)
    assert report.valid and report.gx is not None and report.gx.runner == f"dask:{address}"


def test_cli_uses_dask_for_several_files(runner: DaskExecutor, multi_file: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from flows.cli import main

    address = runner.client.scheduler.address
    assert main(["validate", str(multi_file), "--dask-address", address]) == 0
    assert f"via dask:{address}" in capsys.readouterr().out
