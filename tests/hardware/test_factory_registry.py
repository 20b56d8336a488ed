"""Devices are built through a registry keyed by config class: every config type has a builder."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from hardware.base import Robot, Teleoperator
from hardware.config import DeviceConfig, KeyboardConfig, SimArmConfig
from hardware.factory import DEVICE_BUILDERS, make_device, make_robot, make_teleoperator, register_device
from robopipe.errors import ConfigError


def test_every_config_type_has_a_builder() -> None:
    assert set(get_args(get_args(DeviceConfig)[0])) <= set(DEVICE_BUILDERS)


def test_roles_are_checked_with_one_line_errors() -> None:
    assert isinstance(make_robot("sim-so101"), Robot)
    assert isinstance(make_teleoperator("sim-so101-leader"), Teleoperator)
    assert isinstance(make_device("keyboard"), Teleoperator)
    with pytest.raises(ConfigError, match="not a robot; use make_teleoperator"):
        make_robot("keyboard")
    with pytest.raises(ConfigError, match="not a teleoperator; use make_robot"):
        make_teleoperator("sim-so101")


def test_a_registered_subclass_builder_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    class LabKeyboard(KeyboardConfig):
        pass

    built: list[Any] = []

    def build(config: Any, cameras: Any) -> Teleoperator:
        built.append(config)
        return make_teleoperator({"type": "keyboard"})

    monkeypatch.setattr("hardware.factory.DEVICE_BUILDERS", dict(DEVICE_BUILDERS))
    register_device(LabKeyboard, build)
    assert isinstance(make_device(LabKeyboard(type="keyboard")), Teleoperator) and len(built) == 1

    # a subclass without its own builder uses its parent's
    class Sim2(SimArmConfig):
        pass

    assert isinstance(make_device(Sim2(type="sim-so101")), Robot)


def test_unregistered_config_class_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hardware.factory.DEVICE_BUILDERS", {})
    with pytest.raises(ConfigError, match="no device builder for config KeyboardConfig"):
        make_device("keyboard")
