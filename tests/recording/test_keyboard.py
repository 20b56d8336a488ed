"""Control keys: escape-sequence parsing and the terminal reader on a real pty."""

from __future__ import annotations

import os
import time

import pytest

from recording.keyboard import RecordEvents, TerminalKeys, flush_escape, parse_keys


@pytest.mark.parametrize(
    ("data", "events"),
    [
        (b"\x1b[C", ["next"]),
        (b"\x1bOC", ["next"]),
        (b"\x1b[D", ["rerecord"]),
        (b"n r q", ["next", "rerecord", "stop"]),
        (b"sF", ["success", "failure"]),
        (b"\x1b[A\x1b[Cx", ["next"]),  # up arrow ignored, right arrow kept, other letters ignored
        (b"\x1bq", ["stop", "stop"]),  # Esc followed by q
    ],
)
def test_parse_keys(data: bytes, events: list[str]) -> None:
    assert parse_keys(data) == (events, b"")


def test_split_escape_sequence_waits_for_the_rest() -> None:
    events, pending = parse_keys(b"n\x1b")
    assert events == ["next"] and pending == b"\x1b"
    assert parse_keys(pending + b"[D") == (["rerecord"], b"")
    events, pending = parse_keys(b"\x1b[")
    assert (events, pending) == ([], b"\x1b[")
    assert flush_escape(b"\x1b") == ["stop"]  # nothing followed: the Esc key itself


def test_events_flags() -> None:
    ev = RecordEvents()
    ev.apply("rerecord")
    assert ev.exit_early and ev.rerecord_episode and not ev.stop_recording
    ev.new_phase()
    assert not ev.exit_early and ev.rerecord_episode
    ev.apply("stop")
    assert ev.stop_recording and ev.exit_early
    ev.apply("failure")
    assert ev.success is False


def _wait_for(cond, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_terminal_reader_on_a_pty_restores_the_terminal() -> None:
    import termios

    master, slave = os.openpty()
    stream = os.fdopen(slave, "rb", buffering=0)
    before = termios.tcgetattr(slave)
    events = RecordEvents()
    try:
        with TerminalKeys(events, stream=stream) as keys:
            assert keys.active
            assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak while reading
            os.write(master, b"\x1b[C")
            assert _wait_for(lambda: events.exit_early)
            os.write(master, b"\x1b")  # a lone Esc: recognised after a short pause
            assert _wait_for(lambda: events.stop_recording)
            with keys.paused():
                assert termios.tcgetattr(slave)[3] & termios.ICANON  # line mode for input()
            assert keys.active
        assert termios.tcgetattr(slave) == before
        assert events.log == ["next", "stop"]
    finally:
        stream.close()
        os.close(master)


def test_not_a_terminal_is_a_no_op(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with (tmp_path / "f").open("w+") as f, TerminalKeys(RecordEvents(), stream=f) as keys:
        assert not keys.active


def test_other_keys_are_passed_on_and_escape_sequences_are_not() -> None:
    others: list[bytes] = []
    events, rest = parse_keys(b"un\x1b[Cj\x1b[Ax;q", others)
    assert events == ["next", "next", "stop"] and rest == b""
    assert b"".join(others) == b"ujx;"


def test_keyboard_teleop_shares_the_terminal_with_the_recorder() -> None:
    from hardware.factory import make_teleoperator
    from hardware.robots.keyboard import KeyboardTeleop
    from recording.keyboard import CONTROL_LETTERS, KeyBuffer

    teleop = make_teleoperator("keyboard")
    assert isinstance(teleop, KeyboardTeleop)
    assert not set(teleop.config.bindings) & CONTROL_LETTERS  # the bundled bindings leave them free
    master, slave = os.openpty()
    stream = os.fdopen(slave, "rb", buffering=0)
    events, buffer = RecordEvents(), KeyBuffer()
    teleop.use_key_source(buffer.drain)
    try:
        with TerminalKeys(events, stream=stream, passthrough=buffer.feed), teleop:
            os.write(master, b"u")  # shoulder_pan +1: the teleop's key, not a control key
            os.write(master, b"q")  # stop: the recorder's
            assert _wait_for(lambda: events.stop_recording)
            assert teleop.get_action()["shoulder_pan.pos"] == 1.0
        assert events.log == ["stop"]
    finally:
        stream.close()
        os.close(master)


def test_a_keyboard_teleop_binding_a_control_key_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from recording import RecordRequest
    from recording.session import build_devices, record_session
    from robopipe.errors import ConfigError

    teleop = {
        "type": "keyboard",
        "initial": {"shoulder_pan.pos": 0.0},
        "bindings": {"q": ["shoulder_pan.pos", 1]},
    }
    req = RecordRequest(
        robot="sim-so101", teleop=teleop, repo_id="a/b", single_task="t", root=tmp_path / "ds"
    )
    with pytest.raises(ConfigError, match="binds q, which the recorder uses"):
        record_session(req, devices=build_devices(req))  # refused before any device connects
    assert not (tmp_path / "ds").exists()
