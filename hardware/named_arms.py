"""Named arms (SO-100/101, Koch, OpenK) and simulated arms; each expands to a :class:`CustomArmConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from hardware.arm_config import SO_JOINTS, BusConfig, CustomArmConfig, RegisterWrite, _Frozen
from hardware.base import Motor
from hardware.calibration import MotorNormMode


class _NamedArm(_Frozen):
    """Fields shared by the named arms; subclasses expand themselves with :meth:`to_arm`."""

    id: str | None = Field(default=None, description="Device id: calibration file <id>.json.")
    calibration_dir: Path | None = Field(
        default=None, description="Folder of the calibration file (default: LeRobot's)."
    )
    num_retries: int = Field(default=2, ge=0, description="Extra attempts after a checksum error or timeout.")
    timeout_s: float = Field(default=0.1, gt=0, description="Reply timeout of one bus transaction.")

    def to_arm(self) -> CustomArmConfig:
        raise NotImplementedError


def _so_bus(port: str, use_degrees: bool, num_retries: int, timeout_s: float) -> BusConfig:
    body = MotorNormMode.DEGREES if use_degrees else MotorNormMode.RANGE_M100_100
    motors = {
        name: Motor(
            id=i + 1, model="sts3215", norm_mode=MotorNormMode.RANGE_0_100 if name == "gripper" else body
        )
        for i, name in enumerate(SO_JOINTS)
    }
    return BusConfig(
        protocol="feetech", port=port, motors=motors, num_retries=num_retries, timeout_s=timeout_s
    )


SO_FOLLOWER_WRITES = [
    RegisterWrite(data_name="Operating_Mode", value=0),
    RegisterWrite(data_name="P_Coefficient", value=16),
    RegisterWrite(data_name="I_Coefficient", value=0),
    RegisterWrite(data_name="D_Coefficient", value=32),
    RegisterWrite(data_name="Max_Torque_Limit", value=500, motors=["gripper"]),
    RegisterWrite(data_name="Protection_Current", value=250, motors=["gripper"]),
    RegisterWrite(data_name="Overload_Torque", value=25, motors=["gripper"]),
]


class SOFollowerConfig(_NamedArm):
    """SO-100/SO-101 follower: six STS3215 (ids 1–6) on one Feetech bus (LeRobot's ``so_follower``)."""

    kind: ClassVar[str] = "robot"
    type: Literal["so100_follower", "so101_follower"]
    port: str = Field(description="Serial port of the follower's driver board.")
    use_degrees: bool = Field(default=True, description="Body joints in degrees (else range_m100_100).")
    max_relative_target: float | None = Field(default=None, description="Clip each goal to present ± this.")
    disable_torque_on_disconnect: bool = True
    cameras: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Camera configs by name.")

    def to_arm(self) -> CustomArmConfig:
        return CustomArmConfig(
            type="custom_follower",
            name="so_follower",
            id=self.id,
            calibration_dir=self.calibration_dir,
            buses=[_so_bus(self.port, self.use_degrees, self.num_retries, self.timeout_s)],
            configure=SO_FOLLOWER_WRITES,
            full_turn_motors=["wrist_roll"],
            max_relative_target=self.max_relative_target,
            disable_torque_on_disconnect=self.disable_torque_on_disconnect,
            cameras=self.cameras,
        )


class SOLeaderConfig(_NamedArm):
    """SO-100/SO-101 leader: six STS3215, torque off so a human moves it (LeRobot's ``so_leader``)."""

    kind: ClassVar[str] = "teleoperator"
    type: Literal["so100_leader", "so101_leader"]
    port: str = Field(description="Serial port of the leader's driver board.")
    use_degrees: bool = Field(default=True, description="Body joints in degrees (else range_m100_100).")

    def to_arm(self) -> CustomArmConfig:
        return CustomArmConfig(
            type="custom_leader",
            name="so_leader",
            id=self.id,
            calibration_dir=self.calibration_dir,
            buses=[_so_bus(self.port, self.use_degrees, self.num_retries, self.timeout_s)],
            configure=[RegisterWrite(data_name="Operating_Mode", value=0)],
            full_turn_motors=["wrist_roll"],
        )


def _koch_bus(
    port: str, models: list[str], use_degrees: bool, num_retries: int, timeout_s: float
) -> BusConfig:
    body = MotorNormMode.DEGREES if use_degrees else MotorNormMode.RANGE_M100_100
    motors = {
        name: Motor(id=i + 1, model=model, norm_mode=MotorNormMode.RANGE_0_100 if name == "gripper" else body)
        for i, (name, model) in enumerate(zip(SO_JOINTS, models))
    }
    return BusConfig(
        protocol="dynamixel", port=port, motors=motors, num_retries=num_retries, timeout_s=timeout_s
    )


KOCH_BODY = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]


