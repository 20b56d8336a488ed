"""Two ``robopipe record`` runs on one root: the second (``--resume``) is refused and touches nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from robopipe.format.reader import DatasetReader
from robopipe.format.writer import STAGING_DIR
from tests.recording.test_record_cli_keys import _wait_line


def _record(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", "record", "--robot", "sim-so101", "--teleop", "sim-so101-leader",
            "--repo-id", "me/lock", "--root", str(root), "--single-task", "t", "--fps", "10", "--timing", "patient",
            *extra]  # fmt: skip


def test_resume_while_recording_is_refused_and_the_saved_episode_survives(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        _record(root, "-v", "--num-episodes", "3", "--episode-time-s", "600", "--reset-time-s", "600"),
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    seen: list[str] = []
    try:
        # generous bounds (not timing asserts): a loaded machine may take a minute to start the simulators
        _wait_line(first, "recording episode 0", seen, timeout=300)
        os.write(master, b"n")  # end episode 0
        _wait_line(first, "reset:", seen, timeout=300)
        os.write(master, b"n")  # end the reset: episode 0 is saved, episode 1 records for up to 600 s
        _wait_line(first, "recording episode 1", seen, timeout=300)
        second = subprocess.run(
            _record(root, "--resume", "--num-episodes", "1", "--episode-time-s", "1", "--reset-time-s", "0"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert second.returncode == 2, second.stderr
        assert f"is in use by PID {first.pid} (" in second.stderr and "Traceback" not in second.stderr
        assert [p.name[:14] for p in (root / STAGING_DIR).glob("episode-000000*")] == ["episode-000000"]
        os.write(master, b"\x1b")  # Esc: stop; episodes 0 and 1 are kept
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, "".join(seen) + err.decode(errors="replace")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        os.close(master)
    r = DatasetReader(root)
    assert r.num_episodes == 2 and r.num_frames > 0
    assert not (root / STAGING_DIR).exists()
