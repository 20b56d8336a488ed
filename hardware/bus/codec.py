"""What every serial servo codec (Feetech, Dynamixel) provides to :class:`SerialMotorBus` and the simulator.

A codec is pure: it builds instruction packets, extracts packets from a byte buffer and knows the model
tables (register addresses, sign encodings, resolutions, model numbers). No I/O happens here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Packet:
    """A decoded packet: ``code`` is the instruction (host->servo) or the error byte (servo->host)."""

    id: int
    code: int
    params: bytes


class ChecksumError(Exception):
    """A complete packet whose checksum/CRC does not match (the bytes were consumed)."""

    def __init__(self, message: str, packet_id: int | None = None) -> None:
        super().__init__(message)
        self.packet_id = packet_id


class Codec(Protocol):
    """The protocol-specific half of a serial servo bus."""

    name: str
    broadcast_id: int
    apply_drive_mode: bool
    homing_sign: int  # +1: Present = Actual - Homing (Feetech); -1: Present = Actual + Homing (Dynamixel)
    firmware_registers: tuple[str, ...]  # must read the same on every motor of a bus (handshake)

    def ping(self, motor_id: int) -> bytes: ...
    def read(self, motor_id: int, address: int, length: int) -> bytes: ...
    def write(self, motor_id: int, address: int, data: bytes) -> bytes: ...
    def sync_read(self, address: int, length: int, ids: list[int]) -> bytes: ...
    def sync_write(self, address: int, length: int, data: dict[int, bytes]) -> bytes: ...
    def extract(self, buf: bytearray, status: bool = True) -> Packet | None: ...
    def status(self, motor_id: int, error: int, params: bytes) -> bytes: ...
    def to_bytes(self, value: int, length: int) -> bytes: ...
    def from_bytes(self, data: bytes) -> int: ...
    def address(self, model: str, register: str) -> tuple[int, int]: ...
    def encode_sign(self, model: str, register: str, value: int) -> int: ...
    def decode_sign(self, model: str, register: str, value: int) -> int: ...
    def resolution(self, model: str) -> int: ...
    def model_number(self, model: str) -> int: ...
    def configure_writes(self) -> list[tuple[str, int]]: ...
    def torque_writes(self, enabled: bool) -> list[tuple[str, int]]: ...
