"""DAMIAO USB-to-CAN bridge framing and MIT encodings (reference hardware.md §3, DM_CAN.py layout)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.bus import damiao


def test_host_frame_layout() -> None:
    frame = damiao.host_frame(0x102, bytes(range(8)))
    assert len(frame) == damiao.HOST_FRAME_LEN == 30
    assert frame[:4] == bytes([0x55, 0xAA, 0x1E, 0x03])
    assert frame[13:17] == bytes([0x02, 0x01, 0, 0])
    assert frame[18] == 8 and frame[21:29] == bytes(range(8))
    assert damiao.parse_host_frame(frame) == (0x102, bytes(range(8)))


def test_device_frames_are_extracted_from_noise() -> None:
    frame = damiao.device_frame(0x11, bytes(range(8)))
    assert len(frame) == 16 and frame[0] == 0xAA and frame[-1] == 0x55
    buf = bytearray(b"\x01\x02" + frame + frame[:5])
    assert damiao.extract_device_frames(buf) == [(0x11, 0x11, bytes(range(8)))]
    assert bytes(buf) == frame[:5]


def test_mit_known_values() -> None:
    # q = 0 -> midpoint 0x7FFF, kp = 0, kd = 0, dq = 0 -> 0x7FF, tau = 0 -> 0x7FF
    data = damiao.encode_mit(0.0, 0.0, 0.0, 0.0, 0.0, "DM4310")
    assert data == bytes([0x7F, 0xFF, 0x7F, 0xF0, 0x00, 0x00, 0x07, 0xFF])
    assert damiao.command(damiao.ENABLE) == b"\xff" * 7 + b"\xfc"


@given(
    st.floats(-12.5, 12.5),
    st.floats(-30, 30),
    st.floats(0, 500),
    st.floats(0, 5),
    st.floats(-10, 10),
)
def test_mit_round_trip_within_quantisation(q: float, dq: float, kp: float, kd: float, tau: float) -> None:
    cmd = damiao.decode_mit(damiao.encode_mit(q, dq, kp, kd, tau, "DM4310"), "DM4310")
    assert cmd.q == pytest.approx(q, abs=25 / 65535 + 1e-9)
    assert cmd.dq == pytest.approx(dq, abs=60 / 4095 + 1e-9)
    assert cmd.kp == pytest.approx(kp, abs=500 / 4095 + 1e-9)
    assert cmd.kd == pytest.approx(kd, abs=5 / 4095 + 1e-9)
    assert cmd.tau == pytest.approx(tau, abs=20 / 4095 + 1e-9)


def test_state_round_trip() -> None:
    state = damiao.MotorState(slave_id=3, state=1, q=1.25, dq=-2.0, tau=0.5, t_mos=40, t_rotor=38)
    back = damiao.decode_state(damiao.encode_state(state, "DM6006"), "DM6006")
    assert (back.slave_id, back.state, back.t_mos, back.t_rotor) == (3, 1, 40, 38)
    assert back.q == pytest.approx(1.25, abs=1e-3)
    assert back.dq == pytest.approx(-2.0, abs=0.03)
    assert back.tau == pytest.approx(0.5, abs=0.02)
