"""The port pipeline: a failing shard is isolated and reported, and the re-run converts only what is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.rlds import requires_tfds
from tests.flows.conftest import flow_run_artifacts

pytestmark = [
    pytest.mark.integration,
    pytest.mark.rlds,
    requires_tfds,
    pytest.mark.usefixtures("prefect_server"),
]


def test_failed_shard_is_isolated_and_rerun_resumes(rlds_factory: Any, tmp_path: Path) -> None:
    from flows.models import PortRequest
    from flows.port import port_flow
    from robopipe.convert.engine import ConvertRequest, plan_conversion
    from robopipe.format.reader import DatasetReader

    fx = rlds_factory("oxe")
    convert = ConvertRequest.model_validate(
        {
            "source": {"kind": "rlds", "path": str(fx.root)},
            "out": str(tmp_path / "out"),
            "fps": 10,
            "shards": 3,
            "keep_shards": True,
            "encoder": {"codec": "h264", "crf": 20, "preset": "ultrafast"},
        }
    )
    request = PortRequest.model_validate(
        {
            "convert": convert.model_dump(mode="json"),
            "gx": True,
            "images": False,
            "publish": {"repo_id": "test/ported", "target": "local", "registry": str(tmp_path / "registry")},
            "execution": {"workers": 2},
        }
    )
    plan = plan_conversion(convert)
    blocker = plan.shard_root(
        1
    )  # a file where shard 1 must write its dataset: that shard fails (permanently)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")

    first = port_flow(request, return_state=True)
    assert first.is_failed()
    assert "shard 1" in str(first.message)
    assert plan.marker(0).is_file() and plan.marker(2).is_file() and not plan.marker(1).exists()
    assert not (tmp_path / "out").exists()  # nothing merged while a shard is missing
    before = {i: plan.marker(i).stat().st_mtime_ns for i in (0, 2)}

    blocker.unlink()  # "fix the cause" and run again
    state = port_flow(request, return_state=True)
    summary = state.result()
    conv = summary.conversion
    assert conv.shards_skipped == 2
    assert {i: plan.marker(i).stat().st_mtime_ns for i in (0, 2)} == before  # not redone
    assert conv.episodes == len(fx.episodes) == DatasetReader(tmp_path / "out").num_episodes
    assert summary.published is not None and "v0.1.0" in summary.published.tags
    arts = flow_run_artifacts(state.state_details.flow_run_id)
    assert arts["port-out"].type == "table"
    assert "test/ported" in str(arts["published-test-ported"].data)  # link artifacts are stored as markdown
