"""Fault injection for the simulators: per servo, per reply packet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["no_reply", "bad_checksum", "truncate", "noise", "late", "error_bits", "unplug"]


@dataclass
class Fault:
    """One injected fault.

    Attributes:
        kind: what goes wrong with a reply.
        servo: id it applies to (None = any servo).
        count: how many replies it affects (None = until cleared).
        delay_s: extra delay of a ``late`` reply.
        error: status error bits for ``error_bits`` (0x20 = overload).
        noise: bytes put in front of the reply for ``noise``.
    """

    kind: FaultKind
    servo: int | None = None
    count: int | None = 1
    delay_s: float = 0.3
    error: int = 0x20
    noise: bytes = b"\x00\x13\xfe\x55"


@dataclass
class Reply:
    """Bytes the device sends, ``delay_s`` after the request arrived."""

    data: bytes
    delay_s: float = 0.0


@dataclass
class FaultPlan:
    """The active faults of one bus; :meth:`apply` transforms a reply."""

    faults: list[Fault] = field(default_factory=list)
    unplugged: bool = False

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, servo: int) -> Fault | None:
        """The first fault for ``servo`` (consuming one use of it)."""
        for fault in self.faults:
            if fault.servo is None or fault.servo == servo:
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def apply(self, servo: int, reply: Reply, rebuild: Callable[[int], bytes] | None = None) -> Reply | None:
        """Return the (possibly damaged) reply, or None when it is dropped.

        ``rebuild(error)`` frames the same reply with other status error bits (the caller knows the framing).
        """
        fault = self.take(servo)
        if fault is None:
            return reply
        if fault.kind == "unplug":
            self.unplugged = True
            return None
        if fault.kind == "no_reply":
            return None
        if fault.kind == "bad_checksum":
            return Reply(reply.data[:-1] + bytes([reply.data[-1] ^ 0x5A]), reply.delay_s)
        if fault.kind == "truncate":
            return Reply(reply.data[: max(1, len(reply.data) // 2)], reply.delay_s)
        if fault.kind == "noise":
            return Reply(fault.noise + reply.data, reply.delay_s)
        if fault.kind == "late":
            return Reply(reply.data, reply.delay_s + fault.delay_s)
        return Reply(rebuild(fault.error) if rebuild is not None else reply.data, reply.delay_s)
