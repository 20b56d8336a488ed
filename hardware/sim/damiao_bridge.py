"""Pure simulator of DAMIAO motors behind the DAMIAO USB-to-CAN serial bridge.

Answers 30-byte host frames (``55 AA …``) with 16-byte state frames (``AA 11 08 <master id> <state> 55``):
enable/disable/set-zero commands, MIT commands (kp > 0 moves the rotor toward q at a bounded speed),
POS_VEL commands (``0x100 + id``) and refresh requests (``0x7FF``). Disabled motors follow the operator.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hardware.bus import damiao
from hardware.sim.faults import Fault, FaultPlan, Reply
from hardware.sim.servo_bus import Operator


@dataclass
class SimDamiaoMotor:
    """State of one simulated DAMIAO motor (radians)."""

    slave_id: int
    master_id: int
    motor_type: str
    q: float = 0.0
    dq: float = 0.0
    tau: float = 0.0
    enabled: bool = False
    target: float | None = None
    max_speed: float = 4.0  # rad/s

    def step(self, dt: float, operator_position: float | None) -> None:
        before = self.q
        if self.enabled and self.target is not None:
            limit = self.max_speed * dt
            self.q += max(-limit, min(limit, self.target - self.q))
        elif not self.enabled and operator_position is not None:
            self.q = operator_position
        self.dq = (self.q - before) / dt if dt > 0 else 0.0
        self.tau = 0.5 * (self.target - self.q) if self.enabled and self.target is not None else 0.0

    def feedback(self) -> bytes:
        state = damiao.MotorState(self.slave_id, int(self.enabled), self.q, self.dq, self.tau, 35, 33)
        return damiao.device_frame(self.master_id, damiao.encode_state(state, self.motor_type))


class DamiaoBridgeSim:
    """The bridge plus its motors; :meth:`handle` maps host bytes at ``now`` to replies."""

    def __init__(self, motors: list[SimDamiaoMotor], operator: Operator | None = None) -> None:
        self.motors = motors
        self.operator = operator
        self.faults = FaultPlan()
        self._buf = bytearray()
        self._t0: float | None = None
        self._now: float | None = None
        self.packets_seen = 0

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def motor(self, slave_id: int) -> SimDamiaoMotor | None:
        return next((m for m in self.motors if m.slave_id == slave_id), None)

    def advance(self, now: float) -> None:
        if self._t0 is None or self._now is None:
            self._t0 = self._now = now
        dt = now - self._now
        if dt < 0:
            return
        for index, m in enumerate(self.motors):
            op = self.operator.position(index, now - self._t0) if self.operator is not None else None
            m.step(dt, op)
        self._now = now

    def handle(self, data: bytes, now: float, baudrate: int | None = None) -> list[Reply]:
        """Feed host bytes at ``now``; the bridge itself is baud-agnostic (USB CDC)."""
        self.advance(now)
        if self.faults.unplugged:
            return []
        self._buf += data
        replies = []
        for frame in damiao.extract_host_frames(self._buf):
            self.packets_seen += 1
            can_id, payload = damiao.parse_host_frame(frame)
            motor = self._route(can_id, payload)
            if motor is not None:
                reply = self.faults.apply(motor.slave_id, Reply(motor.feedback()))
                if reply is not None:
                    replies.append(reply)
            if self.faults.unplugged:
                return []
        return replies

    def _route(self, can_id: int, payload: bytes) -> SimDamiaoMotor | None:
        if can_id == damiao.REFRESH_CAN_ID:
            return self.motor(payload[0] | (payload[1] << 8))
        if can_id >= damiao.VEL_OFFSET:
            return self.motor(can_id - damiao.VEL_OFFSET)
        if can_id >= damiao.POS_VEL_OFFSET:
            motor = self.motor(can_id - damiao.POS_VEL_OFFSET)
            if motor is not None and payload[:7] != b"\xff" * 7 and motor.enabled:
                position, velocity = struct.unpack("<ff", payload)
                motor.target = position
                motor.max_speed = max(0.1, abs(velocity))
            return motor if motor is None or payload[:7] != b"\xff" * 7 else self._command(motor, payload[7])
        motor = self.motor(can_id)
        if motor is None:
            return None
        if payload[:7] == b"\xff" * 7 and payload[7] in (
            damiao.ENABLE,
            damiao.DISABLE,
            damiao.SET_ZERO,
            damiao.CLEAR_ERROR,
        ):
            return self._command(motor, payload[7])
        cmd = damiao.decode_mit(payload, motor.motor_type)
        if motor.enabled and cmd.kp > 0:
            motor.target = cmd.q
        return motor

    @staticmethod
    def _command(motor: SimDamiaoMotor, code: int) -> SimDamiaoMotor:
        if code == damiao.ENABLE:
            motor.enabled, motor.target = True, motor.q
        elif code == damiao.DISABLE:
            motor.enabled, motor.target = False, None
        elif code == damiao.SET_ZERO:
            motor.q, motor.target = 0.0, (0.0 if motor.enabled else None)
        return motor

    def state(self) -> dict[int, dict[str, float]]:
        return {
            m.slave_id: {"q": m.q, "dq": m.dq, "tau": m.tau, "enabled": int(m.enabled)} for m in self.motors
        }
