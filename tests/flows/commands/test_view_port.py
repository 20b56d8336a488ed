"""``robopipe view --port``: an out-of-range or busy port is one ``error:`` line, exit 2 (not an internal error)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from flows.cli import main
from tests.fixtures.datasets import make_dataset


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ds", episodes=1, frames=[3], cameras={})


def test_out_of_range_port(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(root), "--port", "99999"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --port 99999")


def test_busy_port(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["view", str(root), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err
