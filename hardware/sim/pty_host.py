"""Host simulator cores on Linux ptys in a separate process (so a busy client cannot starve them).

``with SimulatorProcess(["so101-follower", "so101-leader"]) as sim:`` starts one child process
(``python -m hardware.sim.pty_host``; no multiprocessing, so scripts need no ``__main__`` guard) owning one pty
per preset; ``sim.ports`` are the slave paths (``/dev/pts/N``) to open with pyserial or LeRobot. The child keeps
each slave fd open (otherwise the master reads EIO whenever the client closes the port), puts the pty in
raw mode before the first byte, answers requests, and delivers late replies on schedule. JSON lines on the child's
stdin/stdout inject faults, reads state, and "unplugs" a bus by closing its master.
"""

from __future__ import annotations

import fcntl
import heapq
import json
import logging
import os
import select
import struct
import subprocess
import sys
import termios
import time
import tty
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from hardware.sim.faults import Fault
from robopipe.errors import DeviceError

logger = logging.getLogger(__name__)


def _serve(specs: list[dict[str, Any]], ctrl_in: int, ctrl_out: Any) -> None:
    """Child main loop: one pty per spec; JSON-line commands on ``ctrl_in``, answers on ``ctrl_out``."""
    from hardware.sim.presets import build

    cores = [build(**spec) for spec in specs]
    masters: list[int | None] = []
    slaves, paths = [], []
    for _ in cores:
        master, slave = os.openpty()
        tty.setraw(slave)
        masters.append(master)
        slaves.append(slave)
        paths.append(os.ttyname(slave))
    _answer(ctrl_out, {"ports": paths, "pid": os.getpid()})
    pending: list[tuple[float, int, int, bytes]] = []  # (due, seq, bus index, data)
    seq = 0
    ctrl_buf = b""
    running = True
    while running:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, index, data = heapq.heappop(pending)
            fd = masters[index]
            if fd is not None:
                os.write(fd, data)
        timeout = max(0.0, pending[0][0] - now) if pending else 0.05
        fds = [fd for fd in masters if fd is not None]
        readable, _, _ = select.select([*fds, ctrl_in], [], [], timeout)
        for fd in readable:
            if fd == ctrl_in:
                chunk = os.read(ctrl_in, 65536)
                if not chunk:  # parent went away
                    running = False
                    break
                ctrl_buf += chunk
                while b"\n" in ctrl_buf:
                    line, ctrl_buf = ctrl_buf.split(b"\n", 1)
                    running = running and _control(json.loads(line), ctrl_out, cores, masters)
                continue
            if fd not in masters:  # unplugged by a control command in this round
                continue
            index = masters.index(fd)
            try:
                data = os.read(fd, 4096)
            except OSError:
                continue
            now = time.monotonic()
            core = cores[index]
            baud = slave_baudrate(slaves[index]) if hasattr(core, "servos") else None
            for reply in core.handle(data, now, baud):
                if reply.delay_s <= 0:
                    os.write(fd, reply.data)
                else:
                    seq += 1
                    heapq.heappush(pending, (now + reply.delay_s, seq, index, reply.data))
            if core.faults.unplugged:
                _unplug(masters, index)
    for fd in [*masters, *slaves]:
        if fd is not None:
            os.close(fd)


_TCGETS2 = 0x802C542A  # _IOR('T', 0x2A, struct termios2) on Linux
_BOTHER = 0o010000
_SPEEDS = {
    getattr(termios, name): int(name[1:]) for name in dir(termios) if name[:1] == "B" and name[1:].isdigit()
}


def slave_baudrate(fd: int) -> int | None:
    """The speed the client configured on the pty (``termios2`` for non-standard rates), or None."""
    try:
        speed = termios.tcgetattr(fd)[5]
        if speed != _BOTHER and speed in _SPEEDS:
            return _SPEEDS[speed]
        buf = fcntl.ioctl(fd, _TCGETS2, b"\0" * 44)
        return int(struct.unpack("11I", buf)[10])
    except (OSError, termios.error):
        return None


def _answer(out: Any, payload: Any) -> None:
    out.write(json.dumps(payload) + "\n")
    out.flush()


