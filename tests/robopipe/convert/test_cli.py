"""``robopipe convert ...`` end to end through the CLI entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from robopipe.format.reader import DatasetReader
from tests.fixtures.rlds import requires_tfds


def test_convert_help_lists_the_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("rlds", "hdf5", "folder", "hook", "v21"):
        assert name in out


@pytest.mark.rlds
@requires_tfds
def test_print_mapping_then_convert_with_the_saved_mapping(
    rlds_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fx = rlds_factory("oxe")
    capsys.readouterr()  # drop what building the fixture printed
    assert main(["convert", "rlds", str(fx.root), "--print-mapping", "--fps", "10"]) == 0
    printed = capsys.readouterr().out
    assert "observation/wrist_image" in printed and "fps: 10" in printed
    mapping = tmp_path / "m.yaml"
    mapping.write_text(printed)
    out = tmp_path / "out"
    code = main(
        [
            "convert",
            "rlds",
            str(fx.root),
            "--out",
            str(out),
            "--mapping",
            str(mapping),
            "--workers",
            "1",
            "--shards",
            "2",
            "--codec",
            "h264",
            "--episodes",
            "0:3",
        ]
    )
    assert code == 0
    assert DatasetReader(out).num_episodes == 3
    # a mapping naming a missing key fails before any work, exit code 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("fps: 10\ncameras: {x: observation/nope}\n")
    assert main(["convert", "rlds", str(fx.root), "--out", str(tmp_path / "o2"), "--mapping", str(bad)]) == 2
    assert "observation/nope" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


def test_convert_v21_command(tmp_path: Path) -> None:
    from tests.robopipe.convert.test_v21 import make_v21

    make_v21(tmp_path / "v21")
    assert main(["convert", "v21", str(tmp_path / "v21"), "--out", str(tmp_path / "v30")]) == 0
    assert DatasetReader(tmp_path / "v30").num_episodes == 4
