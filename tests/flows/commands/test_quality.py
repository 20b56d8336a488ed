"""``robopipe quality`` and ``robopipe filter`` end to end through the CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from robopipe.format.reader import DatasetReader
from tests.fixtures.defects import CLEAN, DEFECTS, make_defect_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_defect_dataset(tmp_path_factory.mktemp("q") / "ds")


@pytest.fixture
def root(master: Path, tmp_path: Path) -> Path:
    shutil.copytree(master, tmp_path / "ds")
    return tmp_path / "ds"


def test_quality_table_json_and_exit_codes(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["quality", str(root)]) == 1  # error-level suspects
    out = capsys.readouterr().out
    assert (
        "quality score" in out
        and "frozen_camera [frames 10-29]" in out
        and "black_camera [frames 30-44]" in out
    )
    for flag in ("--findings", "-v"):  # every finding under its suspect; -v (global) says the same
        assert main(["quality", str(root), flag]) == 1
        detail = capsys.readouterr().out
        assert detail.count("- error: ") >= 2 and detail.count("\n") > out.count("\n")
    assert main(["quality", str(root), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {s["episode_index"] for s in data["suspects"]} == set(DEFECTS)
    cfg = tmp_path / "lenient.yaml"  # a frozen camera must now last 100 s
    cfg.write_text("camera: {frozen_min_seconds: 100}\n")
    assert main(["quality", str(root), "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "frozen_camera" not in out and "black_camera [frames 30-44]" in out


def test_quality_unreadable_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("idle: [1, 2]\n")
    assert main(["quality", str(tmp_path), "--config", str(bad)]) == 2


def test_filter_by_expression_and_selection(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert main(["filter", str(root), "--out", str(tmp_path / "f"), "--where", "quality.errors == 0"]) == 2
    assert "run `robopipe quality` first" in capsys.readouterr().err
    main(["quality", str(root)])
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    where = "quality.level != 'error' and quality.idle_fraction < 0.5"
    assert main(["filter", str(root), "--out", str(tmp_path / "f"), "--where", where]) == 0
    kept = DatasetReader(tmp_path / "f")
    assert kept.num_episodes == len(CLEAN) + 1  # clean ones and the spike (warning only)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before  # input untouched
    assert main(["filter", str(root), "--out", str(tmp_path / "c"), "--where", "quality.level == None"]) == 0
    assert main(["quality", str(tmp_path / "c")]) == 0  # only clean episodes left
    assert main(["quality", str(tmp_path / "f"), "--strict"]) == 1  # the spike is a warning
    sel = tmp_path / "sel.json"
    sel.write_text(json.dumps({"episodes": [0, 7]}))
    assert main(["filter", str(root), "--out", str(tmp_path / "g"), "--selection", str(sel)]) == 0
    assert DatasetReader(tmp_path / "g").num_episodes == 2
    assert main(["filter", str(root), "--out", str(tmp_path / "h"), "--where", "__import__('os')"]) == 2
    assert main(["filter", str(root), "--out", str(tmp_path / "h"), "--where", "nosuch > 1"]) == 2
    assert "unknown name" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()
    # a selection that keeps every episode still writes --out: a copy, same frames, the input untouched
    assert main(["filter", str(root), "--out", str(tmp_path / "all"), "--where", "length > 0"]) == 0
    assert "every episode" in capsys.readouterr().out
    src, copy = DatasetReader(root), DatasetReader(tmp_path / "all")
    assert copy.num_episodes == src.num_episodes and copy.num_frames == src.num_frames
    assert copy.to_pandas().drop(columns=["index"]).equals(src.to_pandas().drop(columns=["index"]))
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before


@pytest.mark.integration
def test_filter_on_dask_writes_the_same_bytes(root: Path, tmp_path: Path) -> None:
    from tests.robopipe.edit.helpers import tree_hash

    where = ["--where", "episode_index != 1 and episode_index != 4"]
    assert main(["filter", str(root), "--out", str(tmp_path / "serial"), *where]) == 0
    assert main(["filter", str(root), "--out", str(tmp_path / "dask"), "--workers", "2", *where]) == 0
    assert DatasetReader(tmp_path / "dask").num_episodes == DatasetReader(root).num_episodes - 2
    assert tree_hash(tmp_path / "dask") == tree_hash(tmp_path / "serial")


@pytest.mark.integration
def test_quality_on_dask_and_threads_matches_serial(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from robopipe.quality.store import read_episodes

    main(["quality", str(root)])
    serial = read_episodes(root)
    for extra in (["--workers", "2", "--threads"], ["--workers", "2"]):  # threads, Dask LocalCluster(2)
        assert main(["quality", str(root), *extra]) == 1
        assert read_episodes(root) == serial


def test_corrupt_video_is_one_line_exit_2(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mp4 = next((root / "videos").rglob("*.mp4"))
    data = mp4.read_bytes()
    mp4.write_bytes(data[: len(data) // 3])  # truncated recording
    assert main(["quality", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_view_export_without_quality_results(master: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(master, root)
    assert main(["view", str(root), "--export", str(tmp_path / "site")]) == 0
    ds = json.loads((tmp_path / "site/api/dataset.json").read_text())
    assert ds["quality"] is None and all(e["score"] is None for e in ds["episodes"])
    assert not (root / "meta/robopipe/quality").exists()  # viewing never writes into the dataset


def test_stats_with_quality_in_one_pass(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from robopipe.quality.store import read_episodes

    assert main(["stats", str(root), "--workers", "0", "--quality"]) == 0  # stats' exit code
    out = capsys.readouterr().out
    assert "stats of 8 episodes" in out and "frozen_camera [frames 10-29]" in out
    kinds = {q.episode_index: {f.kind for f in q.findings} for q in read_episodes(root)}
    assert "black_camera" in kinds[5] and "duplicate_episode" in kinds[4]
