"""Hardware commands: ``find-port`` and ``calibrate`` (``record``/``replay``/``find-cameras`` live elsewhere)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import cyclopts
from cyclopts import Parameter


def list_ports(all_tty: bool = False) -> list[str]:
    """Serial ports from pyserial (``comports``), plus every ``/dev/tty*`` when ``all_tty``."""
    from serial.tools import list_ports as lp

    ports = {p.device for p in lp.comports()}
    if all_tty and sys.platform != "win32":
        ports |= {str(p) for p in Path("/dev").glob("tty*")}
    return sorted(ports)


def port_difference(before: list[str], after: list[str]) -> list[str]:
    """Ports present before the unplug and gone after it."""
    return sorted(set(before) - set(after))


def _answers(source: Path | None) -> Callable[[str], str]:
    if source is None:
        return input
    if str(source) == "-":

        def from_stdin(prompt: str) -> str:
            print(prompt, flush=True)
            line = sys.stdin.readline()
            return line.rstrip("\n")

        return from_stdin
    lines = source.read_text().splitlines()

    def from_file(prompt: str) -> str:
        answer = lines.pop(0) if lines else ""
        print(f"{prompt}{answer}", flush=True)
        return answer

    return from_file


def register(app: cyclopts.App) -> None:
    """Add ``find-port`` and ``calibrate`` to the root app."""

    @app.command(name="find-port")
    def find_port(
        *,
        wait_unplug: Annotated[
            bool, Parameter(help="Ask to unplug the adapter; print the port that vanished.")
        ] = False,
        all_tty: Annotated[
            bool, Parameter(help="Also list every /dev/tty* (as lerobot-find-port does).")
        ] = False,
    ) -> int:
        """List serial ports; with --wait-unplug, find the port of one adapter by unplugging it.

        Simulated arms live on /dev/pts/N and are not listed (pass their path or a sim-* name instead).
        """
        from hardware.requests import FindPortRequest

        request = FindPortRequest(wait_unplug=wait_unplug, all_tty=all_tty)
        before = list_ports(request.all_tty)
        if not request.wait_unplug:
            for port in before:
                print(port)
            if not before:
                print("no serial ports found", file=sys.stderr)
            return 0
        print("Ports before disconnecting:", ", ".join(before) or "none")
        input("Remove the USB cable from your motor bus adapter and press Enter when done.")
        after = list_ports(request.all_tty)
        gone = port_difference(before, after)
        if len(gone) == 1:
            print(f"The port of this motor bus is '{gone[0]}'. Reconnect the USB cable.")
            return 0
        print(
            f"error: expected exactly one port to disappear, got {gone or 'none'}; unplug only that adapter "
            "and try again",
            file=sys.stderr,
        )
        return 1

    @app.command(name="calibrate")
    def calibrate(
        *,
        robot_path: Annotated[str, Parameter(help="Device config: YAML file, bundled name or type.")],
        answers: Annotated[
            Path | None, Parameter(help="One answer per prompt, from a file ('-' = stdin).")
        ] = None,
        port: Annotated[str | None, Parameter(help="Override the config's port.")] = None,
        id: Annotated[str | None, Parameter(help="Override the device id (calibration file name).")] = None,
        calibration_dir: Annotated[Path | None, Parameter(help="Folder to write ID.json into.")] = None,
        record_min_s: Annotated[float, Parameter(help="Record ranges for at least this many seconds.")] = 0.0,
    ) -> int:
        """Calibrate a robot or leader arm (LeRobot's procedure) and write its calibration JSON.

        Prompts: use the existing file (Enter) or recalibrate ('c'); move to the middle of the range (Enter);
        move every joint through its range (Enter to stop). The file is LeRobot's format, at
        CALIBRATION_DIR/ID.json (default: LeRobot's calibration folder).
        """
        from hardware.config import load_device_config
        from hardware.factory import make_device
        from hardware.requests import CalibrateRequest
        from hardware.robots.arm import _Arm
        from hardware.robots.calibrate import run_calibration
        from robopipe.errors import ConfigError

        request = CalibrateRequest(
            robot_path=robot_path,
            answers=answers,
            port=port,
            id=id,
            calibration_dir=calibration_dir,
            record_min_s=record_min_s,
        )
        config = load_device_config(
            request.robot_path, port=request.port, id=request.id, calibration_dir=request.calibration_dir
        )
        device = make_device(config)
        if not isinstance(device, _Arm):
            raise ConfigError(f"{config.type!r} has nothing to calibrate (not an arm)")
        device.open_buses()
        try:
            calibration = run_calibration(
                device, ask=_answers(request.answers), record_min_s=request.record_min_s
            )
        finally:
            device.disconnect()
        for motor, cal in calibration.items():
            print(f"{motor:>16}: offset {cal.homing_offset:5d}  range [{cal.range_min}, {cal.range_max}]")
        return 0
