"""The CLI and the flows run the same recipe, so they give the same outputs: stats, validate, merge, convert.

CLI runs use a Dask LocalCluster or threads; the flows run every unit as a Prefect task run on their own task
runner. Outputs are compared byte for byte (data parquet, stats.json, episodes metadata, merged videos),
finding for finding, and frame for frame for freshly encoded video.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from robopipe.format import layout
from tests.fixtures.compare import frames
from tests.fixtures.datasets import make_dataset
from tests.robopipe.convert.test_custom_sources import make_aloha
from tests.robopipe.edit.helpers import tree_hash

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]

SMALL = {"data_files_size_in_mb": 0.002, "video_files_size_in_mb": 0.0015}


def files(root: Path, sub: str, suffix: str) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / sub).rglob(f"*{suffix}"))
        if p.is_file()
    }


def test_stats_cli_and_flow_write_the_same_bytes(tmp_path: Path) -> None:
    from flows.stats import stats_flow
    from robopipe.stats.recompute import StatsRequest

    src = make_dataset(tmp_path / "src", frames=[5, 8, 4], cameras={"front": (24, 32)}, codec="h264", **SMALL)
    cli, flow = tmp_path / "cli", tmp_path / "flow"
    shutil.copytree(src, cli)
    shutil.copytree(src, flow)
    assert main(["stats", str(cli), "--workers", "2"]) == 0
    report = stats_flow(StatsRequest(root=flow))
    assert report.executor == "prefect" and report.episodes == 3
    assert files(cli, "meta", "") == files(flow, "meta", "")
    assert json.loads((cli / layout.STATS_PATH).read_text())  # written, not empty


def _break_a_value(root: Path) -> None:
    data = sorted((root / "data").rglob("*.parquet"))[-1]
    t = pq.read_table(data)
    col = t["action"].to_pylist()
    col[1][2] = float("nan")
    pq.write_table(
        t.set_column(t.column_names.index("action"), "action", pa.array(col, t.schema.field("action").type)),
        data,
    )


def test_validate_cli_and_flow_find_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.validate import validate_flow
    from robopipe.validate import ValidateRequest

    root = make_dataset(tmp_path / "ds", frames=[30, 30, 30], cameras={}, data_files_size_in_mb=0.002)
    _break_a_value(root)
    capsys.readouterr()
    assert main(["validate", str(root), "--json", "--workers", "2"]) == 1
    cli = json.loads(capsys.readouterr().out)
    flow = validate_flow(ValidateRequest(root=str(root))).model_dump(mode="json")
    assert cli["gx"]["runner"].startswith("dask:") and cli["gx"]["files"] >= 2
    assert flow["findings"] == cli["findings"] and flow["findings"]
    assert flow["counts"] == cli["counts"] and flow["gx"]["evaluated"] == cli["gx"]["evaluated"]


def test_merge_cli_and_flow_write_the_same_bytes(tmp_path: Path) -> None:
    from flows.merge import merge_flow
    from robopipe.edit import MergeRequest

    cams = {"front": (48, 64), "wrist": (32, 48)}
    a = make_dataset(tmp_path / "a", frames=[6, 9, 5], cameras=cams, codec="h264", **SMALL)
    b = make_dataset(
        tmp_path / "b", frames=[4, 7], cameras=cams, codec="h264", seed=1, tasks=["wave"], **SMALL
    )
    assert main(["merge", str(tmp_path / "cli"), str(a), str(b), "--workers", "2"]) == 0
    report = merge_flow(MergeRequest(out=tmp_path / "flow", roots=[a, b]))
    assert report.outputs[0].episodes == 5
    assert tree_hash(tmp_path / "cli") == tree_hash(tmp_path / "flow")


def test_convert_cli_and_flow_give_the_same_dataset(tmp_path: Path) -> None:
    from flows.convert import convert_flow
    from robopipe.convert.engine import ConvertRequest, EncoderOptions
    from robopipe.convert.source import SourceSpec

    make_aloha(tmp_path / "aloha", episodes=4)
    mapping = tmp_path / "aloha.yaml"
    mapping.write_text(
        "fps: 50\nrobot_type: aloha\ncameras: {cam_high: observations/images/cam_high}\n"
        "state: [observations/qpos]\naction: [action]\ntask: {default: transfer the cube}\n"
    )
    args = ["--mapping", str(mapping), "--shards", "2", "--codec", "h264", "--crf", "20"]
    assert (
        main(
            [
                "convert",
                "hdf5",
                str(tmp_path / "aloha"),
                "--out",
                str(tmp_path / "cli"),
                "--workers",
                "2",
                *args,
            ]
        )
        == 0
    )
    request = ConvertRequest(
        source=SourceSpec(kind="hdf5", path=str(tmp_path / "aloha")),
        out=tmp_path / "flow",
        mapping=str(mapping),
        shards=2,
        encoder=EncoderOptions(codec="h264", crf=20),
    )
    report = convert_flow(request)
    assert report.episodes == 4 and report.shards_done == 2
    cli, flow = tmp_path / "cli", tmp_path / "flow"
    assert files(cli, "data", ".parquet") == files(flow, "data", ".parquet")
    for name in ("info.json", "stats.json", "tasks.parquet"):
        assert (cli / "meta" / name).read_bytes() == (flow / "meta" / name).read_bytes(), name
    got, want = frames(flow), frames(cli)
    assert got.keys() == want.keys() and got
    for key in want:
        assert len(got[key]) == len(want[key]) and all(
            np.array_equal(x, y) for x, y in zip(got[key], want[key])
        )
