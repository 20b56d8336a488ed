"""Typed robot/teleoperator configurations, selected by name (``type``) and loadable from YAML.

Every named arm (``so101_follower``, ``koch_leader``, ``openk-1-alpha_follower`` …) expands into the general
:class:`CustomArmConfig` (buses, motors, configuration writes), which is also what a custom YAML arm
declares directly. ``load_device_config("so101_follower", port="/dev/ttyACM0")`` reads
``hardware/configs/so101_follower.yaml``; a path or a dict works too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from hardware.arm_config import SO_JOINTS, BusConfig, CustomArmConfig, KeyboardConfig, RegisterWrite
from hardware.named_arms import (
    SIM_PRESETS,
    KochFollowerConfig,
    KochLeaderConfig,
    OpenKFollowerConfig,
    OpenKLeaderConfig,
    SimArmConfig,
    SOFollowerConfig,
    SOLeaderConfig,
)
from robopipe.errors import ConfigError

CONFIG_DIR = Path(__file__).parent / "configs"
__all__ = [
    "CONFIG_DIR",
    "DEVICE_TYPES",
    "SIM_PRESETS",
    "SO_JOINTS",
    "BusConfig",
    "CustomArmConfig",
    "DeviceConfig",
    "KeyboardConfig",
    "KochFollowerConfig",
    "KochLeaderConfig",
    "OpenKFollowerConfig",
    "OpenKLeaderConfig",
    "RegisterWrite",
    "SOFollowerConfig",
    "SOLeaderConfig",
    "SimArmConfig",
    "load_device_config",
]

DeviceConfig = Annotated[
    SOFollowerConfig
    | SOLeaderConfig
    | KochFollowerConfig
    | KochLeaderConfig
    | OpenKFollowerConfig
    | OpenKLeaderConfig
    | CustomArmConfig
    | SimArmConfig
    | KeyboardConfig,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(DeviceConfig)
DEVICE_TYPES = sorted(
    {
        *("so100_follower", "so101_follower", "so100_leader", "so101_leader", "koch_follower", "koch_leader"),
        *("openk-1-alpha_follower", "openk_leader", "openk-1-sts_leader", "custom_follower", "custom_leader"),
        *SIM_PRESETS,
        "keyboard",
    }
)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read device config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"device config {path} must be a mapping, got {type(data).__name__}")
    return data


def load_device_config(source: str | Path | dict[str, Any], **overrides: Any) -> Any:
    """Build a device config from a dict, a YAML path, a bundled config name, or a bare type name.

    Lookup order for a string: an existing file (or a ``.yaml``/``.yml`` path), ``hardware/configs/<name>.yaml``,
    then a device type (``sim-so101`` -> ``{"type": "sim-so101"}``). ``overrides`` replace top-level fields
    (``None`` values are ignored, e.g. ``port=None``). Raises :class:`ConfigError` naming the source.
    """
    if isinstance(source, dict):
        data, where = dict(source), "<dict>"
    else:
        text, path = str(source), Path(source)
        bundled = CONFIG_DIR / f"{text}.yaml"
        if path.is_file() or path.suffix in (".yaml", ".yml"):
            data, where = _read_yaml(path), str(path)
        elif bundled.is_file():
            data, where = _read_yaml(bundled), str(bundled)
        elif text in DEVICE_TYPES:
            data, where = {"type": text}, text
        else:
            raise ConfigError(
                f"unknown device {text!r}: not a file, not a bundled config in {CONFIG_DIR}, not a type "
                f"({', '.join(DEVICE_TYPES)})"
            )
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid device config {where}: {exc}") from exc
