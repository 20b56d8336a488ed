"""``robopipe validate`` / ``robopipe report`` through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from tests.fixtures.datasets import make_dataset


@pytest.fixture(scope="module")
def cli_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("cli") / "ds", frames=[6, 7], fps=10)


def test_validate_valid_exit_0_summary(cli_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(cli_root), "--no-gx"]) == 0
    out = capsys.readouterr().out
    assert "0 error(s), 0 warning(s), 0 info -> VALID" in out
    assert "2 episodes, 13 frames, 10 fps" in out


def test_validate_errors_exit_1_json(
    cli_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    shutil.copytree(cli_root, root)
    shutil.rmtree(root / "videos/observation.images.front")
    (root / "meta/stats.json").unlink()
    assert main(["validate", str(root), "--no-gx", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert {f["code"] for f in data["findings"]} == {"RP401", "RP501"}


def test_validate_summary_groups_by_rule(
    cli_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    shutil.copytree(cli_root, root)
    info = json.loads((root / "meta/info.json").read_text())
    info["total_frames"] = 99
    (root / "meta/info.json").write_text(json.dumps(info))
    assert main(["validate", str(root), "--no-gx"]) == 1
    out = capsys.readouterr().out
    assert "ERROR   RP104 info-total-frames: 1 finding(s)" in out
    assert "expected 13; got 99" in out and "fix: set info.json total_frames" in out
    assert out.rstrip().endswith("-> INVALID")


def test_validate_not_a_dataset_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "not a LeRobot dataset" in capsys.readouterr().err


def test_validate_bad_bounds_exit_2(
    cli_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bounds = tmp_path / "b.yaml"
    bounds.write_text("action: {min: [1, 2]}\n- oops")
    assert main(["validate", str(cli_root), "--no-gx", "--bounds", str(bounds)]) == 2


def test_validate_gx_serial_with_data_docs(
    cli_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(cli_root), "--report-dir", str(tmp_path / "rep"), "--full-decode"]) == 0
    out = capsys.readouterr().out
    assert "great expectations: 1 suite(s) on 1 file(s) via serial" in out
    assert (tmp_path / "rep/data_docs/index.html").is_file()


def test_report_command(cli_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(cli_root), "--out", str(tmp_path / "r"), "--thumbnails", "2"]) == 0
    html = (tmp_path / "r/report.html").read_text()
    assert "data:image/png;base64," in html and "Episode lengths" in html
