"""The Dask runner on a real 2-worker LocalCluster gives the same stats as the in-process runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from robopipe.errors import NonFiniteValuesError
from robopipe.format.episodes import load_episodes, stats_from_row
from robopipe.stats import DatasetStats, load_stats_json, read_sketches
from robopipe.stats.recompute import StatsRequest, recompute_stats
from tasks.stats_dask import dask_client, recompute_stats_dask, tree_reduce
from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    with dask_client(None, 2) as (c, _name):
        yield c


def test_dask_equals_serial(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = make_dataset(
        tmp_path / "src",
        episodes=5,
        frames=[4, 7, 2, 5, 3],
        cameras={"front": (24, 32)},
        data_files_size_in_mb=0.0001,
        codec="h264",
    )
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(src, a)
    shutil.copytree(src, b)
    ra = recompute_stats(StatsRequest(root=a, workers=0))
    seen: list[int] = []
    rb = recompute_stats_dask(StatsRequest(root=b, workers=2), progress=seen.append, client=client)
    assert rb.episodes == ra.episodes == 5 and sum(seen) == 21 * 2  # data + video frames
    assert read_sketches(a) == read_sketches(b)
    sa, sb = load_stats_json(a), load_stats_json(b)
    assert sa is not None and sb is not None and sa.keys() == sb.keys()
    for f in sa:
        for s in sa[f]:
            np.testing.assert_allclose(sb[f][s], sa[f][s], rtol=1e-12, err_msg=f"{f}/{s}")
    ea, eb = load_episodes(a), load_episodes(b)
    for i in range(5):
        x, y = stats_from_row(ea.iloc[i].to_dict()), stats_from_row(eb.iloc[i].to_dict())
        for f in x:
            for s in x[f]:
                np.testing.assert_array_equal(x[f][s], y[f][s])
    assert not list((b / "meta/robopipe").glob(".stats-staging-*"))


def test_worker_errors_surface(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = make_dataset(tmp_path / "nan", episodes=2, frames=4, cameras={})
    data = next((root / "data").rglob("*.parquet"))
    t = pq.read_table(data)
    col = t["action"].to_pylist()
    col[1][2] = float("inf")
    t = t.set_column(t.column_names.index("action"), "action", pa.array(col, t.schema.field("action").type))
    pq.write_table(t, data)
    with pytest.raises(NonFiniteValuesError, match="'action'"):
        recompute_stats_dask(StatsRequest(root=root, workers=2), client=client)


def test_tree_reduce_shape_is_fixed(client) -> None:  # type: ignore[no-untyped-def]
    parts = [DatasetStats.empty() for _ in range(5)]
    futs = client.scatter(parts)
    assert tree_reduce(client, futs, "t").result() == DatasetStats.empty()
