"""The merge/edit recipe on a real 2-worker Dask LocalCluster writes the same bytes as serially."""

from __future__ import annotations

from pathlib import Path

import pytest

from robopipe.edit import EditRequest, MergeRequest, edit, merge
from robopipe.execution import Execution
from tasks.executors import open_executor
from tests.fixtures.datasets import make_dataset
from tests.robopipe.edit.helpers import check_against_sources, tree_hash

pytestmark = pytest.mark.integration

SMALL = {"data_files_size_in_mb": 0.002, "video_files_size_in_mb": 0.0015}


def test_dask_merge_and_edit_equal_serial(tmp_path: Path) -> None:
    cams = {"front": (48, 64), "wrist": (32, 48)}
    a = make_dataset(tmp_path / "a", frames=[6, 9, 5], cameras=cams, **SMALL)
    b = make_dataset(tmp_path / "b", frames=[4, 7], cameras=cams, seed=1, tasks=["wave"], **SMALL)
    merge(MergeRequest(out=tmp_path / "serial", roots=[a, b]))
    edit(EditRequest(operation="delete-episodes", root=a, episodes=[1], out=tmp_path / "d-serial"))
    with open_executor(Execution(kind="dask-local", workers=2)) as dask:
        merge(MergeRequest(out=tmp_path / "dask", roots=[a, b]), dask)
        edit(EditRequest(operation="delete-episodes", root=a, episodes=[1], out=tmp_path / "d"), dask)
    mapping = [(a, 0), (a, 1), (a, 2), (b, 0), (b, 1)]
    check_against_sources(tmp_path / "dask", mapping)
    assert tree_hash(tmp_path / "dask") == tree_hash(tmp_path / "serial")
    check_against_sources(tmp_path / "d", [(a, 0), (a, 2)])
    assert tree_hash(tmp_path / "d") == tree_hash(tmp_path / "d-serial")
