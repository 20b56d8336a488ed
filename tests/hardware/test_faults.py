"""Every injected fault, seen through :class:`SerialMotorBus` on the in-process ``stsim://`` backend."""

from __future__ import annotations

import pytest

from hardware.bus.serial_bus import SerialMotorBus
from hardware.sim import urlhandler
from hardware.sim.faults import Fault
from robopipe.errors import (
    DeviceError,
    DeviceNotConnectedError,
    DeviceTimeoutError,
    ProtocolError,
    TransientError,
)


def core_of(bus: SerialMotorBus):  # type: ignore[no-untyped-def]
    return urlhandler.get_core(bus.port)


def test_no_reply_is_retried(follower_bus: SerialMotorBus) -> None:
    core_of(follower_bus).inject(Fault("no_reply", servo=3, count=1))
    positions = follower_bus.sync_read("Present_Position", normalize=False)
    assert len(positions) == 6


def test_persistent_no_reply_raises_timeout(follower_bus: SerialMotorBus) -> None:
    core_of(follower_bus).inject(Fault("no_reply", servo=3, count=None))
    with pytest.raises(DeviceTimeoutError, match="elbow_flex") as info:
        follower_bus.sync_read("Present_Position")
    assert isinstance(info.value, TransientError)


def test_bad_checksum_is_retried_then_raises(follower_bus: SerialMotorBus) -> None:
    core = core_of(follower_bus)
    core.inject(Fault("bad_checksum", servo=2, count=2))  # two bad replies, third attempt succeeds
    assert follower_bus.read("Present_Position", "shoulder_lift", normalize=False) > 0
    core.inject(Fault("bad_checksum", servo=2, count=None))
    with pytest.raises(ProtocolError, match="checksum"):
        follower_bus.read("Present_Position", "shoulder_lift")


def test_truncated_packet_times_out_and_retry_recovers(follower_bus: SerialMotorBus) -> None:
    core_of(follower_bus).inject(Fault("truncate", servo=1, count=1))
    assert len(follower_bus.sync_read("Present_Position")) == 6
    core_of(follower_bus).inject(Fault("truncate", servo=1, count=None))
    with pytest.raises(DeviceTimeoutError, match="shoulder_pan"):
        follower_bus.sync_read("Present_Position")


def test_noise_bytes_are_skipped_without_retry(follower_bus: SerialMotorBus) -> None:
    core = core_of(follower_bus)
    core.inject(Fault("noise", servo=None, count=None))
    before = core.packets_seen
    assert len(follower_bus.sync_read("Present_Position")) == 6
    assert core.packets_seen == before + 1


def test_late_reply_is_retried_and_stale_bytes_ignored(follower_bus: SerialMotorBus) -> None:
    core_of(follower_bus).inject(Fault("late", servo=4, count=1, delay_s=0.08))
    first = follower_bus.sync_read("Present_Position", normalize=False)
    again = follower_bus.sync_read("Present_Position", normalize=False)
    assert first == again


def test_error_bits_fail_a_read_but_not_a_sync_read(follower_bus: SerialMotorBus) -> None:
    core = core_of(follower_bus)
    core.inject(Fault("error_bits", servo=6, count=1, error=0x20))
    assert len(follower_bus.sync_read("Present_Position")) == 6  # LeRobot ignores the error byte here
    core.inject(Fault("error_bits", servo=6, count=1, error=0x20))
    with pytest.raises(DeviceError, match="0x20"):
        follower_bus.read("Present_Position", "gripper")


def test_unplug_raises_device_error_not_transient(follower_bus: SerialMotorBus) -> None:
    core_of(follower_bus).inject(Fault("unplug"))
    with pytest.raises(DeviceError, match="unplugged") as info:
        follower_bus.sync_read("Present_Position")
    assert not isinstance(info.value, TransientError)
    assert not follower_bus.is_connected
    with pytest.raises(DeviceNotConnectedError):
        follower_bus.sync_read("Present_Position")


def test_missing_motor_fails_the_handshake(sim_url: str) -> None:
    from hardware.base import Motor
    from hardware.bus.feetech import FeetechCodec

    bus = SerialMotorBus(sim_url, {"ghost": Motor(id=9, model="sts3215")}, FeetechCodec(), timeout_s=0.02)
    with pytest.raises(DeviceError, match=r"missing \['ghost \(id 9\)'\]"):
        bus.connect()
    assert not bus.is_connected


def test_wrong_model_fails_the_handshake(sim_url: str) -> None:
    from hardware.base import Motor
    from hardware.bus.feetech import FeetechCodec

    bus = SerialMotorBus(sim_url, {"a": Motor(id=1, model="sts3250")}, FeetechCodec(), timeout_s=0.02)
    with pytest.raises(DeviceError, match="expected sts3250 = 2825, got 777"):
        bus.connect()


def test_unknown_port_says_how_to_fix() -> None:
    from hardware.bus.feetech import FeetechCodec

    bus = SerialMotorBus("/dev/does-not-exist", {}, FeetechCodec())
    with pytest.raises(DeviceError, match="find-port"):
        bus.connect()
