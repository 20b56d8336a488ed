"""Timing profiles: real arms keep tight budgets, simulators get theirs, tests pass theirs explicitly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hardware.config import load_device_config
from hardware.timing import PROFILES, TimingProfile, timing_profile
from recording import RecordRequest
from recording.session import build_devices
from robopipe.errors import ConfigError


def _bus_budget(config: object) -> list[tuple[float, int]]:
    return [(b.timeout_s, b.num_retries) for b in config.to_arm().buses]  # type: ignore[attr-defined]


def test_real_arms_stay_tight_and_simulated_arms_get_their_own_budget() -> None:
    assert _bus_budget(load_device_config("so101_follower", port="/dev/ttyACM0")) == [(0.1, 2)]
    assert _bus_budget(load_device_config("koch_leader", port="/dev/ttyACM1")) == [(0.1, 2)]
    # the simulated arm's 0.3 s / 3 retries used to be dropped on the way to its bus (0.1 s / 2 then)
    assert _bus_budget(load_device_config("sim-so101")) == [(0.3, 3)]
    assert _bus_budget(load_device_config("sim-koch-leader")) == [(0.3, 3)]
    default = PROFILES["default"]
    assert _bus_budget(default.device_overrides(load_device_config("so101_follower", port="/dev/x"))) == [
        (0.1, 2)
    ]


def test_a_profile_sets_every_bus_and_leaves_other_devices_alone() -> None:
    patient = PROFILES["patient"]
    assert _bus_budget(patient.device_overrides(load_device_config("sim-so101"))) == [(2.0, 5)]
    custom = load_device_config(Path(__file__).parents[2] / "hardware/configs/custom_arm_example.yaml")
    assert {t for t in _bus_budget(patient.device_overrides(custom))} == {(2.0, 5)}
    keyboard = load_device_config("keyboard")
    assert patient.device_overrides(keyboard) is keyboard
    only_retries = TimingProfile(bus_retries=7)
    assert _bus_budget(only_retries.device_overrides(load_device_config("sim-so101"))) == [(0.3, 7)]


def test_record_request_takes_a_profile_by_name_and_builds_devices_with_it(tmp_path: Path) -> None:
    base = {"robot": "sim-so101", "teleop": "sim-so101-leader", "cameras": ["sim:64x48"], "repo_id": "a/b"}
    base |= {"single_task": "t", "root": tmp_path / "ds"}
    assert RecordRequest(**base).timing == TimingProfile()
    req = RecordRequest(**base, timing="patient")
    assert req.timing == PROFILES["patient"] == timing_profile("patient")
    devices = build_devices(req)  # not connected: nothing starts
    assert _bus_budget(devices.robot.config) == [(2.0, 5)]  # type: ignore[attr-defined]
    assert _bus_budget(devices.teleop.config) == [(2.0, 5)]  # type: ignore[union-attr]
    assert [c.config.open_timeout_s for c in devices.cameras.values()] == [60.0]
    with pytest.raises((ValidationError, ConfigError), match="unknown timing profile"):
        RecordRequest(**base, timing="lucky")
