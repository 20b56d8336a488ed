"""Timing profiles: how long devices may take before a session gives up (hardware layer).

A real servo answers in well under a millisecond and a USB camera delivers a frame every 33 ms, so the
defaults are tight: a 100 ms bus timeout or a 500 ms-old camera frame means a fault worth stopping for.
Simulated devices run in other processes and threads of a machine that may be busy (CI, eight developers
on two cores); there the same budget is wall-clock luck. A :class:`TimingProfile` states the budget
explicitly: ``None`` fields keep each device's own default (real arms stay tight), the named
:data:`PROFILES` give a starved simulator room, and tests pass the one they need.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from robopipe.errors import ConfigError


class TimingProfile(BaseModel):
    """Time budget of a session's devices; ``None`` keeps the device config's own value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bus_timeout_s: float | None = Field(
        default=None, gt=0, description="Reply timeout of one bus transaction."
    )
    bus_retries: int | None = Field(default=None, ge=0, description="Extra attempts after a timeout.")
    camera_max_age_ms: float | None = Field(
        default=None, gt=0, description="Stop when a camera's newest frame is older than this."
    )
    camera_open_timeout_s: float | None = Field(
        default=None, gt=0, description="How long a camera may take to deliver its first frame."
    )

    def device_overrides(self, config: Any) -> Any:
        """``config`` (an arm config) with this profile's bus budget; other devices are returned as they are."""
        update: dict[str, Any] = {}
        fields = type(config).model_fields if isinstance(config, BaseModel) else {}
        if self.bus_timeout_s is not None and "timeout_s" in fields:
            update["timeout_s"] = self.bus_timeout_s
        if self.bus_retries is not None and "num_retries" in fields:
            update["num_retries"] = self.bus_retries
        if "buses" in fields:  # a custom arm: every bus gets the budget
            buses = [bus.model_copy(update=self._bus_update()) for bus in config.buses]
            update["buses"] = buses
        return config.model_copy(update=update) if update else config

    def _bus_update(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.bus_timeout_s is not None:
            out["timeout_s"] = self.bus_timeout_s
        if self.bus_retries is not None:
            out["num_retries"] = self.bus_retries
        return out

    def camera_overrides(self, config: Any) -> Any:
        if self.camera_open_timeout_s is None:
            return config
        return config.model_copy(update={"open_timeout_s": self.camera_open_timeout_s})


PROFILES: dict[str, TimingProfile] = {
    # every device keeps its config's budget (real arms 0.1 s / 2 retries, simulated arms 0.3 s / 3)
    "default": TimingProfile(),
    # a simulator on a loaded machine (load > 4x the cores): seconds, not milliseconds. Never for real arms:
    # a stalled real servo or camera would be noticed seconds late.
    "patient": TimingProfile(
        bus_timeout_s=2.0, bus_retries=5, camera_max_age_ms=10_000, camera_open_timeout_s=60.0
    ),
}


def timing_profile(value: str | TimingProfile | None) -> TimingProfile:
    """A profile by name (``default``, ``patient``), as given, or the default one."""
    if value is None:
        return PROFILES["default"]
    if isinstance(value, TimingProfile):
        return value
    try:
        return PROFILES[value]
    except KeyError:
        raise ConfigError(f"unknown timing profile {value!r}; choose one of {', '.join(PROFILES)}") from None
