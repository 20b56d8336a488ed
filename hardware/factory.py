"""Build robots and teleoperators from configs, YAML files or names (``so101_follower``, ``sim-so101`` …).

robot = make_robot("sim-so101")               # starts a simulated SO-101 follower on a pty at connect
teleop = make_teleoperator("sim-so101-leader")
with robot, teleop:
    robot.send_action(teleop.get_action())
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hardware.base import Camera, Robot, Teleoperator
from hardware.config import KeyboardConfig, load_device_config
from robopipe.errors import ConfigError


def device_config(source: Any, **overrides: Any) -> Any:
    """The typed config of a device source (YAML path, bundled name, type name, dict or config object)."""
    return _config(source, overrides)


def _config(source: Any, overrides: dict[str, Any]) -> Any:
    if isinstance(source, (str, Path, dict)):
        return load_device_config(source, **overrides)
    if overrides:
        return source.model_copy(update=overrides)
    return source


def _cameras(config: Any, cameras: dict[str, Camera] | None) -> dict[str, Camera]:
    if cameras is not None:
        return cameras
    specs = getattr(config, "cameras", None) or {}
    if not specs:
        return {}
    try:
        from hardware.cameras import make_camera
    except ImportError as exc:
        raise ConfigError(
            f"camera configs given ({list(specs)}) but hardware.cameras is not available"
        ) from exc
    # make_camera also understands LeRobot's camera keys (type: opencv, index_or_path, ...)
    return {name: make_camera(spec, name=name) for name, spec in specs.items()}


def make_robot(source: Any, cameras: dict[str, Camera] | None = None, **overrides: Any) -> Robot:
    """A follower robot from a config object, dict, YAML path or bundled name."""
    from hardware.robots.arm import ArmRobot

    config = _config(source, overrides)
    if isinstance(config, KeyboardConfig):
        raise ConfigError("'keyboard' is a teleoperator, not a robot; use make_teleoperator")
    arm = config.to_arm()
    if arm.is_leader:
        raise ConfigError(f"{config.type!r} is a leader (teleoperator), not a robot; use make_teleoperator")
    return ArmRobot(arm, _cameras(arm, cameras))


def make_teleoperator(source: Any, **overrides: Any) -> Teleoperator:
    """A teleoperator (leader arm or keyboard) from a config object, dict, YAML path or bundled name."""
    from hardware.robots.arm import ArmLeader
    from hardware.robots.keyboard import KeyboardTeleop

    config = _config(source, overrides)
    if isinstance(config, KeyboardConfig):
        return KeyboardTeleop(config)
    arm = config.to_arm()
    if not arm.is_leader:
        raise ConfigError(f"{config.type!r} is a follower robot, not a teleoperator; use make_robot")
    return ArmLeader(arm)


def make_device(source: Any, **overrides: Any) -> Robot | Teleoperator:
    """A robot or a teleoperator, whichever the config describes."""
    config = _config(source, overrides)
    if isinstance(config, KeyboardConfig) or config.to_arm().is_leader:
        return make_teleoperator(config)
    return make_robot(config)
