"""Feetech SCS/STS servo protocol codec (our own; no vendor SDK).

Packets are ``FF FF ID LEN INST P1..Pn CHK`` with ``LEN = n + 2`` and ``CHK = ~(ID+LEN+INST+sum(P)) & 0xFF``;
status packets carry the error byte in place of INST. STS/SMS models are little-endian with sign-magnitude
registers; SCS models are big-endian (reference hardware.md §1.3–§1.5, golden bytes in §1.4).
"""

from __future__ import annotations

from hardware.bus.codec import ChecksumError, Packet

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC
PING, READ, WRITE, REG_WRITE, ACTION, SYNC_READ, SYNC_WRITE = 0x01, 0x02, 0x03, 0x04, 0x05, 0x82, 0x83
ERROR_BITS = {0x01: "voltage", 0x02: "angle sensor", 0x04: "overheat", 0x08: "over-current", 0x20: "overload"}

STS_CONTROL_TABLE: dict[str, tuple[int, int]] = {
    "Firmware_Major_Version": (0, 1),
    "Firmware_Minor_Version": (1, 1),
    "Model_Number": (3, 2),
    "ID": (5, 1),
    "Baud_Rate": (6, 1),
    "Return_Delay_Time": (7, 1),
    "Response_Status_Level": (8, 1),
    "Min_Position_Limit": (9, 2),
    "Max_Position_Limit": (11, 2),
    "Max_Temperature_Limit": (13, 1),
    "Max_Voltage_Limit": (14, 1),
    "Min_Voltage_Limit": (15, 1),
    "Max_Torque_Limit": (16, 2),
    "Phase": (18, 1),
    "Unloading_Condition": (19, 1),
    "LED_Alarm_Condition": (20, 1),
    "P_Coefficient": (21, 1),
    "D_Coefficient": (22, 1),
    "I_Coefficient": (23, 1),
    "Minimum_Startup_Force": (24, 2),
    "CW_Dead_Zone": (26, 1),
    "CCW_Dead_Zone": (27, 1),
    "Protection_Current": (28, 2),
    "Angular_Resolution": (30, 1),
    "Homing_Offset": (31, 2),
    "Operating_Mode": (33, 1),
    "Protective_Torque": (34, 1),
    "Protection_Time": (35, 1),
    "Overload_Torque": (36, 1),
    "Torque_Enable": (40, 1),
    "Acceleration": (41, 1),
    "Goal_Position": (42, 2),
    "Goal_Time": (44, 2),
    "Goal_Velocity": (46, 2),
    "Torque_Limit": (48, 2),
    "Lock": (55, 1),
    "Present_Position": (56, 2),
    "Present_Velocity": (58, 2),
    "Present_Load": (60, 2),
    "Present_Voltage": (62, 1),
    "Present_Temperature": (63, 1),
    "Status": (65, 1),
    "Moving": (66, 1),
    "Present_Current": (69, 2),
    "Maximum_Acceleration": (85, 1),
}
SCS_CONTROL_TABLE = {**{k: v for k, v in STS_CONTROL_TABLE.items() if v[0] < 55}, "Lock": (48, 1)}
STS_SIGN_BITS = {
    "Present_Load": 10,
    "Homing_Offset": 11,
    "Goal_Position": 15,
    "Goal_Velocity": 15,
    "Present_Position": 15,
    "Present_Velocity": 15,
}
MODEL_NUMBERS = {"sts3215": 777, "sts3250": 2825, "sm8512bl": 11272, "scs0009": 1284}
MODEL_RESOLUTION = {"sts3215": 4096, "sts3250": 4096, "sm8512bl": 4096, "scs0009": 1024}
BAUDRATE_TABLE = {
    1_000_000: 0,
    500_000: 1,
    250_000: 2,
    128_000: 3,
    115_200: 4,
    57_600: 5,
    38_400: 6,
    19_200: 7,
}


def checksum(body: bytes) -> int:
    """``~(ID + LEN + INST/ERR + sum(params)) & 0xFF`` over the bytes after the header."""
    return (~sum(body)) & 0xFF


def packet(motor_id: int, code: int, params: bytes = b"") -> bytes:
    """Frame one packet (instruction or status, the layout is the same)."""
    body = bytes([motor_id, len(params) + 2, code]) + bytes(params)
    return HEADER + body + bytes([checksum(body)])


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """Signed int -> sign-magnitude (LeRobot ``encode_sign_magnitude``)."""
    magnitude = abs(value)
    if magnitude > (1 << sign_bit) - 1:
        raise ValueError(f"magnitude {magnitude} exceeds {(1 << sign_bit) - 1} (sign bit {sign_bit})")
    return ((1 if value < 0 else 0) << sign_bit) | magnitude


def decode_sign_magnitude(encoded: int, sign_bit: int) -> int:
    """Sign-magnitude -> signed int."""
    magnitude = encoded & ((1 << sign_bit) - 1)
    return -magnitude if (encoded >> sign_bit) & 1 else magnitude


