"""Build robots and teleoperators from configs, YAML files or names (``so101_follower``, ``sim-so101`` …).

robot = make_robot("sim-so101")               # starts a simulated SO-101 follower on a pty at connect
teleop = make_teleoperator("sim-so101-leader")
with robot, teleop:
    robot.send_action(teleop.get_action())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from hardware.base import Camera, Robot, Teleoperator
from hardware.config import DeviceConfig, KeyboardConfig, load_device_config
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


Builder = Callable[[Any, "dict[str, Camera] | None"], "Robot | Teleoperator"]


def _arm(config: Any, cameras: dict[str, Camera] | None) -> Robot | Teleoperator:
    """Every arm config (named, custom, simulated) expands into a CustomArmConfig: leader or follower."""
    from hardware.robots.arm import ArmLeader, ArmRobot

    arm = config.to_arm()
    return ArmLeader(arm) if arm.is_leader else ArmRobot(arm, _cameras(arm, cameras))


def _keyboard(config: Any, cameras: dict[str, Camera] | None) -> Robot | Teleoperator:
    from hardware.robots.keyboard import KeyboardTeleop

    return KeyboardTeleop(config)


#: Device builders by config class (looked up along the class's MRO). Add a device family with
#: :func:`register_device`; the typed config (``type:``) picks the class, the class picks the builder.
DEVICE_BUILDERS: dict[type, Builder] = {
    **{cls: _arm for cls in get_args(get_args(DeviceConfig)[0]) if cls is not KeyboardConfig},
    KeyboardConfig: _keyboard,
}


def register_device(config_class: type, builder: Builder) -> None:
    """Register how to build a device from ``config_class`` configs: ``builder(config, cameras)``."""
    DEVICE_BUILDERS[config_class] = builder


def _build(config: Any, cameras: dict[str, Camera] | None = None) -> Robot | Teleoperator:
    for cls in type(config).__mro__:
        if cls in DEVICE_BUILDERS:
            return DEVICE_BUILDERS[cls](config, cameras)
    raise ConfigError(
        f"no device builder for config {type(config).__name__}; register one with register_device"
    )


def make_robot(source: Any, cameras: dict[str, Camera] | None = None, **overrides: Any) -> Robot:
    """A follower robot from a config object, dict, YAML path or bundled name."""
    config = _config(source, overrides)
    device = _build(config, cameras)
    if not isinstance(device, Robot):
        raise ConfigError(f"{config.type!r} is a teleoperator (leader), not a robot; use make_teleoperator")
    return device


def make_teleoperator(source: Any, **overrides: Any) -> Teleoperator:
    """A teleoperator (leader arm or keyboard) from a config object, dict, YAML path or bundled name."""
    config = _config(source, overrides)
    device = _build(config)
    if not isinstance(device, Teleoperator):
        raise ConfigError(f"{config.type!r} is a follower robot, not a teleoperator; use make_robot")
    return device


def make_device(source: Any, **overrides: Any) -> Robot | Teleoperator:
    """A robot or a teleoperator, whichever the config describes."""
    return _build(_config(source, overrides))
