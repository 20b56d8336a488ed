"""Dynamixel Protocol 2.0 codec for X-series servos (our own; no vendor SDK).

``FF FF FD 00 | ID | LEN_L LEN_H | INST | params | CRC_L CRC_H`` with LEN counting INST, params (after byte
stuffing) and the CRC. Status packets put ``0x55 ERR`` in place of INST. CRC-16/BUYPASS (poly 0x8005,
init 0, not reflected) over everything before the CRC. Values are little-endian two's complement
(reference hardware.md §1.8).
"""

from __future__ import annotations

from hardware.bus.codec import ChecksumError, Packet

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
PING, READ, WRITE, REG_WRITE, ACTION, REBOOT, STATUS, SYNC_READ, SYNC_WRITE = (
    0x01,
    0x02,
    0x03,
    0x04,
    0x05,
    0x08,
    0x55,
    0x82,
    0x83,
)

X_CONTROL_TABLE: dict[str, tuple[int, int]] = {
    "Model_Number": (0, 2),
    "Model_Information": (2, 4),
    "Firmware_Version": (6, 1),
    "ID": (7, 1),
    "Baud_Rate": (8, 1),
    "Return_Delay_Time": (9, 1),
    "Drive_Mode": (10, 1),
    "Operating_Mode": (11, 1),
    "Secondary_ID": (12, 1),
    "Protocol_Type": (13, 1),
    "Homing_Offset": (20, 4),
    "Moving_Threshold": (24, 4),
    "Temperature_Limit": (31, 1),
    "Max_Voltage_Limit": (32, 2),
    "Min_Voltage_Limit": (34, 2),
    "PWM_Limit": (36, 2),
    "Current_Limit": (38, 2),
    "Acceleration_Limit": (40, 4),
    "Velocity_Limit": (44, 4),
    "Max_Position_Limit": (48, 4),
    "Min_Position_Limit": (52, 4),
    "Shutdown": (63, 1),
    "Torque_Enable": (64, 1),
    "LED": (65, 1),
    "Status_Return_Level": (68, 1),
    "Registered_Instruction": (69, 1),
    "Hardware_Error_Status": (70, 1),
    "Velocity_I_Gain": (76, 2),
    "Velocity_P_Gain": (78, 2),
    "Position_D_Gain": (80, 2),
    "Position_I_Gain": (82, 2),
    "Position_P_Gain": (84, 2),
    "Feedforward_2nd_Gain": (88, 2),
    "Feedforward_1st_Gain": (90, 2),
    "Bus_Watchdog": (98, 1),
    "Goal_PWM": (100, 2),
    "Goal_Current": (102, 2),
    "Goal_Velocity": (104, 4),
    "Profile_Acceleration": (108, 4),
    "Profile_Velocity": (112, 4),
    "Goal_Position": (116, 4),
    "Realtime_Tick": (120, 2),
    "Moving": (122, 1),
    "Moving_Status": (123, 1),
    "Present_PWM": (124, 2),
    "Present_Current": (126, 2),
    "Present_Velocity": (128, 4),
    "Present_Position": (132, 4),
    "Velocity_Trajectory": (136, 4),
    "Position_Trajectory": (140, 4),
    "Present_Input_Voltage": (144, 2),
    "Present_Temperature": (146, 1),
}
SIGNED_REGISTERS = {
    "Homing_Offset",
    "Goal_PWM",
    "Goal_Current",
    "Goal_Velocity",
    "Goal_Position",
    "Present_Position",
    "Present_PWM",
    "Present_Current",
    "Present_Velocity",
}
MODEL_NUMBERS = {
    "xl330-m077": 1190,
    "xl330-m288": 1200,
    "xl430-w250": 1060,
    "xm430-w350": 1020,
    "xm540-w270": 1120,
    "xc430-w150": 1070,
}
BAUDRATE_TABLE = {9_600: 0, 57_600: 1, 115_200: 2, 1_000_000: 3, 2_000_000: 4, 3_000_000: 5, 4_000_000: 6}


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/BUYPASS as used by Dynamixel Protocol 2.0."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(payload: bytes) -> bytes:
    """Insert an extra FD after every ``FF FF FD`` in the instruction+params region."""
    out = bytearray()
    for i, byte in enumerate(payload):
        out.append(byte)
        if byte == 0xFD and i >= 2 and payload[i - 2] == 0xFF and payload[i - 1] == 0xFF:
            out.append(0xFD)
    return bytes(out)


def unstuff(payload: bytes) -> bytes:
    """Remove the FD that stuffing added after each ``FF FF FD``."""
    out = bytearray()
    i = 0
    while i < len(payload):
        out.append(payload[i])
        stuffed = payload[i] == 0xFD and len(out) >= 3 and out[-3] == 0xFF and out[-2] == 0xFF
        if stuffed and i + 1 < len(payload) and payload[i + 1] == 0xFD:
            i += 1
        i += 1
    return bytes(out)


