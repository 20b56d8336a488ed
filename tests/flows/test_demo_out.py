"""``robopipe demo --out``: only a previous demo output (or an empty folder) is replaced; anything else is refused
with one line, before anything starts, and left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from flows.demo import DEMO_MARKER, prepare_out


def test_a_folder_that_is_not_a_demo_output_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "project"
    (precious / "src").mkdir(parents=True)
    (precious / "src" / "main.py").write_text("print('hi')\n")
    assert main(["demo", "--out", str(precious)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --out ") and "not a previous demo output" in err
    assert (precious / "src" / "main.py").read_text() == "print('hi')\n"
    assert sorted(p.name for p in precious.iterdir()) == ["src"]


def test_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("keep\n")
    assert main(["demo", "--out", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err and f.read_text() == "keep\n"


def test_new_empty_and_previous_demo_outputs_are_prepared(tmp_path: Path) -> None:
    new = prepare_out(tmp_path / "a" / "demo")
    assert sorted(p.name for p in new.iterdir()) == [DEMO_MARKER]
    (new / "so101-master").mkdir()  # a previous run's output: replaced
    again = prepare_out(new)
    assert again == new and sorted(p.name for p in again.iterdir()) == [DEMO_MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert sorted(p.name for p in prepare_out(empty).iterdir()) == [DEMO_MARKER]
    legacy = tmp_path / "legacy"  # written before the marker existed
    (legacy / "so101-master" / "meta").mkdir(parents=True)
    (legacy / "so101-master" / "meta" / "info.json").write_text("{}")
    (legacy / "registry").mkdir()
    assert sorted(p.name for p in prepare_out(legacy).iterdir()) == [DEMO_MARKER]
