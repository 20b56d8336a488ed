"""Recording control keys read from the terminal, without pynput or a display (recording layer).

Same keys as ``lerobot-record``: **→** ends the current phase early (next episode), **←** re-records the
episode, **Esc** stops the session; plus LeRobot main's letters **n** / **r** / **q**, and **s** / **f** to
mark the episode a success / failure. When stdin is a terminal, a thread reads it in cbreak mode
(one key at a time, no echo) and restores the terminal when stopped; otherwise only the timers run.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

logger = logging.getLogger(__name__)

Event = Literal["next", "rerecord", "stop", "success", "failure"]

ESC = b"\x1b"
_SEQUENCES: dict[bytes, Event] = {
    b"\x1b[C": "next",  # right arrow (normal mode)
    b"\x1bOC": "next",  # right arrow (application cursor mode)
    b"\x1b[D": "rerecord",  # left arrow
    b"\x1bOD": "rerecord",
}
_LETTERS: dict[bytes, Event] = {
    b"n": "next",
    b"N": "next",
    b"r": "rerecord",
    b"R": "rerecord",
    b"q": "stop",
    b"Q": "stop",
    b"s": "success",
    b"S": "success",
    b"f": "failure",
    b"F": "failure",
    b"\x03": "stop",  # Ctrl-C arrives as a byte in cbreak mode only if ISIG is off; harmless otherwise
}


def parse_keys(data: bytes, others: list[bytes] | None = None) -> tuple[list[Event], bytes]:
    """Events in ``data`` plus an unfinished escape sequence to prepend to the next read.

    Bytes that are not control keys (nor part of an escape sequence) are appended to ``others`` when given:
    a keyboard teleoperator gets them.

    A lone ``ESC`` at the very end is returned as the remainder (it may be the start of an arrow key);
    the reader calls :func:`flush_escape` when no more bytes follow within a few milliseconds.
    """
    events: list[Event] = []
    i = 0
    while i < len(data):
        if data[i : i + 1] == ESC:
            rest = data[i:]
            for seq, event in _SEQUENCES.items():
                if rest.startswith(seq):
                    events.append(event)
                    i += len(seq)
                    break
            else:
                if len(rest) < 3 and any(seq.startswith(rest) for seq in _SEQUENCES):
                    return events, rest  # incomplete sequence: wait for more bytes
                if rest[1:2] in (b"[", b"O"):  # another CSI/SS3 sequence (up/down, F-keys): skip it
                    j = i + 2
                    while j < len(data) and not (0x40 <= data[j] <= 0x7E):
                        j += 1
                    i = j + 1
                else:
                    events.append("stop")  # a bare Esc
                    i += 1
            continue
        letter = _LETTERS.get(data[i : i + 1])
        if letter is not None:
            events.append(letter)
        elif others is not None:
            others.append(data[i : i + 1])
        i += 1
    return events, b""


#: the letters the recorder uses; a keyboard teleoperator must not bind them
CONTROL_LETTERS = frozenset(k.decode() for k in _LETTERS if k.isalpha())


def flush_escape(pending: bytes) -> list[Event]:
    """Events of a remainder after a pause: a lone ``ESC`` is the Esc key."""
    return ["stop"] if pending == ESC else []


@dataclass
class RecordEvents:
    """Flags the record loop polls (thread-safe enough: each is set by one thread, read by another)."""

    exit_early: bool = False
    rerecord_episode: bool = False
    stop_recording: bool = False
    success: bool | None = None
    log: list[Event] = field(default_factory=list)

    def apply(self, event: Event) -> None:
        self.log.append(event)
        if event == "next":
            self.exit_early = True
        elif event == "rerecord":
            self.rerecord_episode = True
            self.exit_early = True
        elif event == "stop":
            self.stop_recording = True
            self.exit_early = True
        elif event == "success":
            self.success = True
        elif event == "failure":
            self.success = False

    def new_phase(self) -> None:
        self.exit_early = False


class KeyBuffer:
    """Characters the recorder's key reader passes on, drained by a keyboard teleoperator each loop step."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chars: list[str] = []

    def feed(self, text: str) -> None:
        with self._lock:
            self._chars.append(text)

    def drain(self) -> str:
        with self._lock:
            text, self._chars = "".join(self._chars), []
        return text


class TerminalKeys:
    """Read control keys from a terminal in a background thread (no-op when ``stream`` is not a tty).

    ``with TerminalKeys(events): ...``; :meth:`paused` restores the terminal for a line prompt.
    """

    def __init__(
        self, events: RecordEvents, stream: Any = None, passthrough: Callable[[str], None] | None = None
    ) -> None:
        self.events = events
        self.stream = stream if stream is not None else sys.stdin
        self.passthrough = passthrough  # gets every other typed character (a keyboard teleoperator's keys)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._saved: Any = None
        self._wake_r, self._wake_w = -1, -1

    @property
    def active(self) -> bool:
        return self._thread is not None

    def _fd(self) -> int | None:
        try:
            fd = int(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            return None
        return fd if os.isatty(fd) else None

    def start(self) -> None:
        fd = self._fd()
        if fd is None or self._thread is not None:
            if fd is None:
                logger.info("stdin is not a terminal: keyboard controls off (episodes end on their timers)")
            return
        import termios
        import tty

        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._stop.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, args=(fd,), name="record-keys", daemon=True)
        self._thread.start()
        logger.info("keys: → or n = next, ← or r = re-record, Esc or q = stop, s/f = success/failure")

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
        self._thread = None
        os.close(self._wake_r)
        os.close(self._wake_w)
        fd = self._fd()
        if fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)
        self._saved = None

    def paused(self) -> _Paused:
        """Context manager: terminal back to line mode (for ``input()``), keys resume afterwards."""
        return _Paused(self)

    def _run(self, fd: int) -> None:
        pending = b""
        while not self._stop.is_set():
            timeout = 0.03 if pending else None
            readable, _, _ = select.select([fd, self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                return
            if fd not in readable:  # pause after an ESC: it was the Esc key itself
                for event in flush_escape(pending):
                    self.events.apply(event)
                pending = b""
                continue
            data = os.read(fd, 64)
            if not data:
                return
            others: list[bytes] = []
            events, pending = parse_keys(pending + data, others)
            for event in events:
                self.events.apply(event)
            if others and self.passthrough is not None:
                self.passthrough(b"".join(others).decode(errors="ignore"))

    def __enter__(self) -> TerminalKeys:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Paused:
    def __init__(self, keys: TerminalKeys) -> None:
        self.keys = keys
        self.was_active = False

    def __enter__(self) -> None:
        self.was_active = self.keys.active
        self.keys.stop()

    def __exit__(self, *exc: object) -> None:
        if self.was_active:
            self.keys.start()
