"""``robopipe info`` / ``robopipe repair`` and the reader's errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from robopipe.errors import CorruptFileError, DatasetNotFoundError, FormatError, UnsupportedVersionError
from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import make_dataset


def test_info_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_dataset(tmp_path / "ds", episodes=3, frames=[4, 6, 8], codec="h264")
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "episodes 3" in out and "frames 18" in out and "observation.images.front" in out and "h264" in out
    assert "4/6.0/8" in out and "pick the cube" in out
    assert main(["info", str(root), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["total_episodes"], d["total_frames"], d["total_tasks"], d["fps"]) == (3, 18, 2, 10)
    assert d["cameras"] == [
        {
            "key": "observation.images.front",
            "dtype": "video",
            "height": 48,
            "width": 64,
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "depth": None,
            "encoder": d["cameras"][0]["encoder"],
        }
    ]
    assert d["cameras"][0]["encoder"]["g"] == 2 and d["cameras"][0]["encoder"]["video_backend"] == "pyav"
    assert d["language"] == [] and d["tools"] == []
    assert d["episode_length"] == {"min": 4, "mean": 6.0, "max": 8}
    assert d["files"] == {"data": 1, "videos": 1, "episodes_metadata": 1}


def test_info_on_a_folder_that_is_not_a_dataset_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "not a LeRobot dataset (missing meta/info.json)" in capsys.readouterr().err


def test_v21_dataset_gets_a_conversion_hint(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=1, frames=3, cameras={})
    info = json.loads((root / "meta/info.json").read_text())
    info["codebase_version"] = "v2.1"
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(UnsupportedVersionError, match="robopipe convert v21"):
        DatasetReader(root)


def test_cut_parquet_footer_is_reported_with_the_file(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=3, cameras={})
    data = root / "data/chunk-000/file-000.parquet"
    data.write_bytes(data.read_bytes()[:-20])
    with pytest.raises(CorruptFileError, match=r"file-000\.parquet: unreadable parquet"):
        DatasetReader(root).read_episode(0)


def test_info_json_contradicting_the_files(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=3, cameras={})
    info = json.loads((root / "meta/info.json").read_text())
    info["total_episodes"] = 5
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(FormatError, match="total_episodes=5, meta/episodes has 2 rows"):
        _ = DatasetReader(root).episodes


def test_missing_info_raises_dataset_not_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        DatasetReader(tmp_path)


def test_repair_is_a_no_op_on_a_healthy_dataset(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=3, cameras={})
    before = {p: p.read_bytes() for p in root.rglob("*.parquet")}
    assert main(["repair", str(root)]) == 0
    assert {p: p.read_bytes() for p in root.rglob("*.parquet")} == before
