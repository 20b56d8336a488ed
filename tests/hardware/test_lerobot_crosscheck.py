"""LeRobot 0.4.4's own SO101Follower and robopipe's driver read the same positions from one simulated arm.

The arm is a byte-level simulator on a pty in its own process; LeRobot runs in the reference interpreter
(``run_reference``) with the vendor SDK, robopipe with its own codec. The calibration file is written by
robopipe and loaded by LeRobot (``input`` is answered non-interactively, in case LeRobot asks).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hardware.calibration import load_calibration, save_calibration
from hardware.factory import make_robot, make_teleoperator
from hardware.robots.arm import ArmRobot
from hardware.sim.presets import preset_calibration
from hardware.sim.pty_host import SimulatorProcess
from tests.fixtures.lerobot_ref import run_reference

pytestmark = pytest.mark.lerobot

# Shared head of the reference-interpreter scripts (no format braces inside).
_PRELUDE = """
import builtins, json, time
from pathlib import Path
builtins.input = lambda *a, **k: ""

def retry(fn, *args):  # LeRobot 0.4.4 reads with num_retry=0; a loaded CI machine can miss its 50 ms window
    for attempt in range(5):
        try:
            return fn(*args)
        except ConnectionError:
            if attempt == 4:
                raise
            time.sleep(0.2)
"""

LEROBOT_SCRIPT = (
    _PRELUDE
    + """
from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig

robot = SO101Follower(SO101FollowerConfig(port={port!r}, id="xcheck", calibration_dir=Path({cal!r})))
robot.connect()
first = retry(robot.get_observation)
robot.send_action({action!r})
obs = retry(robot.get_observation)
for _ in range(500):  # until the simulated joints stop moving
    time.sleep(0.01)
    nxt = retry(robot.get_observation)
    if nxt == obs:
        break
    obs = nxt
robot._save_calibration(Path({cal!r}) / "written_by_lerobot.json")
robot.disconnect()
print(json.dumps({{"first": first, "settled": obs}}))
"""
)


def settle(robot: ArmRobot) -> dict[str, float]:
    obs = robot.get_observation()
    for _ in range(500):
        time.sleep(0.01)
        nxt = robot.get_observation()
        if nxt == obs:
            break
        obs = nxt
    return obs


def test_lerobot_and_robopipe_read_identical_positions(lerobot_python: str, tmp_path: Path) -> None:
    cal_dir = tmp_path / "calibration"
    save_calibration(preset_calibration("so101-follower"), cal_dir / "xcheck.json")
    with SimulatorProcess(["so101-follower"]) as sim:
        port = sim.ports[0]
        config = {
            "type": "so101_follower",
            "port": port,
            "id": "xcheck",
            "calibration_dir": str(cal_dir),
            "timeout_s": 0.5,
        }
        with make_robot(config) as robot:
            assert isinstance(robot, ArmRobot)
            robot.send_action({"shoulder_pan.pos": -12.5, "wrist_flex.pos": 20.0, "gripper.pos": 30.0})
            ours = settle(robot)
        action = {
            "shoulder_pan.pos": 20.0,
            "elbow_flex.pos": -15.0,
            "wrist_roll.pos": 33.3,
            "gripper.pos": 70.0,
        }
        theirs = run_reference(
            LEROBOT_SCRIPT.format(port=port, cal=str(cal_dir), action=action),
            tmp_path / "ref",
            python=lerobot_python,
        )
        assert theirs["first"] == ours  # LeRobot reads exactly what robopipe left
        with make_robot(config) as robot:
            again = robot.get_observation()
        assert again == theirs["settled"]  # robopipe reads exactly what LeRobot left
        assert again["shoulder_pan.pos"] == pytest.approx(20.0, abs=0.1)
        assert again["gripper.pos"] == pytest.approx(70.0, abs=0.1)
    # calibration files are interchangeable both ways
    assert load_calibration(cal_dir / "written_by_lerobot.json") == preset_calibration("so101-follower")


LEADER_SCRIPT = (
    _PRELUDE
    + """
from lerobot.teleoperators.so_leader import SO101Leader, SO101LeaderConfig

leader = SO101Leader(SO101LeaderConfig(port={port!r}, id="lead", calibration_dir=Path({cal!r})))
leader.connect()
action = retry(leader.get_action)
leader.disconnect()
print(json.dumps(action))
"""
)


def test_lerobot_and_robopipe_leaders_agree(lerobot_python: str, tmp_path: Path) -> None:
    cal_dir = tmp_path / "calibration"
    save_calibration(preset_calibration("so101-leader"), cal_dir / "lead.json")
    # the scripted operator holds the leader still (motion_s=0), so both drivers see the same pose
    with SimulatorProcess([{"preset": "so101-leader", "motion_s": 0.0}]) as sim:
        port = sim.ports[0]
        theirs = run_reference(
            LEADER_SCRIPT.format(port=port, cal=str(cal_dir)), tmp_path / "ref", python=lerobot_python
        )
        config = {
            "type": "so101_leader",
            "port": port,
            "id": "lead",
            "calibration_dir": str(cal_dir),
            "timeout_s": 0.5,
        }
        with make_teleoperator(config) as leader:
            ours = leader.get_action()
        assert ours == theirs
        assert all(s["torque"] == 0 for s in sim.state(0)["state"].values())  # leaders stay back-drivable
