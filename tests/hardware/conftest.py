"""Fixtures for hardware tests: in-process ``stsim://`` buses and SO-101 motor maps."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from hardware.base import Motor
from hardware.bus.feetech import FeetechCodec
from hardware.bus.serial_bus import SerialMotorBus
from hardware.calibration import MotorNormMode
from hardware.sim import urlhandler
from hardware.sim.presets import SO_JOINTS, preset_calibration


def so_motors() -> dict[str, Motor]:
    return {
        name: Motor(
            id=i + 1,
            model="sts3215",
            norm_mode=MotorNormMode.RANGE_0_100 if name == "gripper" else MotorNormMode.DEGREES,
        )
        for i, name in enumerate(SO_JOINTS)
    }


@pytest.fixture
def sim_url() -> Iterator[str]:
    """A fresh, uniquely named in-process simulated SO-101 follower."""
    urlhandler.register()
    yield f"stsim://so101-follower?name={uuid.uuid4().hex}"


@pytest.fixture
def follower_bus(sim_url: str) -> Iterator[SerialMotorBus]:
    """A connected Feetech bus on a simulated, calibrated SO-101 follower (short timeout, 2 retries)."""
    bus = SerialMotorBus(
        sim_url, so_motors(), FeetechCodec(), timeout_s=0.05, calibration=preset_calibration("so101-follower")
    )
    bus.connect()
    yield bus
    if bus.is_connected:
        bus.disconnect(disable_torque=False)
