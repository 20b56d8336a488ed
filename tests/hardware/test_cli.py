"""``robopipe find-port`` and ``robopipe calibrate`` (scripted answers, simulated leader on a pty)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from flows.cli import main
from flows.commands.hardware import port_difference


def test_port_difference() -> None:
    assert port_difference(["/dev/ttyACM0", "/dev/ttyACM1"], ["/dev/ttyACM1"]) == ["/dev/ttyACM0"]
    assert port_difference(["/dev/ttyACM0"], ["/dev/ttyACM0"]) == []


def test_find_port_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find-port"]) == 0


def test_find_port_wait_unplug_without_change_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["find-port", "--wait-unplug"]) == 1
    assert "exactly one port" in capsys.readouterr().err


def test_calibrate_sim_leader_with_answers_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "leader.yaml"
    config.write_text("type: sim-so101-leader\ncalibrated: false\nperiod_s: 0.5\nid: lead1\n")
    answers = tmp_path / "answers.txt"
    answers.write_text("\n\n")
    cal_dir = tmp_path / "cal"
    code = main(
        [
            "calibrate",
            "--robot-path",
            str(config),
            "--answers",
            str(answers),
            "--calibration-dir",
            str(cal_dir),
            "--record-min-s",
            "0.6",
        ]
    )
    assert code == 0
    data = json.loads((cal_dir / "lead1.json").read_text())
    assert list(data) == [
        "shoulder_pan",
        "shoulder_lift",
        "elbow_flex",
        "wrist_flex",
        "wrist_roll",
        "gripper",
    ]
    assert set(data["gripper"]) == {"id", "drive_mode", "homing_offset", "range_min", "range_max"}
    assert data["wrist_roll"]["range_max"] == 4095
    assert "Calibration saved" in capsys.readouterr().out

    # a second run offers the existing file; Enter keeps it
    answers.write_text("\n")
    assert (
        main(
            [
                "calibrate",
                "--robot-path",
                str(config),
                "--answers",
                str(answers),
                "--calibration-dir",
                str(cal_dir),
            ]
        )
        == 0
    )
    assert json.loads((cal_dir / "lead1.json").read_text()) == data


def test_calibrate_unknown_device_is_a_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--robot-path", "so999_follower"]) == 2
    assert "unknown device" in capsys.readouterr().err