class KochFollowerConfig(_NamedArm):
    """Koch follower: xl430-w250 ×2 + xl330-m288 ×4 on a Dynamixel bus (extended-position body)."""

    kind: ClassVar[str] = "robot"
    type: Literal["koch_follower"]
    port: str
    use_degrees: bool = False
    max_relative_target: float | None = None
    cameras: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def to_arm(self) -> CustomArmConfig:
        models = ["xl430-w250"] * 2 + ["xl330-m288"] * 4
        return CustomArmConfig(
            type="custom_follower",
            name="koch_follower",
            id=self.id,
            calibration_dir=self.calibration_dir,
            buses=[_koch_bus(self.port, models, self.use_degrees, self.num_retries, self.timeout_s)],
            configure=[
                RegisterWrite(data_name="Operating_Mode", value=4, motors=KOCH_BODY),
                RegisterWrite(data_name="Operating_Mode", value=5, motors=["gripper"]),
                RegisterWrite(data_name="Position_P_Gain", value=1500, motors=["elbow_flex"]),
                RegisterWrite(data_name="Position_I_Gain", value=0, motors=["elbow_flex"]),
                RegisterWrite(data_name="Position_D_Gain", value=600, motors=["elbow_flex"]),
            ],
            full_turn_motors=["wrist_roll"],
            max_relative_target=self.max_relative_target,
            cameras=self.cameras,
        )


class KochLeaderConfig(_NamedArm):
    """Koch leader: six xl330-m077, torque off, extended-position body."""

    kind: ClassVar[str] = "teleoperator"
    type: Literal["koch_leader"]
    port: str
    use_degrees: bool = False

    def to_arm(self) -> CustomArmConfig:
        return CustomArmConfig(
            type="custom_leader",
            name="koch_leader",
            id=self.id,
            calibration_dir=self.calibration_dir,
            buses=[
                _koch_bus(self.port, ["xl330-m077"] * 6, self.use_degrees, self.num_retries, self.timeout_s)
            ],
            configure=[RegisterWrite(data_name="Operating_Mode", value=4, motors=KOCH_BODY)],
            full_turn_motors=["wrist_roll"],
        )


OPENK_DM = [("shoulder_pan", 1, "DM6006"), ("shoulder_lift", 2, "DM6006")] + [
    (n, i, "DM4310") for n, i in (("shoulder_roll", 3), ("elbow_flex", 4), ("wrist_roll", 5))
]
OPENK_LEADER = [
    "shoulder_pan",
    "shoulder_lift",
    "shoulder_roll",
    "elbow_flex",
    "wrist_roll",
    "wrist_flex",
    "grip",
]


class OpenKFollowerConfig(_NamedArm):
    """OpenK-1-alpha follower: five DAMIAO joints on a USB-to-CAN bridge + STS3215 grip/wrist_flex."""

    kind: ClassVar[str] = "robot"
    type: Literal["openk-1-alpha_follower"]
    port: str = Field(description="DAMIAO USB-to-CAN bridge (921600 baud).")
    sts_port: str = Field(description="Feetech bus of the wrist_flex and grip servos.")
    control_type: Literal["mit", "pos_vel"] = Field(default="pos_vel", description="DAMIAO command mode.")
    cameras: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def to_arm(self) -> CustomArmConfig:
        dm = {n: Motor(id=i, model=m, norm_mode=MotorNormMode.DEGREES) for n, i, m in OPENK_DM}
        sts = {
            "grip": Motor(id=1, model="sts3215", norm_mode=MotorNormMode.RANGE_0_100),
            "wrist_flex": Motor(id=2, model="sts3215", norm_mode=MotorNormMode.DEGREES),
        }
        return CustomArmConfig(
            type="custom_follower",
            name="openk-1-alpha_follower",
            id=self.id,
            calibration_dir=self.calibration_dir,
            buses=[
                BusConfig(
                    protocol="damiao",
                    port=self.port,
                    motors=dm,
                    damiao_control=self.control_type,
                    timeout_s=self.timeout_s,
                    num_retries=self.num_retries,
                ),
                BusConfig(
                    protocol="feetech",
                    port=self.sts_port,
                    motors=sts,
                    num_retries=self.num_retries,
                    timeout_s=self.timeout_s,
                ),
            ],
            configure=[RegisterWrite(data_name="Operating_Mode", value=0, motors=["grip", "wrist_flex"])],
            cameras=self.cameras,
        )


