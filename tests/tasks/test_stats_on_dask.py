"""The stats recipe on a real 2-worker Dask LocalCluster writes the same bytes as on the serial executor."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robopipe.errors import NonFiniteValuesError
from robopipe.execution import Execution, ThreadExecutor
from robopipe.stats.recompute import StatsRequest, recompute_stats
from tasks.executors import DaskExecutor, open_executor
from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dask() -> Iterator[DaskExecutor]:
    with open_executor(Execution(kind="dask-local", workers=2)) as ex:
        assert isinstance(ex, DaskExecutor)
        yield ex


def meta_bytes(root: Path) -> dict[str, bytes]:
    """Every file the stats recipe writes (stats.json, episodes parquet, sketch side files)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "meta").rglob("*")) if p.is_file()
    }


def test_dask_threads_and_serial_write_the_same_bytes(dask: DaskExecutor, tmp_path: Path) -> None:
    src = make_dataset(
        tmp_path / "src",
        episodes=5,
        frames=[4, 7, 2, 5, 3],
        cameras={"front": (24, 32)},
        data_files_size_in_mb=0.0001,
        codec="h264",
    )
    roots = {name: tmp_path / name for name in ("serial", "dask", "threads")}
    for r in roots.values():
        shutil.copytree(src, r)
    serial = recompute_stats(StatsRequest(root=roots["serial"]))
    seen: list[int] = []
    on_dask = recompute_stats(StatsRequest(root=roots["dask"]), dask, progress=seen.append)
    with ThreadExecutor(3) as threads:
        recompute_stats(StatsRequest(root=roots["threads"]), threads)
    assert on_dask.episodes == serial.episodes == 5 and sum(seen) == 21 * 2  # data + video frames
    assert on_dask.executor.startswith("dask:tcp://") and serial.executor == "serial"
    want = meta_bytes(roots["serial"])
    assert meta_bytes(roots["dask"]) == want and meta_bytes(roots["threads"]) == want
    assert not list((roots["dask"] / "meta/robopipe").glob(".stats-staging-*"))


def test_worker_errors_surface(dask: DaskExecutor, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "nan", episodes=2, frames=4, cameras={})
    data = next((root / "data").rglob("*.parquet"))
    t = pq.read_table(data)
    col = t["action"].to_pylist()
    col[1][2] = float("inf")
    t = t.set_column(t.column_names.index("action"), "action", pa.array(col, t.schema.field("action").type))
    pq.write_table(t, data)
    with pytest.raises(NonFiniteValuesError, match="'action'"):
        recompute_stats(StatsRequest(root=root), dask)
    assert not list((root / "meta/robopipe").glob(".stats-staging-*"))
