"""``stsim://`` pyserial backend: a :class:`serial.SerialBase` whose other end is an in-process simulator core.

Writes go straight into the core (``handle(data, time.monotonic())``); replies are queued with their delay
and become readable when due. Servos only hear the port's ``baudrate`` (their Baud_Rate register). ``read`` honours ``timeout`` like a real port. An unplug fault makes reads and
writes raise :class:`serial.SerialException`, as a vanished USB adapter does.
"""

from __future__ import annotations

import time
from typing import Any

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from hardware.sim import urlhandler


class Serial(SerialBase):
    """Serial port backed by a simulator core."""

    is_open: bool

    def open(self) -> None:
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port already open")
        try:
            self._core = urlhandler.get_core(self.portstr)
        except (KeyError, ValueError) as exc:
            raise SerialException(f"cannot open {self.portstr!r}: {exc}") from exc
        self._rx = bytearray()
        self._pending: list[tuple[float, bytes]] = []
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def _reconfigure_port(self, force_update: bool = False) -> None:
        """Nothing to configure on a simulated wire."""

    def from_url(self, url: str) -> str:
        return url

    def _check(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        if self._core.faults.unplugged:
            raise SerialException(
                "device reports readiness to read but returned no data (device disconnected or multiple access on port?)"
            )

    def _collect(self) -> None:
        now = time.monotonic()
        due = [p for p in self._pending if p[0] <= now]
        if due:
            self._pending = [p for p in self._pending if p[0] > now]
            for _, data in sorted(due, key=lambda p: p[0]):
                self._rx += data

    @property
    def in_waiting(self) -> int:
        self._check()
        self._collect()
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        self._check()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            self._collect()
            if len(self._rx) >= size:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            nxt = min((p[0] for p in self._pending), default=None)
            wake = deadline if nxt is None else (nxt if deadline is None else min(nxt, deadline))
            if wake is None:  # blocking read with nothing coming
                time.sleep(0.001)
                continue
            time.sleep(max(0.0, min(wake - now, 0.01)))
            self._check()
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def write(self, data: Any) -> int:
        self._check()
        data = bytes(data)
        now = time.monotonic()
        baud = self._baudrate if hasattr(self._core, "servos") else None
        for reply in self._core.handle(data, now, baud):
            self._pending.append((now + reply.delay_s, reply.data))
        return len(data)

    def reset_input_buffer(self) -> None:
        self._check()
        self._collect()
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        self._check()

    def flush(self) -> None:
        self._check()


__all__ = ["Serial", "serial"]
