"""The port pipeline on a robot log: one long ROS 2 (MCAP storage) bag cut into episodes by an event topic,
each shard a time range of it, the cutting and task source given in the mapping's ``source:`` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.robot_logs import event_messages, write_ros2

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]

MAPPING = """\
fps: 30
cameras: {front: cam/front/image_raw, wrist: cam/wrist/compressed}
state: {parts: [joint_states/position], names: [j_a, j_b, j_c]}
task: task
source: {cut: event, event_topic: /recording, task_topic: /task}
"""


def test_port_flow_converts_a_long_log_in_time_range_shards(tmp_path: Path) -> None:
    from flows.models import PortRequest
    from flows.port import port_flow
    from robopipe.format.reader import DatasetReader

    spans = [(0.1, 0.6, "pick up the cube"), (0.8, 1.2, "put it down"), (1.4, 1.9, "pick up the cube")]
    write_ros2(tmp_path / "long", storage="mcap", seconds=2.0, extra=event_messages(spans))
    (tmp_path / "m.yaml").write_text(MAPPING)
    request = PortRequest.model_validate(
        {
            "convert": {
                "source": {"kind": "ros", "path": str(tmp_path / "long")},
                "out": str(tmp_path / "out"),
                "mapping": str(tmp_path / "m.yaml"),
                "shards": 2,
                "encoder": {"codec": "h264", "crf": 20, "preset": "ultrafast"},
            },
            "gx": True,
            "images": False,
            "execution": {"workers": 2},
        }
    )
    summary = port_flow(request)
    assert summary.conversion.episodes == 3 and not summary.conversion.failures
    r = DatasetReader(tmp_path / "out")
    assert r.num_episodes == 3
    assert [list(t) for t in r.episodes["tasks"]] == [[s[2]] for s in spans]
    assert all(0 < m < 1000 / 30 for m in r.episodes["alignment_max_skew_ms"])
