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
