"""Feetech codec against the byte strings captured from the real SDK (reference hardware.md §1.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.bus.codec import ChecksumError
from hardware.bus.feetech import (
    STS_CONTROL_TABLE,
    FeetechCodec,
    decode_sign_magnitude,
    encode_sign_magnitude,
    extract_packet,
)

C = FeetechCodec()


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


def test_sync_read_present_position_request() -> None:
    assert C.sync_read(56, 2, [1, 2, 3, 4, 5, 6]) == hx("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26")


def test_sync_read_replies_decode_to_positions() -> None:
    wire = hx(
        "FF FF 01 04 00 D1 07 22 FF FF 02 04 00 D2 07 20 FF FF 03 04 00 D3 07 1E "
        "FF FF 04 04 00 D4 07 1C FF FF 05 04 00 D5 07 1A FF FF 06 04 00 D6 07 18"
    )
    buf = bytearray(wire)
    values = []
    while (packet := extract_packet(buf)) is not None:
        values.append((packet.id, packet.code, C.from_bytes(packet.params)))
    assert values == [(i, 0, 2000 + i) for i in range(1, 7)]
    assert C.status(1, 0, (2001).to_bytes(2, "little")) == hx("FF FF 01 04 00 D1 07 22")


def test_sync_write_goal_position() -> None:
    data = {i: C.to_bytes(2048 + i, 2) for i in range(1, 7)}
    expected = "FF FF FE 16 83 2A 02 01 01 08 02 02 08 03 03 08 04 04 08 05 05 08 06 06 08 E2"
    assert C.sync_write(42, 2, data) == hx(expected)


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        (C.ping(1), "FF FF 01 02 01 FB"),
        (C.read(1, 3, 2), "FF FF 01 04 02 03 02 F3"),
        (C.write(1, 40, b"\x01"), "FF FF 01 04 03 28 01 CE"),
        (C.read(1, 56, 2), "FF FF 01 04 02 38 02 BE"),
        (C.status(1, 0, b""), "FF FF 01 02 00 FC"),
        (C.status(1, 0, C.to_bytes(777, 2)), "FF FF 01 04 00 09 03 EE"),
    ],
)
def test_single_packets(packet: bytes, expected: str) -> None:
    assert packet == hx(expected)


def test_control_table_addresses() -> None:
    assert STS_CONTROL_TABLE["Present_Position"] == (56, 2)
    assert STS_CONTROL_TABLE["Goal_Position"] == (42, 2)
    assert STS_CONTROL_TABLE["Homing_Offset"] == (31, 2)
    assert STS_CONTROL_TABLE["Lock"] == (55, 1)
    assert C.model_number("sts3215") == 777


def test_homing_offset_sign_magnitude() -> None:
    # -709 is written as 0x800 | 709 = 2757 (verified on the wire)
    assert C.encode_sign("sts3215", "Homing_Offset", -709) == 2757
    assert C.decode_sign("sts3215", "Homing_Offset", 2757) == -709
    assert C.encode_sign("sts3215", "Goal_Position", -5) == 0x8005
    assert C.encode_sign("sts3215", "Torque_Enable", 1) == 1
    with pytest.raises(ValueError):
        encode_sign_magnitude(2048, 11)


@given(st.integers(-2047, 2047))
def test_sign_magnitude_round_trip(value: int) -> None:
    assert decode_sign_magnitude(encode_sign_magnitude(value, 11), 11) == value


def test_extract_skips_noise_and_waits_for_more_bytes() -> None:
    buf = bytearray(hx("00 13 FE 55 FF FF 01 04 00 D1"))
    assert extract_packet(buf) is None  # incomplete: kept
    buf += hx("07 22")
    packet = extract_packet(buf)
    assert packet is not None and packet.id == 1 and packet.params == hx("D1 07")
    assert not buf


def test_bad_checksum_raises_after_consuming() -> None:
    buf = bytearray(hx("FF FF 01 04 00 D1 07 23 FF FF 02 02 00 FB"))
    with pytest.raises(ChecksumError):
        extract_packet(buf)
    packet = extract_packet(buf)
    assert packet is not None and packet.id == 2


def test_scs_is_big_endian_without_sign() -> None:
    scs = FeetechCodec(protocol=1)
    assert scs.to_bytes(0x0309, 2) == hx("03 09")
    assert scs.encode_sign("scs0009", "Goal_Position", 5) == 5
    assert scs.address("scs0009", "Lock") == (48, 1)
