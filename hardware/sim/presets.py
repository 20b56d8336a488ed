"""Named simulated devices (``so101-follower``, ``so101-leader``, ``koch-follower``, ``openk-follower-dm`` …).

Calibrated presets start with homing offsets and limits already in the servos' registers, and
:func:`preset_calibration` returns the matching LeRobot calibration, so a robot can connect without an
interactive calibration. ``calibrated=False`` gives factory servos (offset 0, limits 0..4095).
"""

from __future__ import annotations

from typing import Any

from hardware.bus.dynamixel import DynamixelCodec
from hardware.bus.feetech import FeetechCodec
from hardware.calibration import Calibration, MotorCalibration
from hardware.sim.damiao_bridge import DamiaoBridgeSim, SimDamiaoMotor
from hardware.sim.operator import SineOperator
from hardware.sim.servo_bus import ServoBusSim, SimServo

SO_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
SO_RANGES = [(700, 3300), (800, 3200), (850, 3100), (830, 3150), (0, 4095), (2000, 3300)]
FOLLOWER_HOMING = [-709, 312, -150, 88, 0, 1024]
LEADER_HOMING = [-600, 250, -200, 60, 30, 900]
KOCH_MODELS_FOLLOWER = ["xl430-w250", "xl430-w250", "xl330-m288", "xl330-m288", "xl330-m288", "xl330-m288"]
OPENK_DM_JOINTS = [
    ("shoulder_pan", 0x01, "DM6006"),
    ("shoulder_lift", 0x02, "DM6006"),
    ("shoulder_roll", 0x03, "DM4310"),
    ("elbow_flex", 0x04, "DM4310"),
    ("wrist_roll", 0x05, "DM4310"),
]
OPENK_STS_FOLLOWER = [("grip", 1), ("wrist_flex", 2)]
OPENK_LEADER_JOINTS = [
    "shoulder_pan",
    "shoulder_lift",
    "shoulder_roll",
    "elbow_flex",
    "wrist_roll",
    "wrist_flex",
    "grip",
]
GENERIC_RANGE = (1000, 3000)

PRESETS = (
    "so101-follower",
    "so101-leader",
    "so100-follower",
    "so100-leader",
    "koch-follower",
    "koch-leader",
    "openk-follower-dm",
    "openk-follower-sts",
    "openk-leader",
)


def _layout(preset: str) -> tuple[list[str], list[tuple[int, int]], list[int], str, list[str]]:
    """(joints, ranges, homing offsets, codec name, models) of a servo preset."""
    leader = preset.endswith("leader")
    if preset.startswith(("so100", "so101")):
        return SO_JOINTS, SO_RANGES, LEADER_HOMING if leader else FOLLOWER_HOMING, "feetech", ["sts3215"] * 6
    if preset.startswith("koch"):
        models = ["xl330-m077"] * 6 if leader else KOCH_MODELS_FOLLOWER
        homing = [-h for h in (LEADER_HOMING if leader else FOLLOWER_HOMING)]
        return SO_JOINTS, [GENERIC_RANGE] * 6, homing, "dynamixel", models
    if preset == "openk-follower-sts":
        return (
            [n for n, _ in OPENK_STS_FOLLOWER],
            [GENERIC_RANGE] * 2,
            [100, -100],
            "feetech",
            ["sts3215"] * 2,
        )
    if preset == "openk-leader":
        n = len(OPENK_LEADER_JOINTS)
        return (
            OPENK_LEADER_JOINTS,
            [GENERIC_RANGE] * n,
            [50 * i - 150 for i in range(n)],
            "feetech",
            ["sts3215"] * n,
        )
    raise KeyError(f"unknown simulator preset {preset!r}; known: {', '.join(PRESETS)}")


def preset_calibration(preset: str) -> Calibration:
    """The LeRobot calibration matching a calibrated preset's registers."""
    joints, ranges, homing, _, _ = _layout(preset)
    return {
        name: MotorCalibration(id=i + 1, drive_mode=0, homing_offset=h, range_min=lo, range_max=hi)
        for i, (name, (lo, hi), h) in enumerate(zip(joints, ranges, homing))
    }


def build(
    preset: str,
    *,
    calibrated: bool = True,
    motion_s: float | None = None,
    period_s: float = 4.0,
    max_speed: float = 3000.0,
    **_: Any,
) -> ServoBusSim | DamiaoBridgeSim:
    """Build the simulator core of a preset.

    Args:
        preset: one of :data:`PRESETS`.
        calibrated: start with the preset calibration in the registers.
        motion_s: leaders' scripted operator moves for this many seconds then holds (None = forever).
        period_s: period of the operator's sine motion.
        max_speed: follower joint speed limit in counts per second.
    """
    leader = preset.endswith("leader")
    if preset == "openk-follower-dm":
        motors = [SimDamiaoMotor(sid, 0x10 + sid, mtype) for _, sid, mtype in OPENK_DM_JOINTS]
        return DamiaoBridgeSim(motors)
    _joints, ranges, homing, codec_name, models = _layout(preset)
    codec = FeetechCodec() if codec_name == "feetech" else DynamixelCodec()
    servos = []
    centers = [(lo + hi) / 2 for lo, hi in ranges]
    for i, (model, h) in enumerate(zip(models, homing)):
        servo = SimServo(id=i + 1, model=model, codec=codec, max_speed=max_speed)
        if calibrated:
            servo.set("Homing_Offset", h)
            servo.set("Min_Position_Limit", ranges[i][0])
            servo.set("Max_Position_Limit", ranges[i][1])
        servo.actual = servo.actual_from_present(centers[i])
        servo.refresh()
        servos.append(servo)
    operator = None
    if leader:
        amplitudes = [0.3 * (hi - lo) / 2 for lo, hi in ranges]
        shaft_centers = [s.actual for s in servos]  # the mid-range pose, in shaft counts
        operator = SineOperator(
            centers=shaft_centers, amplitudes=amplitudes, period_s=period_s, motion_s=motion_s
        )
    return ServoBusSim(codec, servos, operator)
