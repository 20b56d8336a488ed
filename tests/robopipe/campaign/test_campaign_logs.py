"""A porting campaign over robot logs and a replay buffer: an MCAP log cut into episodes by its event topic
(options in the catalogue entry) and a Diffusion Policy Zarr buffer, both validated and published."""

from __future__ import annotations

from pathlib import Path

import yaml

from robopipe.campaign import load_catalog, run_campaign
from tests.fixtures.robot_logs import event_messages, write_ros2
from tests.robopipe.convert.test_zarr_source import make_replay_buffer

MAPPING = """\
fps: 30
cameras: {front: cam/front/image_raw, wrist: cam/wrist/compressed}
state: {parts: [joint_states/position], names: [j_a, j_b, j_c]}
task: task
"""


def test_campaign_ports_an_mcap_log_and_a_replay_buffer(tmp_path: Path) -> None:
    spans = [(0.2, 0.9, "pick up the cube"), (1.2, 1.8, "put it in the box")]
    write_ros2(tmp_path / "bag", storage="mcap", seconds=2.0, extra=event_messages(spans))
    mcap = next((tmp_path / "bag").glob("*.mcap")).rename(tmp_path / "run.mcap")
    make_replay_buffer(tmp_path / "pusht.zarr")
    (tmp_path / "log.yaml").write_text(MAPPING)
    (tmp_path / "c.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "logs",
                "codec": "h264",
                "datasets": [
                    {
                        "name": "arm-log",
                        "format": "mcap",
                        "source": mcap.name,
                        "mapping": "log.yaml",
                        "options": {"cut": "event", "event_topic": "/recording", "task_topic": "/task"},
                        "repo_id": "lab/arm-log",
                    },
                    {
                        "name": "pusht",
                        "format": "zarr",
                        "source": "pusht.zarr",
                        "fps": 10,
                        "options": {"task": "push the T"},
                        "repo_id": "lab/pusht",
                    },
                ],
            }
        )
    )
    report = run_campaign(load_catalog(tmp_path / "c.yaml"))
    log, buffer = report.datasets
    assert report.ok, [(d.name, d.status, d.error, d.findings) for d in report.datasets]
    assert log.status == "published" and log.episodes == 2
    assert buffer.status == "published" and buffer.episodes == 3 and buffer.frames == 20
