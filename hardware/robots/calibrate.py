"""Interactive arm calibration, LeRobot's procedure (``SOFollower.calibrate`` of 0.4.4) with injectable prompts.

1. If a calibration file exists, Enter writes it to the motors; ``c`` recalibrates.
2. Torque off, position mode; "move to the middle of the range" -> half-turn homing offsets.
3. "Move every joint except the full-turn ones through its range" -> min/max recorded until the answer.
4. Full-turn joints get ``0..resolution-1``; drive_mode 0; written to the motors and saved (LeRobot JSON).

``ask`` is called from a helper thread during step 3 so positions keep being sampled while it waits; pass
answers from a file/stdin for scripted runs. ``record_min_s`` keeps sampling at least that long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hardware.bus.serial_bus import SerialMotorBus
from hardware.calibration import Calibration, MotorCalibration, load_calibration, save_calibration

if TYPE_CHECKING:
    from hardware.robots.arm import _Arm

logger = logging.getLogger(__name__)


def run_calibration(
    arm: _Arm,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
    record_min_s: float = 0.0,
) -> Calibration:
    """Calibrate the serial buses of a connected (or bus-connected) arm and save the file."""
    path = arm.calibration_file
    if path.is_file():
        answer = ask(
            f"Press ENTER to use the calibration file {path} for {arm}, or type 'c' and ENTER to recalibrate: "
        )
        if answer.strip().lower() != "c":
            existing = load_calibration(path)
            arm.apply_calibration(existing)
            return existing
    calibration: Calibration = {}
    for bus in arm.serial_buses:
        calibration.update(_calibrate_bus(arm, bus, ask, say, record_min_s))
    save_calibration(calibration, path)
    say(f"Calibration saved to {path}")
    return calibration


def _calibrate_bus(
    arm: _Arm, bus: SerialMotorBus, ask: Callable[[str], str], say: Callable[[str], None], record_min_s: float
) -> Calibration:
    bus.disable_torque()
    if bus.codec.name == "feetech":
        for name in bus.motors:
            bus.write("Operating_Mode", name, 0, normalize=False)
    ask(f"Move {arm} to the middle of its range of motion and press ENTER...")
    homings = bus.set_half_turn_homings()
    full_turn = [m for m in arm.config.full_turn_motors if m in bus.motors]
    others = [m for m in bus.motors if m not in full_turn]
    answered = threading.Event()

    def wait_for_enter() -> None:
        try:
            ask("")
        finally:
            answered.set()

    say(
        f"Move all joints except {full_turn or 'none'} sequentially through their entire ranges of motion.\n"
        "Recording positions. Press ENTER to stop..."
    )
    start = time.monotonic()
    waiter = threading.Thread(target=wait_for_enter, daemon=True, name="calibrate-enter")
    waiter.start()
    mins, maxes = bus.record_ranges_of_motion(
        others, stop=lambda: answered.is_set() and time.monotonic() - start >= record_min_s
    )
    for name in full_turn:
        mins[name], maxes[name] = 0, bus.codec.resolution(bus.motors[name].model) - 1
    calibration = {
        name: MotorCalibration(
            id=m.id, drive_mode=0, homing_offset=homings[name], range_min=mins[name], range_max=maxes[name]
        )
        for name, m in bus.motors.items()
    }
    bus.write_calibration(calibration)
    return calibration
