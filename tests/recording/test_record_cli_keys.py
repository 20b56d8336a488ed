"""``robopipe record`` in a terminal: arrow keys and Esc typed on a pty end the phases and the session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robopipe.format.reader import DatasetReader


def _wait_line(proc: subprocess.Popen[bytes], needle: str, seen: list[str], timeout: float = 60) -> None:
    assert proc.stderr is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stderr.readline().decode(errors="replace")
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return
    pytest.fail(f"never saw {needle!r}; output:\n{''.join(seen)[-3000:]}")


def test_keys_on_a_terminal_drive_the_session(tmp_path: Path) -> None:
    master, slave = os.openpty()
    root = tmp_path / "ds"
    cmd = [sys.executable, "-m", "flows.cli", "record", "--robot", "sim-so101", "--teleop", "sim-so101-leader",
           "--camera", "sim:64x48", "--repo-id", "me/keys", "--root", str(root), "--single-task", "t",
           "--fps", "10", "--timing", "patient", "--num-episodes", "3", "--episode-time-s", "60", "--reset-time-s", "60"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    seen: list[str] = []
    try:
        _wait_line(proc, "recording episode 0", seen)
        time.sleep(0.5)
        os.write(master, b"\x1b[C")  # → : end episode 0 early
        _wait_line(proc, "reset:", seen)
        os.write(master, b"s")  # mark it a success
        os.write(master, b"n")  # n : end the reset early
        _wait_line(proc, "recording episode 1", seen)
        time.sleep(0.5)
        os.write(master, b"\x1b")  # Esc : stop (episode 1 is kept)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0, "".join(seen) + err.decode(errors="replace")
    r = DatasetReader(root)
    assert r.num_episodes == 2
    assert all(0 < n < 600 for n in r.episode_lengths())  # both ended early, far before 60 s
    assert r.episodes["success"].iloc[0] == 1  # the s key marked episode 0 a success
