"""The CLI's one error boundary: one ``error:`` line, the right exit code, no traceback unless ``-v``."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.boundary import error_lines, exit_code, pop_verbose
from flows.cli import main
from robopipe.errors import CorruptFileError, DiskFullError, FormatError, StatsError
from tests.fixtures.datasets import make_dataset

PROJECT = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """``main(argv)`` in-process: exit code, stderr lines, stdout."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def assert_one_line(err: list[str], *needles: str) -> None:
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    assert "Traceback" not in err[0]
    for n in needles:
        assert n in err[0], err[0]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("b") / "ds", episodes=2, frames=4, cameras={})


def test_not_a_dataset_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, _ = run(["info", str(tmp_path)], capsys)
    assert code == 2
    assert_one_line(err, str(tmp_path), "meta/info.json")


def test_verbose_anywhere_adds_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, _ = run(["info", str(tmp_path), "-v"], capsys)
    assert code == 2
    assert err[0].startswith("Traceback") and err[-1].startswith("error: ")
    code, err, _ = run(["--verbose", "info", str(tmp_path)], capsys)
    assert code == 2 and err[0].startswith("Traceback")


def test_pop_verbose_keeps_tokens_after_double_dash() -> None:
    assert pop_verbose(["info", "-v", "x", "--", "-v"]) == (["info", "x", "--", "-v"], True)
    assert pop_verbose(["info", "x"]) == (["info", "x"], False)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["stats", "{root}", "--workers", "-1"],
            "--workers: 0 (run in this process) or more, got -1",
        ),
        (["validate", "{root}", "--workers", "-2"], "--workers"),
    ],
)
def test_pydantic_errors_are_one_line_per_field(
    dataset: Path, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, _ = run([a.replace("{root}", str(dataset)) for a in argv], capsys)
    assert code == 2
    assert_one_line(err, needle)


def test_unknown_option_is_one_line_exit_2(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, _ = run(["info", str(dataset), "--no-such-flag"], capsys)
    assert code == 2
    assert_one_line(err, "--no-such-flag")


def test_unexpected_exception_is_an_internal_error_line(
    dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import robopipe.format.describe as reader

    def broken(_: object) -> dict[str, object]:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(reader, "describe", broken)
    code, err, _ = run(["info", str(dataset)], capsys)
    assert code == 1
    assert_one_line(err, "internal error: RuntimeError: boom second line", "run with -v")


def test_keyboard_interrupt_exits_130_with_one_line(
    dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import robopipe.format.describe as reader

    def interrupted(_: object) -> dict[str, object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(reader, "describe", interrupted)
    code, err, _ = run(["info", str(dataset)], capsys)
    assert code == 130
    assert len(err) == 1 and err[0].startswith("interrupted")


def test_info_into_a_closed_pipe_is_silent(dataset: Path) -> None:
    """``robopipe info ... | head``: the reader is gone before we write; no traceback, exit 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", "info", str(dataset)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env=env,
            cwd=PROJECT,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_exit_codes_follow_the_error_tree() -> None:
    assert exit_code(FormatError("x")) == 1
    assert exit_code(StatsError("x")) == 1
    assert exit_code(CorruptFileError("x")) == 2
    assert exit_code(DiskFullError("x")) == 2
    assert exit_code(FileNotFoundError(errno.ENOENT, "No such file or directory", "/a/b")) == 2
    assert exit_code(ValueError("x")) == 1
    import pyarrow as pa

    assert (
        exit_code(pa.ArrowInvalid("Parquet magic bytes not found")) == 2
    )  # a reader crash: unreadable input
    (line,) = error_lines(pa.ArrowInvalid("Parquet magic bytes not found"))
    assert line == "error: unreadable input: ArrowInvalid: Parquet magic bytes not found"


def test_enospc_names_the_file_and_says_disk_full() -> None:
    (line,) = error_lines(OSError(errno.ENOSPC, "No space left on device", "/data/out/file-000.parquet"))
    assert line.startswith("error: disk full writing /data/out/file-000.parquet")
