"""Robots and teleoperators built from configs, against in-process (``stsim://``) simulated buses."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hardware.base import dataset_features
from hardware.calibration import load_calibration, save_calibration
from hardware.config import CONFIG_DIR, CustomArmConfig, SOFollowerConfig, load_device_config
from hardware.factory import make_robot, make_teleoperator
from hardware.robots.arm import ArmLeader, ArmRobot
from hardware.robots.calibrate import run_calibration
from hardware.robots.keyboard import KeyboardTeleop
from hardware.sim import urlhandler
from hardware.sim.presets import preset_calibration
from robopipe.errors import ConfigError, DeviceNotConnectedError

SO_KEYS = [
    f"{j}.pos" for j in ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
]


def url(preset: str, **options: object) -> str:
    urlhandler.register()
    query = "&".join(f"{k}={v}" for k, v in {"name": uuid.uuid4().hex, **options}.items())
    return f"stsim://{preset}?{query}"


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_configs_load_and_describe_features(path: Path) -> None:
    config = load_device_config(path)
    if config.type == "keyboard":
        assert make_teleoperator(config).action_features
        return
    arm = config.to_arm()
    device = make_teleoperator(config) if arm.is_leader else make_robot(config)
    assert device.action_features  # no connection needed
    assert all(ftype is float for ftype in device.action_features.values())


def test_configs_by_name_type_and_override() -> None:
    config = load_device_config("so101_follower", port="/dev/ttyX")
    assert isinstance(config, SOFollowerConfig) and config.port == "/dev/ttyX"
    assert load_device_config("sim-so101").type == "sim-so101"
    with pytest.raises(ConfigError, match="unknown device"):
        load_device_config("so102_follower")
    with pytest.raises(ConfigError, match="invalid device config"):
        load_device_config({"type": "so101_follower"})  # port missing


def test_features_for_the_recorder() -> None:
    robot = make_robot("sim-so101")
    assert list(robot.observation_features) == SO_KEYS
    feats = dataset_features(robot.observation_features, "observation")
    assert feats == {"observation.state": {"dtype": "float32", "shape": [6], "names": SO_KEYS}}
    assert dataset_features(robot.action_features, "action")["action"]["names"] == SO_KEYS
    assert robot.name == "so_follower"


def test_methods_need_a_connection() -> None:
    robot = make_robot("sim-so101")
    with pytest.raises(DeviceNotConnectedError, match="connect"):
        robot.get_observation()
    with pytest.raises(ConfigError, match="make_teleoperator"):
        make_robot("sim-so101-leader")


def test_so101_follower_on_url_backend_with_calibration_file(tmp_path: Path) -> None:
    save_calibration(preset_calibration("so101-follower"), tmp_path / "f1.json")
    robot = make_robot(
        {
            "type": "so101_follower",
            "port": url("so101-follower"),
            "id": "f1",
            "calibration_dir": str(tmp_path),
        }
    )
    with robot:
        obs = robot.get_observation()
        assert obs["shoulder_pan.pos"] == pytest.approx(0.0) and obs["gripper.pos"] == pytest.approx(50.0)
        sent = robot.send_action({"shoulder_pan.pos": 10.0})
        assert sent == {"shoulder_pan.pos": 10.0}
        core = urlhandler.get_core(robot.config.buses[0].port)
        assert core.servos[0].get("P_Coefficient") == 16  # configure() ran
        assert core.servos[5].get("Max_Torque_Limit") == 500
        assert core.servos[0].torque
    assert not core.servos[0].torque  # torque off on disconnect


def test_missing_calibration_file_says_what_to_do(tmp_path: Path) -> None:
    robot = make_robot(
        {"type": "so101_follower", "port": url("so101-follower"), "id": "x", "calibration_dir": str(tmp_path)}
    )
    with pytest.raises(ConfigError, match="robopipe calibrate"):
        robot.connect()
    assert not robot.is_connected


def test_calibration_file_is_written_to_factory_motors(tmp_path: Path) -> None:
    save_calibration(preset_calibration("so101-follower"), tmp_path / "f1.json")
    port = url("so101-follower", calibrated="false")
    robot = make_robot({"type": "so101_follower", "port": port, "id": "f1", "calibration_dir": str(tmp_path)})
    with robot:
        core = urlhandler.get_core(port)
        assert core.servos[0].get("Homing_Offset") == -709
        # factory pose: shaft at 2000, now read as 2000 + 709 against the calibrated mid point 2000
        assert robot.get_observation()["shoulder_pan.pos"] == pytest.approx(709 * 360 / 4095)


def test_max_relative_target_clips_goals(tmp_path: Path) -> None:
    save_calibration(preset_calibration("so101-follower"), tmp_path / "f.json")
    cfg = {
        "type": "so101_follower",
        "port": url("so101-follower"),
        "id": "f",
        "calibration_dir": str(tmp_path),
    }
    with make_robot({**cfg, "max_relative_target": 5.0}) as robot:
        assert robot.send_action({"shoulder_pan.pos": 40.0}) == {"shoulder_pan.pos": 5.0}


def test_calibration_procedure_on_a_moving_leader(tmp_path: Path) -> None:
    port = url("so101-leader", calibrated="false", period_s=0.5)
    leader = make_teleoperator(
        {"type": "so101_leader", "port": port, "id": "l1", "calibration_dir": str(tmp_path)}
    )
    assert isinstance(leader, ArmLeader)
    leader.open_buses()
    try:
        cal = run_calibration(leader, ask=lambda _: "", say=lambda _: None, record_min_s=0.6)
    finally:
        leader.disconnect()
    assert load_calibration(tmp_path / "l1.json") == cal
    assert (cal["wrist_roll"].range_min, cal["wrist_roll"].range_max) == (0, 4095)
    for name in ("shoulder_pan", "elbow_flex", "gripper"):
        # the homing pose reads 2047 and lies on the swept path; sampling may clip the peaks a little
        assert cal[name].range_min - 100 < 2047 < cal[name].range_max + 100
        assert cal[name].range_max - cal[name].range_min > 200  # a full swing was recorded
    with leader:  # the saved file is usable straight away
        assert set(leader.get_action()) == set(SO_KEYS)


def test_koch_dynamixel_arm(tmp_path: Path) -> None:
    save_calibration(preset_calibration("koch-follower"), tmp_path / "k.json")
    port = url("koch-follower")
    with make_robot(
        {"type": "koch_follower", "port": port, "id": "k", "calibration_dir": str(tmp_path)}
    ) as robot:
        obs = robot.get_observation()
        assert obs["elbow_flex.pos"] == pytest.approx(0.0)  # range_m100_100 at mid range
        robot.send_action({"elbow_flex.pos": 50.0})
        core = urlhandler.get_core(port)
        assert core.servos[2].get("Operating_Mode") == 4 and core.servos[5].get("Operating_Mode") == 5
        assert core.servos[2].get("Goal_Position") == 2500  # 1000..3000 range, +50 %


def test_openk_follower_mixes_damiao_and_feetech(tmp_path: Path) -> None:
    save_calibration(preset_calibration("openk-follower-sts"), tmp_path / "o.json")
    dm, sts = url("openk-follower-dm"), url("openk-follower-sts")
    robot = make_robot(
        {
            "type": "openk-1-alpha_follower",
            "port": dm,
            "sts_port": sts,
            "id": "o",
            "calibration_dir": str(tmp_path),
        }
    )
    assert "shoulder_pan.vel" in robot.observation_features and "grip.pos" in robot.observation_features
    with robot:
        assert all(m.enabled for m in urlhandler.get_core(dm).motors)
        robot.send_action({"shoulder_pan.pos": 10.0, "grip.pos": 80.0})
        urlhandler.get_core(dm).advance(1e9)  # let the simulated joint arrive
        obs = robot.get_observation()
        assert obs["shoulder_pan.pos"] == pytest.approx(10.0, abs=0.05)
        assert set(obs) == set(robot.observation_features)
    assert not any(m.enabled for m in urlhandler.get_core(dm).motors)


def test_openk_leader_has_seven_sts_joints() -> None:
    leader = make_teleoperator({"type": "openk_leader", "port": "/dev/null"})
    assert len(leader.action_features) == 7


def test_keyboard_teleop_integrates_held_keys() -> None:
    keys = iter(["u", "u", "", "h"])
    teleop = make_teleoperator("keyboard")
    assert isinstance(teleop, KeyboardTeleop)
    teleop = KeyboardTeleop(teleop.config, key_source=lambda: next(keys, ""))
    with teleop:
        first = teleop.get_action()
        assert first["shoulder_pan.pos"] == 1.0
        teleop.get_action()
    assert first["gripper.pos"] == 50.0


def test_custom_arm_from_yaml(tmp_path: Path) -> None:
    config = load_device_config(CONFIG_DIR / "custom_arm_example.yaml")
    assert isinstance(config, CustomArmConfig)
    robot = make_robot(config)
    assert isinstance(robot, ArmRobot)
    assert list(robot.action_features) == ["base.pos", "elbow.pos", "gripper.pos"]