def packet(motor_id: int, payload: bytes) -> bytes:
    """Frame ``payload`` (INST + params, or 0x55 ERR params) with header, stuffing, LEN and CRC."""
    stuffed = stuff(payload)
    length = len(stuffed) + 2
    head = HEADER + bytes([motor_id, length & 0xFF, length >> 8])
    crc = crc16(head + stuffed)
    return head + stuffed + bytes([crc & 0xFF, crc >> 8])


def extract_packet(buf: bytearray, status: bool = True) -> Packet | None:
    """Pop the first complete packet from ``buf`` (None if incomplete); ChecksumError on a bad CRC."""
    while True:
        start = buf.find(HEADER)
        if start < 0:
            keep = 3 if len(buf) >= 3 else len(buf)
            del buf[: len(buf) - keep]
            return None
        del buf[:start]
        if len(buf) < 8:
            return None
        motor_id = buf[4]
        length = buf[5] | (buf[6] << 8)
        if motor_id > 0xFE or length < 3 or (status and buf[7] != STATUS):
            del buf[:1]
            continue
        total = 7 + length
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        del buf[:total]
        crc = raw[-2] | (raw[-1] << 8)
        if crc16(raw[:-2]) != crc:
            raise ChecksumError(
                f"bad Dynamixel CRC from id {motor_id}: got 0x{crc:04X}, expected 0x{crc16(raw[:-2]):04X}",
                packet_id=motor_id,
            )
        payload = unstuff(raw[7:-2])
        if status:
            return Packet(motor_id, payload[1], payload[2:])
        return Packet(motor_id, payload[0], payload[1:])


def _u16(value: int) -> bytes:
    return bytes([value & 0xFF, (value >> 8) & 0xFF])


class DynamixelCodec:
    """Dynamixel Protocol 2.0 codec with the X-series control table."""

    name = "dynamixel"
    broadcast_id = BROADCAST_ID
    apply_drive_mode = False  # Dynamixel inverts in hardware through its Drive_Mode register
    homing_sign = -1
    firmware_registers: tuple[str, ...] = ("Firmware_Version",)

    def ping(self, motor_id: int) -> bytes:
        return packet(motor_id, bytes([PING]))

    def read(self, motor_id: int, address: int, length: int) -> bytes:
        return packet(motor_id, bytes([READ]) + _u16(address) + _u16(length))

    def write(self, motor_id: int, address: int, data: bytes) -> bytes:
        return packet(motor_id, bytes([WRITE]) + _u16(address) + data)

    def sync_read(self, address: int, length: int, ids: list[int]) -> bytes:
        return packet(BROADCAST_ID, bytes([SYNC_READ]) + _u16(address) + _u16(length) + bytes(ids))

    def sync_write(self, address: int, length: int, data: dict[int, bytes]) -> bytes:
        params = bytearray(_u16(address) + _u16(length))
        for motor_id, chunk in data.items():
            if len(chunk) != length:
                raise ValueError(
                    f"sync write data for id {motor_id} has {len(chunk)} bytes, expected {length}"
                )
            params += bytes([motor_id]) + chunk
        return packet(BROADCAST_ID, bytes([SYNC_WRITE]) + bytes(params))

    def status(self, motor_id: int, error: int, params: bytes) -> bytes:
        return packet(motor_id, bytes([STATUS, error]) + params)

    def extract(self, buf: bytearray, status: bool = True) -> Packet | None:
        return extract_packet(buf, status)

    def to_bytes(self, value: int, length: int) -> bytes:
        if value < 0 or value >= 1 << (8 * length):
            raise ValueError(f"value {value} does not fit in {length} unsigned byte(s)")
        return int(value).to_bytes(length, "little")

    def from_bytes(self, data: bytes) -> int:
        return int.from_bytes(data, "little")

    def address(self, model: str, register: str) -> tuple[int, int]:
        try:
            return X_CONTROL_TABLE[register]
        except KeyError as exc:
            raise KeyError(f"register {register!r} is not in the Dynamixel X-series control table") from exc

    def encode_sign(self, model: str, register: str, value: int) -> int:
        if register not in SIGNED_REGISTERS:
            return value
        bits = 8 * X_CONTROL_TABLE[register][1]
        return value & ((1 << bits) - 1)

    def decode_sign(self, model: str, register: str, value: int) -> int:
        if register not in SIGNED_REGISTERS:
            return value
        bits = 8 * X_CONTROL_TABLE[register][1]
        return value - (1 << bits) if value & (1 << (bits - 1)) else value

    def resolution(self, model: str) -> int:
        return 4096

    def model_number(self, model: str) -> int:
        return MODEL_NUMBERS[model]

    def configure_writes(self) -> list[tuple[str, int]]:
        """LeRobot's Dynamixel ``configure_motors``: minimal return delay."""
        return [("Return_Delay_Time", 0)]

    def torque_writes(self, enabled: bool) -> list[tuple[str, int]]:
        return [("Torque_Enable", int(enabled))]
