"""Dynamixel Protocol 2.0 codec against the reference bytes (hardware.md §1.8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.bus.codec import ChecksumError
from hardware.bus.dynamixel import DynamixelCodec, crc16, extract_packet, stuff, unstuff

C = DynamixelCodec()


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


def test_ping_crc() -> None:
    assert crc16(hx("FF FF FD 00 01 03 00 01")) == 0x4E19
    assert C.ping(1) == hx("FF FF FD 00 01 03 00 01 19 4E")


def test_sync_read_present_position_request() -> None:
    expected = "FF FF FD 00 FE 0D 00 82 84 00 04 00 01 02 03 04 05 06 B2 9B"
    assert C.sync_read(132, 4, [1, 2, 3, 4, 5, 6]) == hx(expected)


def test_status_reply() -> None:
    reply = hx("FF FF FD 00 01 08 00 55 00 D1 07 00 00 F7 EC")
    assert C.status(1, 0, C.to_bytes(2001, 4)) == reply
    packet = extract_packet(bytearray(reply))
    assert packet is not None and (packet.id, packet.code, C.from_bytes(packet.params)) == (1, 0, 2001)


def test_byte_stuffing_round_trip_in_packets() -> None:
    data = {1: hx("FF FF FD 00")}
    wire = C.sync_write(116, 4, data)
    assert hx("FF FF FD FD") in wire  # the payload's FF FF FD got an extra FD
    packet = extract_packet(bytearray(wire), status=False)
    assert packet is not None and packet.params.endswith(hx("01 FF FF FD 00"))


@given(st.binary(max_size=40))
def test_stuff_unstuff_round_trip(payload: bytes) -> None:
    assert unstuff(stuff(payload)) == payload


def test_twos_complement_registers() -> None:
    assert C.encode_sign("xl330-m288", "Homing_Offset", -1) == 0xFFFFFFFF
    assert C.decode_sign("xl330-m288", "Present_Position", 0xFFFFFFFE) == -2
    assert C.decode_sign("xl330-m288", "Torque_Enable", 1) == 1
    assert C.address("xl330-m288", "Present_Position") == (132, 4)


def test_bad_crc() -> None:
    with pytest.raises(ChecksumError):
        extract_packet(bytearray(hx("FF FF FD 00 01 08 00 55 00 D1 07 00 00 F7 ED")))
