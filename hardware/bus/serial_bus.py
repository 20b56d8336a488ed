"""A motor bus over a serial port, speaking a pluggable servo codec (Feetech or Dynamixel).

I/O and retries live in :class:`~hardware.bus.transport.PacketTransport` (ports opened with
``serial.serial_for_url``, so ``/dev/ttyACM0``, a simulator pty and ``stsim://so101-follower`` all work; bad
checksums and timeouts are retried, an unplugged adapter raises :class:`DeviceError`). This class adds motor
names, register encodings, the handshake, torque, and calibration. Positions are normalised
exactly like LeRobot 0.4.4 (see :mod:`hardware.calibration`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hardware.base import Motor, MotorBus, requires_connection
from hardware.bus.codec import Codec, Packet
from hardware.bus.transport import IO_ERRORS, PacketTransport, open_serial
from hardware.calibration import Calibration, MotorCalibration, normalize, unnormalize
from robopipe.errors import ConfigError, DeviceError, DeviceTimeoutError, ProtocolError

logger = logging.getLogger(__name__)

NORMALIZED_REGISTERS = ("Goal_Position", "Present_Position")
__all__ = ["IO_ERRORS", "NORMALIZED_REGISTERS", "SerialMotorBus", "open_serial"]


class SerialMotorBus(MotorBus):
    """Named motors on one serial port.

    Args:
        port: device path or pyserial URL.
        motors: ``{name: Motor}`` in bus order.
        codec: :class:`~hardware.bus.feetech.FeetechCodec` or :class:`~hardware.bus.dynamixel.DynamixelCodec`.
        baudrate: serial speed (1 Mbaud for SO-10x and Koch arms).
        timeout_s: how long one transaction waits for all replies.
        num_retries: extra attempts on checksum errors / timeouts.
        calibration: ``{name: MotorCalibration}`` used to normalise positions.
    """

    def __init__(
        self,
        port: str,
        motors: dict[str, Motor],
        codec: Codec,
        *,
        baudrate: int = 1_000_000,
        timeout_s: float = 0.1,
        num_retries: int = 2,
        calibration: Calibration | None = None,
    ) -> None:
        self.port = port
        self.motors = dict(motors)
        self.codec = codec
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.num_retries = num_retries
        self.calibration: Calibration = dict(calibration or {})
        self._transport = PacketTransport(
            port,
            codec,
            baudrate=baudrate,
            timeout_s=timeout_s,
            num_retries=num_retries,
            names={m.id: name for name, m in self.motors.items()},
        )

    def __repr__(self) -> str:
        return f"{self.codec.name} bus on {self.port!r}"

    # --- connection ------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._transport.is_open

    def connect(self, handshake: bool = True) -> None:
        """Open the port and (by default) check every motor answers with the expected model."""
        if self.is_connected:
            return
        self._transport.open()
        if handshake:
            try:
                self._handshake()
            except DeviceError:
                self._close()
                raise

    def _handshake(self) -> None:
        missing, wrong = [], []
        for name, motor in self.motors.items():
            try:
                self._transaction(self.codec.ping(motor.id), [motor.id])
                model = self._read_raw(motor, "Model_Number")
            except (DeviceTimeoutError, ProtocolError):
                missing.append(f"{name} (id {motor.id})")
                continue
            expected = self.codec.model_number(motor.model)
            if model != expected:
                wrong.append(f"{name} (id {motor.id}): expected {motor.model} = {expected}, got {model}")
        if missing or wrong:
            raise DeviceError(
                f"motor check failed on {self}: missing {missing or 'none'}; wrong model {wrong or 'none'}. "
                "Check wiring/ids (set ids with the vendor tool) and that the right port is used"
            )
        versions = {
            name: tuple(self._read_raw(m, reg) for reg in self.codec.firmware_registers)
            for name, m in self.motors.items()
        }
        if len(set(versions.values())) > 1:
            raise DeviceError(
                f"motors on {self} run different firmware versions {versions}; update them with the vendor tool"
            )

    def disconnect(self, disable_torque: bool = True) -> None:
        """Optionally switch torque off (retrying), then close the port."""
        if not self.is_connected:
            return
        try:
            if disable_torque:
                self.disable_torque(num_retries=5)
        except DeviceError as exc:
            logger.warning("could not disable torque on %s before closing: %s", self, exc)
        finally:
            self._close()

    def _close(self) -> None:
        self._transport.close()

    def _transaction(
        self, packet: bytes, reply_ids: list[int], retries: int | None = None
    ) -> dict[int, Packet]:
        return self._transport.transaction(packet, reply_ids, retries)

    # --- registers -------------------------------------------------------------------------------
    def _motor(self, name: str) -> Motor:
        try:
            return self.motors[name]
        except KeyError as exc:
            raise KeyError(f"no motor named {name!r} on {self}; known: {list(self.motors)}") from exc

    def _read_raw(self, motor: Motor, register: str, retries: int | None = None) -> int:
        address, length = self.codec.address(motor.model, register)
        reply = self._transaction(self.codec.read(motor.id, address, length), [motor.id], retries)[motor.id]
        if reply.code:
            raise DeviceError(
                f"motor id {motor.id} on {self} reported error 0x{reply.code:02X} reading {register}"
            )
        if len(reply.params) != length:
            raise ProtocolError(
                f"reading {register} from id {motor.id} on {self}: expected {length} bytes, got {len(reply.params)}"
            )
        return self.codec.from_bytes(reply.params)

    def _to_user(self, name: str, register: str, raw: int, normalize_: bool) -> float:
        motor = self.motors[name]
        value = self.codec.decode_sign(motor.model, register, raw)
        if normalize_ and register in NORMALIZED_REGISTERS:
            cal = self._calibration_of(name)
            return normalize(
                value, cal, motor.norm_mode, self.codec.resolution(motor.model), self.codec.apply_drive_mode
            )
        return value

    def _to_raw(self, name: str, register: str, value: float, normalize_: bool) -> bytes:
        motor = self.motors[name]
        if normalize_ and register in NORMALIZED_REGISTERS:
            cal = self._calibration_of(name)
            value = unnormalize(
                value, cal, motor.norm_mode, self.codec.resolution(motor.model), self.codec.apply_drive_mode
            )
        _, length = self.codec.address(motor.model, register)
        try:
            return self.codec.to_bytes(self.codec.encode_sign(motor.model, register, int(value)), length)
        except ValueError as exc:
            raise ValueError(f"cannot write {value!r} to {register} of {name} on {self}: {exc}") from exc

    def _calibration_of(self, name: str) -> MotorCalibration:
        try:
            return self.calibration[name]
        except KeyError as exc:
            raise ConfigError(
                f"{self} has no calibration for motor {name!r}: normalised positions need one. Run "
                "`robopipe calibrate` or pass normalize=False"
            ) from exc

    @requires_connection
    def read(
        self, register: str, motor: str, normalize: bool = True, num_retries: int | None = None
    ) -> float:
        raw = self._read_raw(self._motor(motor), register, num_retries)
        return self._to_user(motor, register, raw, normalize)

    @requires_connection
    def write(
        self, register: str, motor: str, value: float, normalize: bool = True, num_retries: int | None = None
    ) -> None:
        m = self._motor(motor)
        data = self._to_raw(motor, register, value, normalize)
        address, _ = self.codec.address(m.model, register)
        reply = self._transaction(self.codec.write(m.id, address, data), [m.id], num_retries)[m.id]
        if reply.code:
            raise DeviceError(
                f"motor {motor} (id {m.id}) on {self} reported error 0x{reply.code:02X} writing {register}"
            )

    @requires_connection
    def sync_read(
        self,
        register: str,
        motors: list[str] | None = None,
        normalize: bool = True,
        num_retries: int | None = None,
    ) -> dict[str, float]:
        names = list(self.motors) if motors is None else list(motors)
        ms = [self._motor(n) for n in names]
        address, length = self.codec.address(ms[0].model, register)
        ids = [m.id for m in ms]
        replies = self._transaction(self.codec.sync_read(address, length, ids), ids, num_retries)
        out = {}
        for name, m in zip(names, ms):
            params = replies[m.id].params  # the per-servo error byte is ignored, as in LeRobot
            if len(params) != length:
                raise ProtocolError(
                    f"sync read {register} from {name} on {self}: expected {length} bytes, got {len(params)}"
                )
            out[name] = self._to_user(name, register, self.codec.from_bytes(params), normalize)
        return out

    @requires_connection
    def sync_write(self, register: str, values: dict[str, float], normalize: bool = True) -> None:
        if not values:
            return
        first = self._motor(next(iter(values)))
        address, length = self.codec.address(first.model, register)
        data = {self._motor(n).id: self._to_raw(n, register, v, normalize) for n, v in values.items()}
        self._transaction(self.codec.sync_write(address, length, data), [])

    # --- torque and configuration ----------------------------------------------------------------
    @requires_connection
    def disable_torque(self, motors: list[str] | None = None, num_retries: int | None = None) -> None:
        for name in motors or list(self.motors):
            for register, value in self.codec.torque_writes(False):
                self.write(register, name, value, normalize=False, num_retries=num_retries)

    @requires_connection
    def enable_torque(self, motors: list[str] | None = None, num_retries: int | None = None) -> None:
        for name in motors or list(self.motors):
            for register, value in self.codec.torque_writes(True):
                self.write(register, name, value, normalize=False, num_retries=num_retries)

    @contextmanager
    def torque_disabled(self, motors: list[str] | None = None) -> Iterator[None]:
        """Torque off inside the block, back on afterwards (LeRobot's ``torque_disabled``)."""
        self.disable_torque(motors)
        try:
            yield
        finally:
            self.enable_torque(motors)

    @requires_connection
    def configure_motors(self) -> None:
        """The codec's standard settings (e.g. Return_Delay_Time 0, Acceleration 254 on Feetech)."""
        for name in self.motors:
            for register, value in self.codec.configure_writes():
                self.write(register, name, value, normalize=False)

    # --- calibration -----------------------------------------------------------------------------
    @requires_connection
    def read_calibration(self) -> Calibration:
        """Homing offset and position limits as stored in each motor."""
        out = {}
        for name, m in self.motors.items():
            drive = self.read("Drive_Mode", name, normalize=False) if self.codec.name == "dynamixel" else 0
            out[name] = MotorCalibration(
                id=m.id,
                drive_mode=int(drive),
                homing_offset=int(self.read("Homing_Offset", name, normalize=False)),
                range_min=int(self.read("Min_Position_Limit", name, normalize=False)),
                range_max=int(self.read("Max_Position_Limit", name, normalize=False)),
            )
        return out

    def is_calibrated(self, calibration: Calibration) -> bool:
        """True when the motors hold ``calibration``'s offsets and limits (drive mode not compared)."""
        stored = self.read_calibration()
        if set(stored) != set(calibration):
            return False
        return all(
            (c.homing_offset, c.range_min, c.range_max)
            == (calibration[n].homing_offset, calibration[n].range_min, calibration[n].range_max)
            for n, c in stored.items()
        )

    @requires_connection
    def write_calibration(self, calibration: Calibration, cache: bool = True) -> None:
        """Write homing offsets and limits to the motors (and keep them for normalisation)."""
        for name, cal in calibration.items():
            self.write("Homing_Offset", name, cal.homing_offset, normalize=False)
            self.write("Min_Position_Limit", name, cal.range_min, normalize=False)
            self.write("Max_Position_Limit", name, cal.range_max, normalize=False)
        if cache:
            self.calibration = dict(calibration)

    @requires_connection
    def reset_calibration(self, motors: list[str] | None = None) -> None:
        for name in motors or list(self.motors):
            self.write("Homing_Offset", name, 0, normalize=False)
            self.write("Min_Position_Limit", name, 0, normalize=False)
            self.write(
                "Max_Position_Limit",
                name,
                self.codec.resolution(self.motors[name].model) - 1,
                normalize=False,
            )
        self.calibration = {}

    @requires_connection
    def set_half_turn_homings(self, motors: list[str] | None = None) -> dict[str, int]:
        """Write homing offsets so the current pose reads half a turn (2047 on 12-bit encoders)."""
        names = motors or list(self.motors)
        self.reset_calibration(names)
        positions = self.sync_read("Present_Position", names, normalize=False)
        offsets = {}
        for name, pos in positions.items():
            half = int((self.codec.resolution(self.motors[name].model) - 1) / 2)
            offsets[name] = int(self.codec.homing_sign * (int(pos) - half))
            self.write("Homing_Offset", name, offsets[name], normalize=False)
        return offsets

    @requires_connection
    def record_ranges_of_motion(
        self,
        motors: list[str] | None = None,
        stop: Callable[[], bool] = lambda: True,
        poll_s: float = 0.02,
        on_sample: Callable[[dict[str, float]], None] | None = None,
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Track raw min/max positions until ``stop()`` is true; refuses motors that did not move."""
        names = motors or list(self.motors)
        start = self.sync_read("Present_Position", names, normalize=False, num_retries=5)
        mins = {n: int(v) for n, v in start.items()}
        maxes = dict(mins)
        while True:
            positions = self.sync_read("Present_Position", names, normalize=False, num_retries=5)
            for name, value in positions.items():
                mins[name] = min(mins[name], int(value))
                maxes[name] = max(maxes[name], int(value))
            if on_sample is not None:
                on_sample(positions)
            if stop():
                break
            time.sleep(poll_s)
        same = [n for n in names if mins[n] == maxes[n]]
        if same:
            raise ConfigError(
                f"motors {same} did not move while recording ranges of motion; move them and retry"
            )
        return mins, maxes
