"""Request models of the hardware commands (shared by the CLI and any flow that wraps them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class FindPortRequest(BaseModel):
    """Find the serial port of a motor bus adapter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wait_unplug: bool = Field(
        False, description="Ask to unplug the adapter and report the port that vanished."
    )
    all_tty: bool = Field(
        default=False, description="Also list every /dev/tty* entry (like lerobot-find-port)."
    )


class CalibrateRequest(BaseModel):
    """Calibrate an arm interactively and write a LeRobot-format calibration file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    robot_path: str = Field(description="Device config: YAML path, bundled name (so101_follower) or type.")
    answers: Path | None = Field(
        default=None, description="File with one answer per prompt ('-' = stdin lines)."
    )
    port: str | None = Field(default=None, description="Override the config's port.")
    id: str | None = Field(default=None, description="Override the device id (calibration file name).")
    calibration_dir: Path | None = Field(default=None, description="Write the file into this folder instead.")
    record_min_s: float = Field(
        default=0.0, ge=0, description="Record ranges of motion for at least this long."
    )
