"""Packet transactions over a serial port: send, collect status packets, retry transient failures.

Ports are opened with ``serial.serial_for_url`` so device paths and pyserial URLs (``stsim://…``) both work.
Checksum errors (:class:`ProtocolError`) and missing replies (:class:`DeviceTimeoutError`) are retried a
bounded number of times; an I/O error (adapter unplugged) closes the port and raises :class:`DeviceError`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import serial

from hardware.bus.codec import ChecksumError, Codec, Packet
from robopipe.errors import DeviceError, DeviceTimeoutError, ProtocolError

try:
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - non-POSIX
    _TermiosError = OSError  # type: ignore[misc,assignment]

logger = logging.getLogger(__name__)

#: What pyserial raises when the adapter vanishes (termios.error comes from tcflush on a dead pty/tty).
IO_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, _TermiosError)


def open_serial(port: str, baudrate: int) -> Any:
    """``serial.serial_for_url`` with a short read timeout; ``stsim://`` URLs work without set-up."""
    if port.startswith("stsim://"):
        from hardware.sim import urlhandler

        urlhandler.register()
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=0.002)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(
            f"cannot open motor bus port {port!r} at {baudrate} baud: {exc}. "
            "Check the cable and power, or find the right port with `robopipe find-port`"
        ) from exc


class PacketTransport:
    """One serial port speaking ``codec``; ``names`` maps ids to motor names for error messages."""

    def __init__(
        self,
        port: str,
        codec: Codec,
        *,
        baudrate: int,
        timeout_s: float,
        num_retries: int,
        names: dict[int, str] | None = None,
    ) -> None:
        self.port = port
        self.codec = codec
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.num_retries = num_retries
        self.names = dict(names or {})
        self._serial: Any = None
        self._buf = bytearray()

    def __repr__(self) -> str:
        return f"{self.codec.name} bus on {self.port!r}"

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        if self._serial is None:
            self._serial = open_serial(self.port, self.baudrate)

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except IO_ERRORS as exc:
                logger.debug("closing %s: %s", self.port, exc)

    def _unplugged(self, exc: BaseException) -> DeviceError:
        self.close()
        return DeviceError(
            f"motor bus port {self.port!r} failed ({exc}); the adapter was probably unplugged or lost power. "
            "Reconnect it and call connect() again"
        )

    def _send(self, data: bytes) -> None:
        try:
            self._serial.reset_input_buffer()
            self._buf.clear()
            self._serial.write(data)
        except IO_ERRORS as exc:
            raise self._unplugged(exc) from exc

    def _receive(self, ids: list[int], deadline: float) -> dict[int, Packet]:
        replies: dict[int, Packet] = {}
        while len(replies) < len(ids):
            try:
                packet = self.codec.extract(self._buf, status=True)
            except ChecksumError as exc:
                raise ProtocolError(f"corrupt status packet on {self}: {exc}") from exc
            if packet is not None:
                if packet.id in ids and packet.id not in replies:  # others are stale/foreign: dropped
                    replies[packet.id] = packet
                continue
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
            except IO_ERRORS as exc:
                raise self._unplugged(exc) from exc
            now = time.monotonic()
            if chunk:
                self._buf += chunk
                if (
                    now <= deadline + self.timeout_s
                ):  # bytes still arriving: parse them (bounded, vs. noise floods)
                    continue
            if now > deadline:  # checked after a read, so a briefly stalled client still sees its replies
                missing = [i for i in ids if i not in replies]
                names = [self.names.get(i, str(i)) for i in missing]
                partial = f" (partial bytes: {bytes(self._buf).hex(' ')})" if self._buf else ""
                raise DeviceTimeoutError(
                    f"no status packet from {names} (ids {missing}) on {self} within "
                    f"{self.timeout_s * 1000:.0f} ms; check power/wiring of those motors{partial}"
                )
        return replies

    def transaction(
        self, packet: bytes, reply_ids: list[int], retries: int | None = None
    ) -> dict[int, Packet]:
        """Send ``packet`` and collect one status per id in ``reply_ids``, retrying transient failures."""
        if self._serial is None:
            raise DeviceError(f"{self} is closed; call connect() first")
        attempts = 1 + (self.num_retries if retries is None else retries)
        last: ProtocolError | DeviceTimeoutError | None = None
        for attempt in range(attempts):
            self._send(packet)
            if not reply_ids:
                return {}
            try:
                return self._receive(reply_ids, time.monotonic() + self.timeout_s)
            except (ProtocolError, DeviceTimeoutError) as exc:
                last = exc
                logger.debug("attempt %d/%d on %s failed: %s", attempt + 1, attempts, self, exc)
        if last is None:  # only reachable with attempts < 1
            raise DeviceError(f"no attempt made on {self}: num_retries must be >= 0")
        raise last
