"""Simulated arms on real ptys, served by a separate process: teleoperation and faults over the OS path."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from hardware.bus.feetech import FeetechCodec
from hardware.bus.serial_bus import SerialMotorBus
from hardware.factory import make_robot, make_teleoperator
from hardware.sim.presets import preset_calibration
from hardware.sim.pty_host import SimulatorProcess
from robopipe.errors import DeviceError, DeviceTimeoutError, TransientError
from tests.fixtures.timing import SIM_BUS
from tests.hardware.conftest import so_motors

#: generous bus timing: the machine running the tests may be heavily loaded (no timing is asserted)
PATIENT = SIM_BUS  # the test's time budget for a simulator process on a loaded machine
OPERATOR_MOTION_S = 10.0


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(["so101-follower"]) as process:
        yield process


def test_teleop_loop_follower_mirrors_leader() -> None:
    robot = make_robot("sim-so101", max_speed=20000.0, **PATIENT)
    # the operator moves for OPERATOR_MOTION_S from the simulator's start: long enough that the first reads
    # below still see it move when a loaded machine takes seconds to connect the arms
    teleop = make_teleoperator("sim-so101-leader", motion_s=OPERATOR_MOTION_S, period_s=1.0, **PATIENT)
    with robot, teleop:
        assert robot.simulator.pid != teleop.simulator.pid != os.getpid()
        first = teleop.get_action()
        last_action = first
        for _ in range(200):  # lerobot-teleoperate's loop, unpaced
            robot.get_observation()
            last_action = teleop.get_action()
            robot.send_action(last_action)
        assert last_action != first  # the operator moved the leader
        # keep mirroring until the follower has arrived (at the latest once the operator holds still)
        for _ in range(200_000):
            obs = robot.get_observation()
            action = teleop.get_action()
            robot.send_action(action)
            if all(abs(obs[k] - action[k]) < 0.2 for k in action):
                break
        assert obs == pytest.approx(action, abs=0.2)
        follower_state = robot.simulator.state()["state"]
        assert all(s["torque"] == 1 for s in follower_state.values())
    assert robot.simulator is None and teleop.simulator is None  # processes stopped


def test_no_reply_across_processes_is_retried_then_reported(sim: SimulatorProcess) -> None:
    bus = SerialMotorBus(
        sim.ports[0], so_motors(), FeetechCodec(), calibration=preset_calibration("so101-follower")
    )
    with bus:
        sim.inject(0, kind="no_reply", servo=2, count=1)
        assert len(bus.sync_read("Present_Position")) == 6
        sim.inject(0, kind="no_reply", servo=2, count=None)
        with pytest.raises(DeviceTimeoutError, match="shoulder_lift"):
            bus.sync_read("Present_Position")
        sim.clear_faults(0)
        sim.inject(0, kind="bad_checksum", servo=5, count=1)
        sim.inject(0, kind="noise", servo=1, count=1)
        assert len(bus.sync_read("Present_Position")) == 6


def test_late_reply_over_pty(sim: SimulatorProcess) -> None:
    timeout = float(
        SIM_BUS["timeout_s"]
    )  # the test's budget: a loaded machine must not turn on-time replies late
    bus = SerialMotorBus(sim.ports[0], so_motors(), FeetechCodec(), timeout_s=timeout)
    with bus:
        sim.inject(0, kind="late", servo=1, count=1, delay_s=1.5 * timeout)
        first = bus.read("Present_Position", "shoulder_pan", normalize=False)
        assert bus.read("Present_Position", "shoulder_pan", normalize=False) == first


def test_unplug_over_pty_is_a_device_error(sim: SimulatorProcess) -> None:
    bus = SerialMotorBus(
        sim.ports[0], so_motors(), FeetechCodec(), calibration=preset_calibration("so101-follower")
    )
    bus.connect()
    sim.unplug(0)
    with pytest.raises(DeviceError, match="unplugged") as info:
        bus.sync_read("Present_Position")
    assert not isinstance(info.value, TransientError)
    assert not bus.is_connected


def test_unplug_fault_on_packet(sim: SimulatorProcess) -> None:
    bus = SerialMotorBus(
        sim.ports[0], so_motors(), FeetechCodec(), calibration=preset_calibration("so101-follower")
    )
    bus.connect()
    sim.inject(0, kind="unplug", servo=3)
    with pytest.raises(DeviceError) as info:
        bus.sync_read("Present_Position")
    assert not isinstance(info.value, TransientError)


def test_koch_pair_on_ptys() -> None:
    with (
        make_robot("sim-koch", **PATIENT) as robot,
        make_teleoperator("sim-koch-leader", motion_s=0.2, **PATIENT) as teleop,
    ):
        action = teleop.get_action()
        assert robot.send_action(action) == action
        assert set(robot.get_observation()) == set(action)


def test_damiao_bridge_over_pty() -> None:
    from hardware.base import Motor
    from hardware.bus.damiao_bus import DamiaoBus

    motors = {"shoulder_pan": Motor(id=1, model="DM6006"), "elbow_flex": Motor(id=4, model="DM4310")}
    with SimulatorProcess(["openk-follower-dm"]) as sim:
        bus = DamiaoBus(sim.ports[0], motors, control_mode="pos_vel")
        with bus:
            bus.enable_torque()
            bus.sync_write("Goal_Position", {"shoulder_pan": 30.0})
            for _ in range(500):  # poll until the simulated joint arrives
                if abs(bus.read("Present_Position", "shoulder_pan") - 30.0) < 0.05:
                    break
                time.sleep(0.01)
            assert bus.read("Present_Position", "shoulder_pan") == pytest.approx(30.0, abs=0.05)
            assert sim.state(0)["state"]["1"]["enabled"] == 1
            sim.inject(0, kind="no_reply", servo=4, count=None)
            with pytest.raises(DeviceTimeoutError, match="elbow_flex"):
                bus.sync_read("Present_Position")
            sim.clear_faults(0)
        assert sim.state(0)["state"]["1"]["enabled"] == 0  # disabled on disconnect


def test_wrong_baud_rate_over_pty_finds_no_motors(sim: SimulatorProcess) -> None:
    bus = SerialMotorBus(sim.ports[0], so_motors(), FeetechCodec(), baudrate=500_000, timeout_s=0.02)
    with pytest.raises(DeviceError, match="missing"):
        bus.connect()
    with SerialMotorBus(sim.ports[0], so_motors(), FeetechCodec()) as ok:  # 1 Mbaud, the servos' rate
        assert len(ok.sync_read("Present_Position", normalize=False)) == 6