def extract_packet(buf: bytearray, status: bool = True) -> Packet | None:
    """Pop the first complete packet from ``buf``; None if more bytes are needed.

    Mirrors the SDK's receiver hygiene: hunts for ``FF FF``, drops a byte when ID > 0xFD, LEN > 250 or (for
    status packets) ERR > 0x7F. Raises :class:`ChecksumError` after consuming a complete packet whose
    checksum is wrong.
    """
    while True:
        start = buf.find(HEADER)
        if start < 0:
            del buf[: max(0, len(buf) - 1)]  # keep a trailing FF that may start a header
            return None
        del buf[:start]
        if len(buf) < 5:
            return None
        motor_id, length = buf[2], buf[3]
        if motor_id == 0xFF:  # FF FF FF ...: the real header may start one byte later
            del buf[:1]
            continue
        if motor_id > 0xFE or length < 2 or length > 250 or (status and buf[4] > 0x7F):
            del buf[:1]
            continue
        total = length + 4
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        del buf[:total]
        if checksum(raw[2:-1]) != raw[-1]:
            raise ChecksumError(
                f"bad Feetech checksum from id {motor_id}: got 0x{raw[-1]:02X}, expected "
                f"0x{checksum(raw[2:-1]):02X} (packet {raw.hex(' ')})",
                packet_id=motor_id,
            )
        return Packet(motor_id, raw[4], raw[5:-1])


class FeetechCodec:
    """Feetech codec; ``protocol=0`` is STS/SMS (little-endian), ``protocol=1`` is SCS (big-endian)."""

    name = "feetech"
    broadcast_id = BROADCAST_ID
    apply_drive_mode = True
    homing_sign = 1
    firmware_registers: tuple[str, ...] = ("Firmware_Major_Version", "Firmware_Minor_Version")

    def __init__(self, protocol: int = 0) -> None:
        self.protocol = protocol
        self.byteorder: str = "little" if protocol == 0 else "big"

    # --- packets ---------------------------------------------------------------------------------
    def ping(self, motor_id: int) -> bytes:
        return packet(motor_id, PING)

    def read(self, motor_id: int, address: int, length: int) -> bytes:
        return packet(motor_id, READ, bytes([address, length]))

    def write(self, motor_id: int, address: int, data: bytes) -> bytes:
        return packet(motor_id, WRITE, bytes([address]) + data)

    def sync_read(self, address: int, length: int, ids: list[int]) -> bytes:
        return packet(BROADCAST_ID, SYNC_READ, bytes([address, length, *ids]))

    def sync_write(self, address: int, length: int, data: dict[int, bytes]) -> bytes:
        params = bytearray([address, length])
        for motor_id, chunk in data.items():
            if len(chunk) != length:
                raise ValueError(
                    f"sync write data for id {motor_id} has {len(chunk)} bytes, expected {length}"
                )
            params += bytes([motor_id]) + chunk
        return packet(BROADCAST_ID, SYNC_WRITE, bytes(params))

    def status(self, motor_id: int, error: int, params: bytes) -> bytes:
        return packet(motor_id, error, params)

    def extract(self, buf: bytearray, status: bool = True) -> Packet | None:
        return extract_packet(buf, status)

    # --- values ----------------------------------------------------------------------------------
    def to_bytes(self, value: int, length: int) -> bytes:
        if value < 0 or value >= 1 << (8 * length):
            raise ValueError(f"value {value} does not fit in {length} unsigned byte(s)")
        return int(value).to_bytes(length, self.byteorder)  # type: ignore[arg-type]

    def from_bytes(self, data: bytes) -> int:
        return int.from_bytes(data, self.byteorder)  # type: ignore[arg-type]

    def table(self, model: str) -> dict[str, tuple[int, int]]:
        return SCS_CONTROL_TABLE if model.startswith("scs") else STS_CONTROL_TABLE

    def address(self, model: str, register: str) -> tuple[int, int]:
        try:
            return self.table(model)[register]
        except KeyError as exc:
            raise KeyError(f"register {register!r} is not in the Feetech {model} control table") from exc

    def encode_sign(self, model: str, register: str, value: int) -> int:
        bit = None if model.startswith("scs") else STS_SIGN_BITS.get(register)
        return value if bit is None else encode_sign_magnitude(value, bit)

    def decode_sign(self, model: str, register: str, value: int) -> int:
        bit = None if model.startswith("scs") else STS_SIGN_BITS.get(register)
        return value if bit is None else decode_sign_magnitude(value, bit)

    def resolution(self, model: str) -> int:
        return MODEL_RESOLUTION[model]

    def model_number(self, model: str) -> int:
        return MODEL_NUMBERS[model]

    def configure_writes(self) -> list[tuple[str, int]]:
        """LeRobot's ``configure_motors``: no return delay, fastest acceleration."""
        writes = [("Return_Delay_Time", 0)]
        if self.protocol == 0:
            writes.append(("Maximum_Acceleration", 254))
        writes.append(("Acceleration", 254))
        return writes

    def torque_writes(self, enabled: bool) -> list[tuple[str, int]]:
        """Torque_Enable then Lock (LeRobot locks the EPROM while torque is on)."""
        return [("Torque_Enable", int(enabled)), ("Lock", int(enabled))]