def _unplug(masters: list[int | None], index: int) -> None:
    fd = masters[index]
    if fd is not None:
        os.close(fd)
        masters[index] = None


def _control(message: dict[str, Any], out: Any, cores: list[Any], masters: list[int | None]) -> bool:
    command, index, payload = message["command"], message.get("index", 0), message.get("payload")
    if command == "stop":
        _answer(out, {"ok": True})
        return False
    core = cores[index]
    core.advance(time.monotonic())
    if command == "fault":
        payload = dict(payload or {})
        if "noise" in payload:
            payload["noise"] = bytes.fromhex(payload["noise"])
        core.inject(Fault(**payload))
    elif command == "clear":
        core.faults.clear()
    elif command == "unplug":
        core.faults.unplugged = True
        _unplug(masters, index)
    _answer(out, {"ok": True, "state": core.state(), "packets_seen": core.packets_seen})
    return True


class SimulatorProcess:
    """A child process (``python -m hardware.sim.pty_host``) hosting one simulated bus per preset on a pty.

    Args:
        presets: preset names (see :data:`hardware.sim.presets.PRESETS`), or dicts ``{"preset": ..., **options}``.
        startup_timeout_s: how long to wait for the child to publish its pty paths.
    """

    def __init__(self, presets: list[str | dict[str, Any]], startup_timeout_s: float = 30.0) -> None:
        self.specs = [{"preset": p} if isinstance(p, str) else dict(p) for p in presets]
        self.startup_timeout_s = startup_timeout_s
        self.ports: list[str] = []
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "hardware.sim.pty_host", json.dumps(self.specs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        ready = self._readline(self.startup_timeout_s)
        if ready is None or "ports" not in ready:
            self.stop()
            raise DeviceError(
                f"simulator process for {[s['preset'] for s in self.specs]} did not start within "
                f"{self.startup_timeout_s} s (see its stderr above)"
            )
        self.ports, self.pid = list(ready["ports"]), self._proc.pid
        logger.info("simulator %s on %s (pid %s)", [s["preset"] for s in self.specs], self.ports, self.pid)
        return self

    def _readline(self, timeout_s: float) -> dict[str, Any] | None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        readable, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not readable:
            return None
        line = proc.stdout.readline()
        return json.loads(line) if line else None

    def _call(self, command: str, index: int = 0, payload: Any = None) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            raise DeviceError("simulator process is not running; use it as a context manager or call start()")
        proc.stdin.write(
            (json.dumps({"command": command, "index": index, "payload": payload}) + "\n").encode()
        )
        proc.stdin.flush()
        answer = self._readline(10.0)
        if answer is None:
            raise DeviceError(f"simulator did not answer {command!r} within 10 s")
        return answer

    def inject(self, index: int = 0, **fault: Any) -> None:
        """Inject a :class:`~hardware.sim.faults.Fault` (keyword fields) on bus ``index``."""
        payload = asdict(Fault(**fault))
        payload["noise"] = payload["noise"].hex()
        self._call("fault", index, payload)

    def clear_faults(self, index: int = 0) -> None:
        self._call("clear", index)

    def state(self, index: int = 0) -> dict[str, Any]:
        """``{"state": {id: {...}}, "packets_seen": n}`` of bus ``index`` (ids as strings)."""
        answer = self._call("state", index)
        return {"state": answer["state"], "packets_seen": answer["packets_seen"]}

    def unplug(self, index: int = 0) -> None:
        """Close the bus's master side, like a USB adapter vanishing."""
        self._call("unplug", index)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.write(b'{"command": "stop"}\n')
                proc.stdin.flush()
                proc.stdin.close()
            except (BrokenPipeError, OSError) as exc:
                logger.debug("simulator already gone: %s", exc)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m hardware.sim.pty_host '<json list of specs>'``: serve until stdin closes."""
    args = sys.argv[1:] if argv is None else argv
    specs = json.loads(args[0]) if args else [{"preset": "so101-follower"}]
    specs = [{"preset": s} if isinstance(s, str) else s for s in specs]
    _serve(specs, sys.stdin.fileno(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
