"""The pure simulator core, driven with injected time (no I/O, no sleeping)."""

from __future__ import annotations

import pytest

from hardware.bus.feetech import FeetechCodec, extract_packet
from hardware.sim.presets import build, preset_calibration
from hardware.sim.servo_bus import ServoBusSim

C = FeetechCodec()


def ask(core: ServoBusSim, packet: bytes, now: float) -> list[bytes]:
    return [r.data for r in core.handle(packet, now)]


def present(core: ServoBusSim, motor_id: int, now: float) -> int:
    (reply,) = ask(core, C.read(motor_id, 56, 2), now)
    packet = extract_packet(bytearray(reply))
    assert packet is not None
    return C.decode_sign("sts3215", "Present_Position", C.from_bytes(packet.params))


def test_defaults_and_handshake_registers() -> None:
    core = build("so101-follower", calibrated=False)
    assert ask(core, C.ping(1), 0.0) == [C.status(1, 0, b"")]
    assert ask(core, C.read(1, 3, 2), 0.0) == [C.status(1, 0, C.to_bytes(777, 2))]
    assert core.servos[0].get("Return_Delay_Time") == 250
    assert core.servos[0].get("Max_Position_Limit") == 4095
    assert ask(core, C.ping(9), 0.0) == []  # missing servo: silence


def test_broadcast_ping_and_sync_read_order() -> None:
    core = build("so101-follower")
    replies = ask(core, C.ping(0xFE), 0.0)
    assert [extract_packet(bytearray(r)).id for r in replies] == [1, 2, 3, 4, 5, 6]  # type: ignore[union-attr]
    replies = ask(core, C.sync_read(56, 2, [3, 1, 2]), 0.0)
    assert [extract_packet(bytearray(r)).id for r in replies] == [3, 1, 2]  # type: ignore[union-attr]


def test_goal_is_gated_by_torque_and_motion_is_bounded() -> None:
    core = build("so101-follower", max_speed=1000.0)
    start = present(core, 1, 0.0)
    assert ask(core, C.write(1, 42, C.to_bytes(start + 500, 2)), 0.0)  # torque off: stored, no motion
    assert present(core, 1, 1.0) == start
    ask(core, C.write(1, 40, b"\x01"), 1.0)  # torque on: holds where it is
    assert present(core, 1, 2.0) == start
    ask(core, C.sync_write(42, 2, {1: C.to_bytes(start + 500, 2)}), 2.0)  # sync write: no reply
    assert present(core, 1, 2.2) == pytest.approx(start + 200, abs=1)  # 1000 counts/s for 0.2 s
    assert present(core, 1, 5.0) == start + 500


def test_homing_offset_semantics() -> None:
    core = build("so101-follower", calibrated=False)
    actual = round(core.servos[0].actual)
    assert present(core, 1, 0.0) == actual
    ask(core, C.write(1, 31, C.to_bytes(C.encode_sign("sts3215", "Homing_Offset", -709), 2)), 0.0)
    assert present(core, 1, 0.0) == (actual + 709) % 4096  # Present = Actual - Homing


def test_calibrated_preset_reads_mid_range() -> None:
    core = build("so101-follower")
    cal = preset_calibration("so101-follower")["shoulder_pan"]
    assert present(core, 1, 0.0) == (cal.range_min + cal.range_max) // 2
    assert core.servos[0].get("Homing_Offset") == cal.homing_offset


def test_leader_follows_the_operator_then_holds() -> None:
    core = build("so101-leader", motion_s=1.0, period_s=4.0)
    a = present(core, 1, 0.0)
    b = present(core, 1, 1.0)  # a quarter period later
    c = present(core, 1, 3.0)  # operator stopped at t = 1 s
    assert a != b and b == c


def test_corrupt_instruction_is_ignored() -> None:
    core = build("so101-follower")
    bad = bytearray(C.ping(1))
    bad[-1] ^= 0xFF
    assert ask(core, bytes(bad), 0.0) == []
    assert ask(core, C.ping(1), 0.0) == [C.status(1, 0, b"")]


def test_dynamixel_core_answers_x_series_reads() -> None:
    from hardware.bus.dynamixel import DynamixelCodec
    from hardware.bus.dynamixel import extract_packet as dxl_extract

    d = DynamixelCodec()
    core = build("koch-follower")
    (reply,) = [r.data for r in core.handle(d.read(1, 0, 2), 0.0)]
    packet = dxl_extract(bytearray(reply))
    assert packet is not None and d.from_bytes(packet.params) == 1060  # xl430-w250
    replies = [r.data for r in core.handle(d.sync_read(132, 4, [1, 2]), 0.0)]
    assert len(replies) == 2


def test_servos_only_hear_their_baud_rate() -> None:
    core = build("so101-follower")
    assert ask(core, C.ping(1), 0.0) == [C.status(1, 0, b"")]
    assert core.handle(C.ping(1), 0.0, baudrate=57_600) == []
    assert core.handle(C.ping(1), 0.0, baudrate=1_000_000)
    # switch servo 1 to 500 kbaud (Baud_Rate index 1), as lerobot-setup-motors does in reverse
    core.handle(C.write(1, 6, b"\x01"), 0.0, baudrate=1_000_000)
    assert core.handle(C.ping(1), 0.0, baudrate=1_000_000) == []
    assert [r.data for r in core.handle(C.ping(1), 0.0, baudrate=500_000)] == [C.status(1, 0, b"")]
