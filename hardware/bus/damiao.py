"""DAMIAO motor framing over the DAMIAO USB-to-CAN serial bridge (as used by OpenK, reference hardware.md §3).

Host -> bridge: fixed 30-byte frames ``55 AA 1E 03 | send count (u32 LE) | interval (u32 LE) | id type |
CAN id (u32 LE) | frame type | DLC=8 | 00 00 | 8 data bytes | 00``. Bridge -> host: 16-byte frames
``AA | CMD | 08 | CAN id (u32 LE) | 8 data bytes | 55``; CMD 0x11 carries a received CAN frame.
MIT commands pack q (16 bit), dq, kp, kd, tau (12 bit each) as ``float_to_uint`` over per-model limits;
motor feedback packs ``state<<4 | id``, q (16 bit), dq (12), tau (12), MOS and rotor temperatures.
The layout follows the DAMIAO Python driver ``DM_CAN.py`` that OpenK vendors (``openk/damiao/DM_CAN.py``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HOST_FRAME_LEN = 30
DEVICE_FRAME_LEN = 16
BAUDRATE = 921_600
CMD_RECEIVE = 0x11
REFRESH_CAN_ID = 0x7FF
POS_VEL_OFFSET = 0x100
VEL_OFFSET = 0x200
ENABLE, DISABLE, SET_ZERO, CLEAR_ERROR = 0xFC, 0xFD, 0xFE, 0xFB
KP_MAX, KD_MAX = 500.0, 5.0

#: (Q_MAX rad, DQ_MAX rad/s, TAU_MAX Nm) per motor type (``Limit_Param`` in DM_CAN.py).
LIMITS: dict[str, tuple[float, float, float]] = {
    "DM4310": (12.5, 30.0, 10.0),
    "DM4310_48V": (12.5, 50.0, 10.0),
    "DM4340": (12.5, 8.0, 28.0),
    "DM4340_48V": (12.5, 10.0, 28.0),
    "DM6006": (12.5, 45.0, 20.0),
    "DM8006": (12.5, 45.0, 40.0),
    "DM8009": (12.5, 45.0, 54.0),
    "DM10010L": (12.5, 25.0, 200.0),
    "DM10010": (12.5, 20.0, 200.0),
    "DMH3510": (12.5, 280.0, 1.0),
    "DMH6215": (12.5, 45.0, 10.0),
    "DMG6220": (12.5, 45.0, 10.0),
}


def float_to_uint(x: float, x_min: float, x_max: float, bits: int) -> int:
    """Clamp ``x`` to [min, max] and scale to an unsigned ``bits``-bit integer (truncating)."""
    x = min(max(x, x_min), x_max)
    return int((x - x_min) / (x_max - x_min) * ((1 << bits) - 1))


def uint_to_float(x: int, x_min: float, x_max: float, bits: int) -> float:
    """Inverse of :func:`float_to_uint`."""
    return x / ((1 << bits) - 1) * (x_max - x_min) + x_min


def host_frame(can_id: int, data: bytes) -> bytes:
    """One 30-byte host->bridge frame sending ``data`` (8 bytes) to ``can_id``."""
    if len(data) != 8:
        raise ValueError(f"DAMIAO CAN payload must be 8 bytes, got {len(data)}")
    head = bytes([0x55, 0xAA, 0x1E, 0x03]) + struct.pack("<II", 1, 10) + b"\x00"
    return head + struct.pack("<I", can_id) + bytes([0x00, 0x08, 0x00, 0x00]) + data + b"\x00"


def parse_host_frame(frame: bytes) -> tuple[int, bytes]:
    """``(can_id, data)`` of a 30-byte host frame (used by the simulator)."""
    if len(frame) != HOST_FRAME_LEN or frame[:2] != b"\x55\xaa":
        raise ValueError(f"not a DAMIAO host frame: {frame.hex(' ')}")
    return struct.unpack("<I", frame[13:17])[0], bytes(frame[21:29])


def device_frame(can_id: int, data: bytes, cmd: int = CMD_RECEIVE) -> bytes:
    """One 16-byte bridge->host frame."""
    if len(data) != 8:
        raise ValueError(f"DAMIAO CAN payload must be 8 bytes, got {len(data)}")
    return bytes([0xAA, cmd, 0x08]) + struct.pack("<I", can_id) + data + b"\x55"


def extract_device_frames(buf: bytearray) -> list[tuple[int, int, bytes]]:
    """Pop every complete ``AA … 55`` frame from ``buf`` as ``(cmd, can_id, data)``; skips garbage bytes."""
    frames: list[tuple[int, int, bytes]] = []
    i = 0
    while len(buf) - i >= DEVICE_FRAME_LEN:
        if buf[i] == 0xAA and buf[i + DEVICE_FRAME_LEN - 1] == 0x55:
            raw = bytes(buf[i : i + DEVICE_FRAME_LEN])
            frames.append((raw[1], struct.unpack("<I", raw[3:7])[0], raw[7:15]))
            i += DEVICE_FRAME_LEN
        else:
            i += 1
    del buf[:i]
    return frames


def extract_host_frames(buf: bytearray) -> list[bytes]:
    """Pop every complete 30-byte ``55 AA`` frame from ``buf`` (simulator side)."""
    frames: list[bytes] = []
    while True:
        start = buf.find(b"\x55\xaa")
        if start < 0:
            del buf[: max(0, len(buf) - 1)]
            return frames
        del buf[:start]
        if len(buf) < HOST_FRAME_LEN:
            return frames
        frames.append(bytes(buf[:HOST_FRAME_LEN]))
        del buf[:HOST_FRAME_LEN]


def command(code: int) -> bytes:
    """Enable/disable/set-zero/clear-error payload: ``FF×7 code``."""
    return b"\xff" * 7 + bytes([code])


def encode_mit(q: float, dq: float, kp: float, kd: float, tau: float, motor_type: str) -> bytes:
    """MIT-mode payload (``controlMIT`` in DM_CAN.py)."""
    q_max, dq_max, tau_max = LIMITS[motor_type]
    q_u = float_to_uint(q, -q_max, q_max, 16)
    dq_u = float_to_uint(dq, -dq_max, dq_max, 12)
    kp_u = float_to_uint(kp, 0, KP_MAX, 12)
    kd_u = float_to_uint(kd, 0, KD_MAX, 12)
    tau_u = float_to_uint(tau, -tau_max, tau_max, 12)
    return bytes(
        [
            q_u >> 8,
            q_u & 0xFF,
            dq_u >> 4,
            ((dq_u & 0xF) << 4) | (kp_u >> 8),
            kp_u & 0xFF,
            kd_u >> 4,
            ((kd_u & 0xF) << 4) | (tau_u >> 8),
            tau_u & 0xFF,
        ]
    )


@dataclass(frozen=True)
class MitCommand:
    """A decoded MIT command (simulator side)."""

    q: float
    dq: float
    kp: float
    kd: float
    tau: float


def decode_mit(data: bytes, motor_type: str) -> MitCommand:
    """Inverse of :func:`encode_mit` (up to quantisation)."""
    q_max, dq_max, tau_max = LIMITS[motor_type]
    q_u = (data[0] << 8) | data[1]
    dq_u = (data[2] << 4) | (data[3] >> 4)
    kp_u = ((data[3] & 0xF) << 8) | data[4]
    kd_u = (data[5] << 4) | (data[6] >> 4)
    tau_u = ((data[6] & 0xF) << 8) | data[7]
    return MitCommand(
        q=uint_to_float(q_u, -q_max, q_max, 16),
        dq=uint_to_float(dq_u, -dq_max, dq_max, 12),
        kp=uint_to_float(kp_u, 0, KP_MAX, 12),
        kd=uint_to_float(kd_u, 0, KD_MAX, 12),
        tau=uint_to_float(tau_u, -tau_max, tau_max, 12),
    )


def encode_pos_vel(position: float, velocity: float) -> bytes:
    """POS_VEL-mode payload: two little-endian float32 (sent to ``0x100 + id``)."""
    return struct.pack("<ff", position, velocity)


def refresh(slave_id: int) -> bytes:
    """Payload asking a motor for its state (sent to ``0x7FF``)."""
    return bytes([slave_id & 0xFF, (slave_id >> 8) & 0xFF, 0xCC, 0, 0, 0, 0, 0])


@dataclass(frozen=True)
class MotorState:
    """Feedback of one DAMIAO motor."""

    slave_id: int
    state: int
    q: float
    dq: float
    tau: float
    t_mos: int
    t_rotor: int


def encode_state(state: MotorState, motor_type: str) -> bytes:
    """Feedback payload a motor sends (simulator side)."""
    q_max, dq_max, tau_max = LIMITS[motor_type]
    q_u = float_to_uint(state.q, -q_max, q_max, 16)
    dq_u = float_to_uint(state.dq, -dq_max, dq_max, 12)
    tau_u = float_to_uint(state.tau, -tau_max, tau_max, 12)
    return bytes(
        [
            ((state.state & 0xF) << 4) | (state.slave_id & 0xF),
            q_u >> 8,
            q_u & 0xFF,
            dq_u >> 4,
            ((dq_u & 0xF) << 4) | (tau_u >> 8),
            tau_u & 0xFF,
            state.t_mos & 0xFF,
            state.t_rotor & 0xFF,
        ]
    )


def decode_state(data: bytes, motor_type: str) -> MotorState:
    """Decode a feedback payload (``__process_packet`` in DM_CAN.py)."""
    q_max, dq_max, tau_max = LIMITS[motor_type]
    q_u = (data[1] << 8) | data[2]
    dq_u = (data[3] << 4) | (data[4] >> 4)
    tau_u = ((data[4] & 0xF) << 8) | data[5]
    return MotorState(
        slave_id=data[0] & 0xF,
        state=data[0] >> 4,
        q=uint_to_float(q_u, -q_max, q_max, 16),
        dq=uint_to_float(dq_u, -dq_max, dq_max, 12),
        tau=uint_to_float(tau_u, -tau_max, tau_max, 12),
        t_mos=data[6],
        t_rotor=data[7],
    )