class OpenKLeaderConfig(_NamedArm):
    """OpenK leader: seven STS3215 (ids 1–7) on one Feetech bus (``openk-1-sts_leader`` upstream)."""

    kind: ClassVar[str] = "teleoperator"
    type: Literal["openk_leader", "openk-1-sts_leader"]
    port: str

    def to_arm(self) -> CustomArmConfig:
        motors = {
            n: Motor(
                id=i + 1,
                model="sts3215",
                norm_mode=MotorNormMode.RANGE_0_100 if n == "grip" else MotorNormMode.DEGREES,
            )
            for i, n in enumerate(OPENK_LEADER)
        }
        return CustomArmConfig(
            type="custom_leader",
            name="openk_leader",
            id=self.id,
            calibration_dir=self.calibration_dir,
            buses=[
                BusConfig(
                    protocol="feetech",
                    port=self.port,
                    motors=motors,
                    num_retries=self.num_retries,
                    timeout_s=self.timeout_s,
                )
            ],
            configure=[RegisterWrite(data_name="Operating_Mode", value=0)],
        )


SIM_PRESETS: dict[str, tuple[str, type[_NamedArm], str]] = {
    "sim-so101": ("so101-follower", SOFollowerConfig, "so101_follower"),
    "sim-so101-leader": ("so101-leader", SOLeaderConfig, "so101_leader"),
    "sim-so100": ("so100-follower", SOFollowerConfig, "so100_follower"),
    "sim-so100-leader": ("so100-leader", SOLeaderConfig, "so100_leader"),
    "sim-koch": ("koch-follower", KochFollowerConfig, "koch_follower"),
    "sim-koch-leader": ("koch-leader", KochLeaderConfig, "koch_leader"),
}


class SimArmConfig(_Frozen):
    """A simulated arm started on a pty (in its own process) at connect and stopped at disconnect."""

    type: Literal[
        "sim-so101", "sim-so101-leader", "sim-so100", "sim-so100-leader", "sim-koch", "sim-koch-leader"
    ]
    id: str = Field(default="sim", description="Device id (calibration file name if calibration_dir is set).")
    calibration_dir: Path | None = Field(
        default=None, description="Use calibration files from here (default: preset)."
    )
    use_degrees: bool = Field(default=True, description="Body joints in degrees.")
    motion_s: float | None = Field(
        default=None, description="Leader: the scripted operator moves this long, then holds."
    )
    period_s: float = Field(default=4.0, gt=0, description="Leader: period of the operator's sine motion.")
    max_speed: float = Field(default=3000.0, gt=0, description="Follower joint speed limit (counts/s).")
    calibrated: bool = Field(default=True, description="Start with the preset calibration in the servos.")
    num_retries: int = Field(default=3, ge=0, description="Extra attempts after a checksum error or timeout.")
    # The simulator is a separate process that a busy machine can starve for a few hundred ms; a real
    # servo answers in < 1 ms, so real arms keep 0.1 s while simulated ones wait longer.
    timeout_s: float = Field(default=0.3, gt=0, description="Reply timeout of one bus transaction.")
    cameras: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Camera configs by name.")

    @property
    def kind(self) -> str:
        return "teleoperator" if self.type.endswith("leader") else "robot"

    def to_arm(self) -> CustomArmConfig:
        from hardware.sim.presets import preset_calibration

        preset, named, type_name = SIM_PRESETS[self.type]
        fields: dict[str, Any] = {
            "type": type_name,
            "port": "sim:0",
            "id": self.id,
            "use_degrees": self.use_degrees,
            # the simulator's own budget (it was dropped here, so simulated arms ran with real-arm timeouts)
            "num_retries": self.num_retries,
            "timeout_s": self.timeout_s,
        }
        if self.calibration_dir is not None:
            fields["calibration_dir"] = self.calibration_dir
        if named is SOFollowerConfig or named is KochFollowerConfig:
            fields["cameras"] = self.cameras
        base = named.model_validate(fields).to_arm()
        spec = {
            "preset": preset,
            "motion_s": self.motion_s,
            "period_s": self.period_s,
            "max_speed": self.max_speed,
            "calibrated": self.calibrated,
        }
        default = None
        if self.calibrated and self.calibration_dir is None:
            default = {k: v.model_dump() for k, v in preset_calibration(preset).items()}
        return base.model_copy(update={"simulator": [spec], "default_calibration": default})
