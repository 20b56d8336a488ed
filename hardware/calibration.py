"""Motor calibration records and LeRobot-compatible normalisation (hardware layer).

Calibration files use LeRobot's JSON layout ``{motor: {id, drive_mode, homing_offset, range_min, range_max}}``
(indent 4) so files written by ``lerobot-calibrate`` and ``robopipe calibrate`` are interchangeable. The
normalisation maths copies ``SerialMotorsBus._normalize`` / ``_unnormalize`` of LeRobot 0.4.4 exactly
(reference hardware.md §1.7), including the unclamped DEGREES mode and ``int()`` truncation on write.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robopipe.errors import ConfigError
from robopipe.format.atomic import atomic_write_text
from robopipe.format.home import lerobot_home


class MotorNormMode(StrEnum):
    """How raw encoder counts map to user values (same names as LeRobot)."""

    RANGE_0_100 = "range_0_100"
    RANGE_M100_100 = "range_m100_100"
    DEGREES = "degrees"


class MotorCalibration(BaseModel):
    """Calibration of one motor, as stored in LeRobot calibration files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(description="Bus id of the motor.")
    drive_mode: int = Field(
        default=0, description="1 inverts the direction (applied in software on Feetech)."
    )
    homing_offset: int = Field(description="Signed homing offset written to the Homing_Offset register.")
    range_min: int = Field(description="Lowest raw position seen during calibration.")
    range_max: int = Field(description="Highest raw position seen during calibration.")


Calibration = dict[str, MotorCalibration]


def normalize(
    raw: int, cal: MotorCalibration, mode: MotorNormMode, resolution: int, apply_drive_mode: bool
) -> float:
    """Raw counts -> user value, exactly as LeRobot 0.4.4 ``_normalize``."""
    min_, max_ = cal.range_min, cal.range_max
    if max_ == min_:
        raise ConfigError(
            f"invalid calibration for motor id {cal.id}: range_min == range_max == {min_}; recalibrate the arm"
        )
    drive = apply_drive_mode and bool(cal.drive_mode)
    bounded = min(max_, max(min_, raw))
    if mode is MotorNormMode.RANGE_M100_100:
        norm = ((bounded - min_) / (max_ - min_)) * 200 - 100
        return -norm if drive else norm
    if mode is MotorNormMode.RANGE_0_100:
        norm = ((bounded - min_) / (max_ - min_)) * 100
        return 100 - norm if drive else norm
    mid = (min_ + max_) / 2
    return (raw - mid) * 360 / (resolution - 1)


def unnormalize(
    value: float, cal: MotorCalibration, mode: MotorNormMode, resolution: int, apply_drive_mode: bool
) -> int:
    """User value -> raw counts, exactly as LeRobot 0.4.4 ``_unnormalize``."""
    min_, max_ = cal.range_min, cal.range_max
    if max_ == min_:
        raise ConfigError(
            f"invalid calibration for motor id {cal.id}: range_min == range_max == {min_}; recalibrate the arm"
        )
    drive = apply_drive_mode and bool(cal.drive_mode)
    if mode is MotorNormMode.RANGE_M100_100:
        value = -value if drive else value
        bounded = min(100.0, max(-100.0, value))
        return int(((bounded + 100) / 200) * (max_ - min_) + min_)
    if mode is MotorNormMode.RANGE_0_100:
        value = 100 - value if drive else value
        bounded = min(100.0, max(0.0, value))
        return int((bounded / 100) * (max_ - min_) + min_)
    mid = (min_ + max_) / 2
    return int((value * (resolution - 1) / 360) + mid)


def default_calibration_root() -> Path:
    """``$HF_LEROBOT_CALIBRATION`` or ``$HF_LEROBOT_HOME/calibration`` (LeRobot's defaults)."""
    if env := os.environ.get("HF_LEROBOT_CALIBRATION"):
        return Path(env).expanduser()
    return lerobot_home() / "calibration"


def calibration_path(
    kind: str, name: str, device_id: str | None, calibration_dir: Path | None = None
) -> Path:
    """Where LeRobot keeps the file: ``<root>/<robots|teleoperators>/<name>/<id>.json``."""
    folder = calibration_dir if calibration_dir is not None else default_calibration_root() / kind / name
    return Path(folder) / f"{device_id}.json"


def load_calibration(path: Path) -> Calibration:
    """Read a LeRobot calibration JSON file."""
    try:
        raw = json.loads(Path(path).read_text())
        return {motor: MotorCalibration.model_validate(entry) for motor, entry in raw.items()}
    except (OSError, json.JSONDecodeError, ValidationError, AttributeError) as exc:
        raise ConfigError(
            f"cannot read calibration file {path}: {exc}; expected LeRobot's JSON "
            "{motor: {id, drive_mode, homing_offset, range_min, range_max}}; rerun `robopipe calibrate`"
        ) from exc


def save_calibration(calibration: Calibration, path: Path) -> None:
    """Write a calibration atomically, in LeRobot's layout (indent 4, motor order kept)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {motor: cal.model_dump() for motor, cal in calibration.items()}
    atomic_write_text(path, json.dumps(data, indent=4) + "\n")
