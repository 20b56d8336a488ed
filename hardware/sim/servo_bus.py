"""Pure, time-injectable simulator of a serial servo bus (Feetech STS/SCS or Dynamixel Protocol 2.0).

Each servo has a register file initialised with the defaults of reference hardware.md §1.5/§1.8, and an
"actual" shaft position in encoder counts. Semantics: Feetech ``Present = (Actual − Homing) mod 4096``,
Dynamixel ``Present = Actual + Homing``; a Goal write sets the target shaft position; with torque on, the
shaft moves toward it at a bounded speed; with torque off, a leader joint follows the scripted operator.
:meth:`ServoBusSim.handle` takes the bytes the host wrote at time ``now`` and returns the replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from hardware.bus import dynamixel, feetech
from hardware.bus.codec import ChecksumError, Codec, Packet
from hardware.bus.dynamixel import DynamixelCodec
from hardware.bus.feetech import FeetechCodec
from hardware.sim.faults import Fault, FaultPlan, Reply


class Operator(Protocol):
    """Where the human holds leader joint ``joint`` at time ``t`` (shaft counts, independent of homing)."""

    def position(self, joint: int, t: float) -> float: ...


@dataclass
class SimServo:
    """Register file + shaft state of one simulated servo."""

    id: int
    model: str
    codec: Codec
    actual: float = 2047.0
    max_speed: float = 3000.0  # counts per second
    firmware: tuple[int, int] = (3, 10)
    regs: bytearray = field(default_factory=lambda: bytearray(256))
    target: float | None = None
    velocity: float = 0.0

    def __post_init__(self) -> None:
        if self.codec.name == "feetech":
            defaults = {
                "Firmware_Major_Version": self.firmware[0],
                "Firmware_Minor_Version": self.firmware[1],
                "Model_Number": self.codec.model_number(self.model),
                "ID": self.id,
                "Baud_Rate": 0,
                "Return_Delay_Time": 250,
                "Response_Status_Level": 1,
                "Min_Position_Limit": 0,
                "Max_Position_Limit": self.codec.resolution(self.model) - 1,
                "Max_Torque_Limit": 1000,
                "P_Coefficient": 32,
                "D_Coefficient": 32,
                "Acceleration": 0,
                "Present_Voltage": 120,
                "Present_Temperature": 30,
            }
        else:
            defaults = {
                "Model_Number": self.codec.model_number(self.model),
                "Firmware_Version": 52,
                "ID": self.id,
                "Baud_Rate": 3,
                "Return_Delay_Time": 250,
                "Operating_Mode": 3,
                "Max_Position_Limit": 4095,
                "Min_Position_Limit": 0,
                "Status_Return_Level": 2,
                "Present_Input_Voltage": 120,
                "Present_Temperature": 30,
            }
        for name, value in defaults.items():
            self.set(name, value)
        self.refresh()

    # --- registers -------------------------------------------------------------------------------
    def get(self, name: str) -> int:
        address, length = self.codec.address(self.model, name)
        raw = self.codec.from_bytes(bytes(self.regs[address : address + length]))
        return self.codec.decode_sign(self.model, name, raw)

    def set(self, name: str, value: int) -> None:
        address, length = self.codec.address(self.model, name)
        encoded = self.codec.encode_sign(self.model, name, int(value))
        self.regs[address : address + length] = self.codec.to_bytes(encoded, length)

    def _is(self, address: int, length: int, name: str) -> bool:
        reg_addr, reg_len = self.codec.address(self.model, name)
        return address < reg_addr + reg_len and reg_addr < address + length

    def baudrate(self) -> int:
        """The speed selected by the Baud_Rate register."""
        table = feetech.BAUDRATE_TABLE if self.feetech else dynamixel.BAUDRATE_TABLE
        index = self.get("Baud_Rate")
        return next((baud for baud, i in table.items() if i == index), -1)

    @property
    def torque(self) -> bool:
        return bool(self.get("Torque_Enable"))

    @property
    def feetech(self) -> bool:
        return self.codec.name == "feetech"

    def present(self) -> int:
        if self.feetech:
            return (round(self.actual) - self.get("Homing_Offset")) % self.codec.resolution(self.model)
        return round(self.actual) + self.get("Homing_Offset")

    def actual_from_present(self, present: float) -> float:
        if self.feetech:
            return present + self.get("Homing_Offset")
        return present - self.get("Homing_Offset")

    def refresh(self) -> None:
        """Recompute the read-only registers from the shaft state."""
        present = self.present()
        self.set("Present_Position", present)
        self.set("Present_Velocity", int(max(-32767, min(32767, self.velocity))))
        self.set("Moving", int(abs(self.velocity) > 1))
        if not self.torque:
            self.set("Goal_Position", present)

    def write_registers(self, address: int, data: bytes) -> None:
        """A WRITE landed: store the bytes, then apply side effects."""
        if address == self.codec.address(self.model, "Torque_Enable")[0] and data[:1] == b"\x01":
            self.target = self.actual  # hold where it is
        self.regs[address : address + len(data)] = data
        if self._is(address, len(data), "ID"):
            self.id = self.get("ID")
        if self._is(address, len(data), "Torque_Enable") and not self.torque:
            self.target = None
        if self._is(address, len(data), "Goal_Position") and self.torque:
            self.target = self.actual_from_present(self.get("Goal_Position"))
        self.refresh()

    def step(self, dt: float, operator_position: float | None) -> None:
        """Advance the shaft by ``dt`` seconds."""
        before = self.actual
        if self.torque and self.target is not None:
            delta = self.target - self.actual
            limit = self.max_speed * dt
            self.actual += max(-limit, min(limit, delta))
        elif not self.torque and operator_position is not None:
            self.actual = operator_position
        self.velocity = (self.actual - before) / dt if dt > 0 else 0.0
        self.refresh()


class ServoBusSim:
    """A bus of :class:`SimServo` answering instruction packets byte for byte."""

    def __init__(self, codec: Codec, servos: list[SimServo], operator: Operator | None = None) -> None:
        self.codec = codec
        self.servos = servos
        self.operator = operator
        self.faults = FaultPlan()
        self._buf = bytearray()
        self._t0: float | None = None
        self._now: float | None = None
        self._addr_width = 1 if isinstance(codec, FeetechCodec) else 2
        self._listening: list[SimServo] = list(servos)
        self.packets_seen = 0

    # --- helpers ---------------------------------------------------------------------------------
    def servo(self, motor_id: int) -> SimServo | None:
        return next((s for s in self.servos if s.id == motor_id), None)

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def advance(self, now: float) -> None:
        """Integrate motion up to time ``now`` (seconds, any monotonic origin)."""
        if self._t0 is None or self._now is None:
            self._t0 = self._now = now
        dt = now - self._now
        if dt < 0:
            return
        t = now - self._t0
        for index, servo in enumerate(self.servos):
            op = self.operator.position(index, t) if self.operator is not None else None
            servo.step(dt, op)
        self._now = now

    def _status(self, servo: SimServo, params: bytes = b"") -> Reply | None:
        reply = Reply(self.codec.status(servo.id, 0, params))
        return self.faults.apply(
            servo.id, reply, rebuild=lambda error: self.codec.status(servo.id, error, params)
        )

    def _split(self, params: bytes) -> tuple[int, int, bytes]:
        w = self._addr_width
        address = int.from_bytes(params[:w], "little")
        length = int.from_bytes(params[w : 2 * w], "little")
        return address, length, params[2 * w :]

    # --- protocol --------------------------------------------------------------------------------
    def handle(self, data: bytes, now: float, baudrate: int | None = None) -> list[Reply]:
        """Feed bytes written by the host at ``now``; return the replies (in order).

        With ``baudrate`` given, only servos whose Baud_Rate register selects that speed hear the bytes (as on
        a real bus), so baud scans and ``setup_motor``-style id/baud changes behave like hardware.
        """
        self.advance(now)
        self._listening = [s for s in self.servos if baudrate is None or s.baudrate() == baudrate]
        if self.faults.unplugged:
            return []
        self._buf += data
        replies: list[Reply] = []
        while True:
            try:
                packet = self.codec.extract(self._buf, status=False)
            except ChecksumError:
                continue  # servos silently ignore corrupt instructions
            if packet is None:
                break
            self.packets_seen += 1
            replies.extend(r for r in self._dispatch(packet) if r is not None)
            if self.faults.unplugged:
                return []
        return replies

    def _dispatch(self, packet: Packet) -> list[Reply | None]:
        broadcast = packet.id == self.codec.broadcast_id
        listening = self._listening
        targets = listening if broadcast else [s for s in listening if s.id == packet.id]
        inst, params = packet.code, packet.params
        ping, read, write, sync_read, sync_write = (
            (feetech.PING, feetech.READ, feetech.WRITE, feetech.SYNC_READ, feetech.SYNC_WRITE)
            if self._addr_width == 1
            else (dynamixel.PING, dynamixel.READ, dynamixel.WRITE, dynamixel.SYNC_READ, dynamixel.SYNC_WRITE)
        )
        if inst == ping:
            return [self._status(s, self._ping_params(s)) for s in targets]
        if inst == read and not broadcast:
            address, length, _ = self._split(params)
            return [self._status(s, bytes(s.regs[address : address + length])) for s in targets]
        if inst == write:
            w = self._addr_width
            address, payload = int.from_bytes(params[:w], "little"), params[w:]
            for s in targets:
                s.write_registers(address, payload)
            return [] if broadcast else [self._status(s) for s in targets]
        if inst == sync_read:
            address, length, ids = self._split(params)
            out: list[Reply | None] = []
            for motor_id in ids:
                target = self.servo(motor_id)
                if target is not None and target in listening:
                    out.append(self._status(target, bytes(target.regs[address : address + length])))
            return out
        if inst == sync_write:
            address, length, rest = self._split(params)
            for i in range(0, len(rest) - length + 1, length + 1):
                target = self.servo(rest[i])
                if target is not None and target in listening:
                    target.write_registers(address, rest[i + 1 : i + 1 + length])
            return []
        return []

    def _ping_params(self, servo: SimServo) -> bytes:
        if isinstance(self.codec, DynamixelCodec):  # Protocol 2.0 ping returns model number + firmware
            return self.codec.to_bytes(servo.get("Model_Number"), 2) + bytes([servo.get("Firmware_Version")])
        return b""

    def state(self) -> dict[int, dict[str, float]]:
        """A snapshot for tests and dashboards."""
        return {
            s.id: {
                "actual": s.actual,
                "present": s.present(),
                "goal": s.get("Goal_Position"),
                "torque": int(s.torque),
                "homing_offset": s.get("Homing_Offset"),
            }
            for s in self.servos
        }
