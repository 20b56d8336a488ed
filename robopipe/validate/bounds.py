"""Optional value bounds (e.g. joint limits from a robot config) for numeric features (core layer).

File format (YAML or JSON)::

    observation.state: {min: [-3.14, -1.5, ...], max: [3.14, 1.5, ...]}
    action: {min: -1.0, max: 1.0}        # a scalar applies to every dimension
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robopipe.errors import ConfigError


class FeatureBounds(BaseModel):
    """Inclusive limits of one feature; ``None`` means unbounded on that side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: list[float] | float | None = Field(
        default=None, description="lower limit per dimension (or one for all)"
    )
    max: list[float] | float | None = Field(
        default=None, description="upper limit per dimension (or one for all)"
    )

    def arrays(self, dims: int) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) broadcast to ``dims``; raises :class:`ConfigError` on a length mismatch."""
        return _side(self.min, dims, -np.inf, "min"), _side(self.max, dims, np.inf, "max")


def _side(v: list[float] | float | None, dims: int, default: float, name: str) -> np.ndarray:
    if v is None:
        return np.full(dims, default)
    arr = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if arr.size == 1:
        return np.full(dims, float(arr[0]))
    if arr.size != dims:
        raise ConfigError(f"bounds {name}: expected {dims} values (one per dimension), got {arr.size}")
    return arr


def load_bounds(path: str | Path) -> dict[str, FeatureBounds]:
    """Parse a bounds file; raises :class:`ConfigError` naming the file and the bad entry."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read bounds file: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{p}: expected a mapping {{feature: {{min: [...], max: [...]}}}}, got {type(raw).__name__}"
        )
    out: dict[str, FeatureBounds] = {}
    for key, spec in raw.items():
        try:
            out[str(key)] = FeatureBounds.model_validate(spec)
        except ValidationError as exc:
            raise ConfigError(f"{p}: bounds for {key!r} are invalid: {exc}") from exc
    return out
