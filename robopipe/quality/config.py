"""Quality thresholds: packaged defaults (``defaults.yaml``) overridable by a user YAML (core layer)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robopipe.errors import ConfigError

_MAX_CONFIG_BYTES = 1 << 20


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Idle(_Section):
    speed_fraction: float = Field(gt=0)
    min_seconds: float = Field(gt=0)
    warn_fraction: float = Field(gt=0, le=1)


class Camera(_Section):
    black_luma: float = Field(ge=0, le=255)
    overexposed_luma: float = Field(ge=0, le=255)
    min_frames: int = Field(ge=1)
    frozen_motion: float = Field(ge=0)
    frozen_min_seconds: float = Field(gt=0)
    duplicate_warn_fraction: float = Field(ge=0, le=1)
    subsample: int = Field(ge=1, le=64)


class Gripper(_Section):
    name_contains: str
    min_range_fraction: float = Field(ge=0)


class Saturation(_Section):
    edge_fraction: float = Field(ge=0, lt=0.5)
    min_seconds: float = Field(gt=0)


class Spikes(_Section):
    mad_k: float = Field(gt=0)
    min_fraction: float = Field(ge=0)


class Lag(_Section):
    max_seconds: float = Field(gt=0, le=10)
    warn_seconds: float = Field(gt=0)
    min_correlation: float = Field(ge=-1, le=1)


class Timing(_Section):
    gap_factor: float = Field(gt=1)
    late_warn_fraction: float = Field(ge=0)


class Length(_Section):
    mad_k: float = Field(gt=0)
    min_seconds: float = Field(ge=0)


class Duplicates(_Section):
    max_distance: float = Field(ge=0)
    points: int = Field(ge=4, le=1024)


class ZScore(_Section):
    mad_k: float = Field(gt=0)


class Score(_Section):
    error: float = Field(ge=0, le=1)
    warning: float = Field(ge=0, le=1)
    info: float = Field(ge=0, le=1)


class QualityConfig(_Section):
    """Every threshold of the quality signals (see ``robopipe/quality/defaults.yaml`` for meanings)."""

    idle: Idle
    camera: Camera
    gripper: Gripper
    saturation: Saturation
    spikes: Spikes
    lag: Lag
    timing: Timing
    length: Length
    duplicates: Duplicates
    zscore: ZScore
    score: Score


def _defaults() -> dict[str, Any]:
    text = resources.files("robopipe.quality").joinpath("defaults.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError("robopipe/quality/defaults.yaml: expected a mapping (broken installation)")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown key {key!r} (expected one of {sorted(base)})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a mapping, got {type(value).__name__}")
            out[key] = _merge(base[key], value, f"{where}:{key}")
        else:
            out[key] = value
    return out


def load_config(path: Path | str | None = None) -> QualityConfig:
    """Packaged defaults, with the keys of ``path`` (a YAML mapping) replacing theirs."""
    data = _defaults()
    if path is not None:
        p = Path(path)
        try:
            if p.stat().st_size > _MAX_CONFIG_BYTES:
                raise ConfigError(f"{p}: quality config larger than 1 MiB")
            user = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{p}: cannot read quality config ({exc})") from exc
        if user is not None:
            if not isinstance(user, dict):
                raise ConfigError(f"{p}: expected a YAML mapping of sections, got {type(user).__name__}")
            data = _merge(data, user, str(p))
    try:
        return QualityConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path or 'defaults.yaml'}: {loc}: {first['msg']}") from exc
