"""Keyboard teleoperator: bound keys nudge action values (e.g. ``shoulder_pan.pos``) while pressed.

Keys come from a ``key_source`` callable returning the characters typed since the last call (the default reads
the terminal in cbreak mode, non-blocking). A key counts as held for ``hold_s`` after its last event, which
makes auto-repeat behave like a held key. Headless or non-tty: no keys, the action stays at ``initial``.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable

from hardware.base import FeatureType, Teleoperator, requires_connection
from hardware.config import KeyboardConfig


def _terminal_source() -> tuple[Callable[[], str], Callable[[], None]]:
    """(read typed characters, restore terminal); no-ops when stdin is not a tty."""
    if not sys.stdin.isatty():
        return (lambda: ""), (lambda: None)
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read() -> str:
        chars = []
        while select.select([fd], [], [], 0)[0]:
            chars.append(os.read(fd, 1).decode(errors="ignore"))
        return "".join(chars)

    return read, (lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved))


class KeyboardTeleop(Teleoperator):
    """Turns key presses into action deltas."""

    name = "keyboard"

    def __init__(self, config: KeyboardConfig, key_source: Callable[[], str] | None = None) -> None:
        self.config = config
        self._key_source = key_source
        self._restore: Callable[[], None] = lambda: None
        self._read: Callable[[], str] | None = None
        self._last_seen: dict[str, float] = {}
        self.values: dict[str, float] = {}

    @property
    def is_connected(self) -> bool:
        return self._read is not None

    @property
    def action_features(self) -> dict[str, FeatureType]:
        keys = dict.fromkeys([*self.config.initial, *(k for k, _ in self.config.bindings.values())])
        return {key: float for key in keys}

    def use_key_source(self, key_source: Callable[[], str]) -> None:
        """Take keys from ``key_source`` instead of the terminal (the recorder forwards the keys it does not use)."""
        self._key_source = key_source

    def connect(self) -> None:
        if self._key_source is not None:
            self._read = self._key_source
        else:
            self._read, self._restore = _terminal_source()
        self.values = {key: float(self.config.initial.get(key, 0.0)) for key in self.action_features}

    def disconnect(self) -> None:
        self._restore()
        self._read = None

    @requires_connection
    def get_action(self) -> dict[str, float]:
        now = time.monotonic()
        read = self._read
        for char in read() if read is not None else "":
            self._last_seen[char] = now
        for key, (target, step) in self.config.bindings.items():
            if now - self._last_seen.get(key, -1e9) <= self.config.hold_s:
                self.values[target] += step
        return dict(self.values)

    def __repr__(self) -> str:
        return f"KeyboardTeleop({len(self.config.bindings)} bindings)"
