"""DAMIAO motors behind the DAMIAO USB-to-CAN serial bridge, as a :class:`MotorBus`.

Registers understood: ``Present_Position`` / ``Present_Velocity`` / ``Present_Torque`` (read; degrees,
degrees/s, Nm) and ``Goal_Position`` (write; degrees). Goals go out as MIT commands (``kp``/``kd`` gains) or
POS_VEL commands. DAMIAO encoders are absolute, so no calibration file is involved (zero is set on the motor).
Every command is answered by a state frame; the latest state per motor is cached.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Literal

from hardware.base import Motor, MotorBus, requires_connection
from hardware.bus import damiao
from hardware.bus.transport import IO_ERRORS, open_serial
from robopipe.errors import DeviceError, DeviceTimeoutError

logger = logging.getLogger(__name__)

READABLE = {"Present_Position": "q", "Present_Velocity": "dq", "Present_Torque": "tau"}


class DamiaoBus(MotorBus):
    """DAMIAO motors (``Motor.id`` = CAN slave id, ``Motor.model`` = e.g. ``DM4310``) on one bridge."""

    def __init__(
        self,
        port: str,
        motors: dict[str, Motor],
        *,
        baudrate: int = damiao.BAUDRATE,
        timeout_s: float = 0.1,
        num_retries: int = 2,
        control_mode: Literal["mit", "pos_vel"] = "mit",
        kp: float = 20.0,
        kd: float = 1.0,
        max_velocity: float = 3.0,
    ) -> None:
        for name, m in motors.items():
            if m.model not in damiao.LIMITS:
                raise ValueError(
                    f"motor {name}: unknown DAMIAO model {m.model!r}; known {sorted(damiao.LIMITS)}"
                )
        self.port = port
        self.motors = dict(motors)
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.num_retries = num_retries
        self.control_mode = control_mode
        self.kp, self.kd, self.max_velocity = kp, kd, max_velocity
        self.states: dict[str, damiao.MotorState] = {}
        self._serial: Any = None
        self._buf = bytearray()
        self._by_id = {m.id: name for name, m in self.motors.items()}

    def __repr__(self) -> str:
        return f"DAMIAO bus on {self.port!r}"

    @property
    def is_connected(self) -> bool:
        return self._serial is not None

    def connect(self, handshake: bool = True) -> None:
        if self.is_connected:
            return
        self._serial = open_serial(self.port, self.baudrate)
        if handshake:
            try:
                self._exchange(
                    {n: (damiao.REFRESH_CAN_ID, damiao.refresh(m.id)) for n, m in self.motors.items()}
                )
            except DeviceError:
                self._close()
                raise

    def disconnect(self, disable_torque: bool = True) -> None:
        if not self.is_connected:
            return
        try:
            if disable_torque:
                self.disable_torque()
        except DeviceError as exc:
            logger.warning("could not disable DAMIAO motors before closing: %s", exc)
        finally:
            self._close()

    def _close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except IO_ERRORS as exc:
                logger.debug("closing %s: %s", self.port, exc)

    def _exchange(self, frames: dict[str, tuple[int, bytes]]) -> None:
        """Send one frame per motor and wait for each motor's state frame (with retries)."""
        last: DeviceError | None = None
        for _ in range(1 + self.num_retries):
            waiting = set(frames)
            try:
                self._serial.reset_input_buffer()
                self._buf.clear()
                self._serial.write(b"".join(damiao.host_frame(cid, data) for cid, data in frames.values()))
                deadline = time.monotonic() + self.timeout_s
                while waiting:
                    for _cmd, _can_id, data in damiao.extract_device_frames(self._buf):
                        name = self._by_id.get(data[0] & 0x0F)
                        if name is not None:
                            self.states[name] = damiao.decode_state(data, self.motors[name].model)
                            waiting.discard(name)
                    if not waiting:
                        break
                    if time.monotonic() > deadline:
                        raise DeviceTimeoutError(
                            f"no state frame from DAMIAO motors {sorted(waiting)} on {self} within "
                            f"{self.timeout_s * 1000:.0f} ms; check CAN wiring, power and ids"
                        )
                    self._buf += self._serial.read(max(1, self._serial.in_waiting))
                return
            except DeviceTimeoutError as exc:
                last = exc
            except IO_ERRORS as exc:
                self._close()
                raise DeviceError(f"DAMIAO bridge {self.port!r} failed ({exc}); was it unplugged?") from exc
        if last is None:
            raise DeviceError(f"no attempt made on {self}: num_retries must be >= 0")
        raise last

    def _command_all(self, code: int, motors: list[str] | None = None) -> None:
        names = motors or list(self.motors)
        offset = damiao.POS_VEL_OFFSET if self.control_mode == "pos_vel" else 0
        self._exchange({n: (self.motors[n].id + offset, damiao.command(code)) for n in names})

    @requires_connection
    def enable_torque(self, motors: list[str] | None = None) -> None:
        self._command_all(damiao.ENABLE, motors)

    @requires_connection
    def disable_torque(self, motors: list[str] | None = None) -> None:
        self._command_all(damiao.DISABLE, motors)

    @requires_connection
    def set_zero(self, motors: list[str] | None = None) -> None:
        """Make the current pose the zero of each motor (DAMIAO's calibration)."""
        self._command_all(damiao.SET_ZERO, motors)

    def cached(self, register: str, name: str) -> float:
        """The last received value of ``register`` for motor ``name`` (no bus traffic)."""
        try:
            attr = READABLE[register]
        except KeyError as exc:
            raise KeyError(f"{self} cannot read {register!r}; readable: {sorted(READABLE)}") from exc
        value = float(getattr(self.states[name], attr))
        return value if attr == "tau" else math.degrees(value)

    @requires_connection
    def read(self, register: str, motor: str, normalize: bool = True) -> float:
        return self.sync_read(register, [motor])[motor]

    @requires_connection
    def sync_read(
        self, register: str, motors: list[str] | None = None, normalize: bool = True
    ) -> dict[str, float]:
        names = motors or list(self.motors)
        self._exchange({n: (damiao.REFRESH_CAN_ID, damiao.refresh(self.motors[n].id)) for n in names})
        return {n: self.cached(register, n) for n in names}

    @requires_connection
    def write(self, register: str, motor: str, value: float, normalize: bool = True) -> None:
        self.sync_write(register, {motor: value})

    @requires_connection
    def sync_write(self, register: str, values: dict[str, float], normalize: bool = True) -> None:
        if register != "Goal_Position":
            raise KeyError(f"{self} can only write Goal_Position, not {register!r}")
        frames = {}
        for name, degrees in values.items():
            m = self.motors[name]
            q = math.radians(degrees)
            if self.control_mode == "mit":
                frames[name] = (m.id, damiao.encode_mit(q, 0.0, self.kp, self.kd, 0.0, m.model))
            else:
                frames[name] = (m.id + damiao.POS_VEL_OFFSET, damiao.encode_pos_vel(q, self.max_velocity))
        self._exchange(frames)
