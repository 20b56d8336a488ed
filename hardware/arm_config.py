"""Config models shared by every device: buses, register writes, the general arm, the keyboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from hardware.base import Motor

SO_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BusConfig(_Frozen):
    """One bus of an arm."""

    protocol: Literal["feetech", "dynamixel", "damiao"] = Field(description="Wire protocol of the bus.")
    port: str = Field(description="Device path, pyserial URL, or 'sim:<n>' for the arm's n-th simulated bus.")
    baudrate: int | None = Field(
        default=None, description="Serial speed; default 1 Mbaud (921600 for DAMIAO)."
    )
    motors: dict[str, Motor] = Field(description="Motors by joint name, in bus order.")
    timeout_s: float = Field(default=0.1, gt=0, description="Reply timeout of one transaction.")
    num_retries: int = Field(default=2, ge=0, description="Extra attempts after a checksum error or timeout.")
    damiao_control: Literal["mit", "pos_vel"] = Field(default="mit", description="DAMIAO command mode.")
    kp: float = Field(default=20.0, description="DAMIAO MIT position gain.")
    kd: float = Field(default=1.0, description="DAMIAO MIT damping gain.")


class RegisterWrite(_Frozen):
    """A register write done while configuring (torque off); YAML key ``register`` or ``data_name``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    data_name: str = Field(
        validation_alias=AliasChoices("register", "data_name"), description="Register name."
    )
    value: int
    motors: list[str] | None = Field(
        default=None, description="Motors to write (None = every motor of the bus)."
    )


class CustomArmConfig(_Frozen):
    """A general arm: the form every named arm expands to, and what a custom YAML arm declares."""

    kind: ClassVar[str] = "arm"
    type: Literal["custom_follower", "custom_leader"] = Field(
        description="Follower (robot) or leader (teleop)."
    )
    name: str = Field(default="custom_arm", description="Calibration folder / dataset robot_type.")
    id: str | None = Field(default=None, description="Device id: calibration file <id>.json.")
    calibration_dir: Path | None = Field(
        default=None, description="Folder of the calibration file (default: LeRobot's)."
    )
    buses: list[BusConfig] = Field(description="The arm's buses.")
    configure: list[RegisterWrite] = Field(default_factory=list, description="Writes done on connect.")
    full_turn_motors: list[str] = Field(
        default_factory=list, description="Joints calibrated to the full turn."
    )
    max_relative_target: float | None = Field(default=None, description="Clip each goal to present ± this.")
    disable_torque_on_disconnect: bool = Field(
        default=True, description="Switch torque off when disconnecting."
    )
    cameras: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Camera configs by name.")
    simulator: list[str | dict[str, Any]] | None = Field(
        default=None, description="Simulator presets to start on ptys at connect (ports 'sim:<n>')."
    )
    default_calibration: dict[str, dict[str, int]] | None = Field(
        default=None, description="Calibration to use when no file exists (simulated arms)."
    )

    @property
    def is_leader(self) -> bool:
        return self.type == "custom_leader"

    def to_arm(self) -> CustomArmConfig:
        return self


class KeyboardConfig(_Frozen):
    """Keyboard teleoperator: keys nudge action values (e.g. joint targets) by a step per read."""

    kind: ClassVar[str] = "teleoperator"
    type: Literal["keyboard"]
    bindings: dict[str, tuple[str, float]] = Field(
        default_factory=dict, description="key -> (action key, step added per get_action while pressed)."
    )
    initial: dict[str, float] = Field(default_factory=dict, description="Starting action values.")
    hold_s: float = Field(
        default=0.15, ge=0, description="A key counts as pressed this long after its last event."
    )
