"""One test per metadata rule: break a copy of a valid dataset, assert the exact finding."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robopipe.errors import CorruptFileError, DatasetNotFoundError
from robopipe.validate import Severity, validate_dataset
from tests.robopipe.validate.helpers import EPISODES, codes, edit_json, one, rewrite_parquet, set_column

INFO = "meta/info.json"


def check(root: Path):
    return validate_dataset(root, gx=False)


def test_valid_dataset_has_no_findings(valid_root: Path) -> None:
    report = check(valid_root)
    assert report.findings == [], [f.model_dump() for f in report.findings]
    assert report.valid
    assert report.frames_checked == 27
    assert report.video_frames_checked == 27


def test_not_a_dataset_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"missing meta/info\.json"):
        validate_dataset(tmp_path, gx=False)


def test_unreadable_info_json_raises(broken: Path) -> None:
    (broken / INFO).write_text("{not json")
    with pytest.raises(CorruptFileError, match="unreadable JSON"):
        validate_dataset(broken, gx=False)


def test_rp101_info_schema_missing_fps(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d.pop("fps"))
    report = check(broken)
    messages = [f.message for f in report.by_code("RP101")]
    assert "info.json has no 'fps'" in messages
    assert not report.valid


def test_rp102_version(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d.update(codebase_version="v2.1"))
    f = one(check(broken), "RP102")
    assert (f.expected, f.actual, f.file) == ("v3.x", "v2.1", INFO)


def test_rp103_total_episodes(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d.update(total_episodes=4))
    f = one(check(broken), "RP103")
    assert (f.expected, f.actual) == ("3", "4")


def test_rp104_total_frames(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d.update(total_frames=30))
    f = one(check(broken), "RP104")
    assert (f.expected, f.actual) == ("27", "30")


def test_rp105_total_tasks(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d.update(total_tasks=5))
    f = one(check(broken), "RP105")
    assert (f.expected, f.actual) == ("2", "5")


def test_rp106_path_template(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d.update(data_path="data/chunk-{chunk_index:03d}/file.parquet"))
    report = check(broken)
    f = one(report, "RP106")
    assert f.feature == "data_path" and f.actual == "data/chunk-{chunk_index:03d}/file.parquet"
    assert "file_index" in f.message
    assert "RP302" in codes(report)  # the template resolves to a file that does not exist


def test_rp106_unknown_placeholder(broken: Path) -> None:
    edit_json(
        broken / INFO,
        lambda d: d.update(video_path="videos/{camera}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"),
    )
    f = one(check(broken), "RP106")
    assert f.feature == "video_path" and "placeholder {camera}" in f.message


def test_rp107_default_feature_dtype(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d["features"]["frame_index"].update(dtype="float32"))
    f = one(check(broken), "RP107")
    assert (f.feature, f.expected, f.actual) == ("frame_index", "int64 [1]", "float32 [1]")


def test_rp108_camera_names(broken: Path) -> None:
    edit_json(broken / INFO, lambda d: d["features"]["observation.images.front"].update(names=None))
    report = check(broken)
    f = one(report, "RP108")
    assert f.severity is Severity.WARNING and f.feature == "observation.images.front"
    assert report.valid  # a warning only


def test_rp201_episodes_cut_footer(broken: Path) -> None:
    p = broken / EPISODES
    p.write_bytes(p.read_bytes()[:-50])
    f = one(check(broken), "RP201")
    assert f.file == EPISODES and "magic bytes" in f.message


def test_rp202_episodes_missing_column(broken: Path) -> None:
    rewrite_parquet(broken / EPISODES, lambda t: t.drop_columns(["dataset_from_index"]))
    f = one(check(broken), "RP202")
    assert f.feature == "dataset_from_index" and f.actual == "missing"


def test_rp203_shuffled_episodes(broken: Path) -> None:
    rewrite_parquet(broken / EPISODES, lambda t: t.take([2, 0, 1]))
    f = one(check(broken), "RP203")
    assert (f.episode, f.expected, f.actual, f.count) == (2, "episode_index 0", "2", 3)
    assert f.file == EPISODES


def test_rp204_episode_ranges(broken: Path) -> None:
    rewrite_parquet(broken / EPISODES, lambda t: set_column(t, "dataset_to_index", [8, 18, 27]))
    report = check(broken)
    by_msg = {f.message: f for f in report.by_code("RP204")}
    gap = by_msg["dataset_from_index does not continue where the previous episode ended"]
    assert (gap.episode, gap.expected, gap.actual) == (2, "18", "17")
    size = by_msg["dataset_to_index - dataset_from_index differs from length"]
    assert (size.episode, size.expected, size.actual) == (1, "9", "10")


def test_rp205_tasks_missing(broken: Path) -> None:
    (broken / "meta/tasks.parquet").unlink()
    f = one(check(broken), "RP205")
    assert (f.file, f.actual) == ("meta/tasks.parquet", "missing")


def test_rp206_tasks_without_index_metadata(broken: Path) -> None:
    table = pa.table(
        {"task": ["pick the cube", "place the cube"], "task_index": pa.array([0, 1], pa.int64())}
    )
    pq.write_table(table, broken / "meta/tasks.parquet")
    f = one(check(broken), "RP206")
    assert "LeRobot reads integer tasks" in f.message


def test_rp207_episode_task_unknown(broken: Path) -> None:
    rewrite_parquet(
        broken / EPISODES, lambda t: set_column(t, "tasks", [["pick the cube"], ["fly"], ["pick the cube"]])
    )
    f = one(check(broken), "RP207")
    assert (f.episode, f.actual) == (1, "['fly']")


def test_report_json_roundtrip(valid_root: Path) -> None:
    report = check(valid_root)
    data = json.loads(report.model_dump_json())
    assert data["valid"] is True and data["counts"] == {"error": 0, "warning": 0, "info": 0}


def test_empty_dataset_only_warns(tmp_path: Path) -> None:
    from robopipe.format.writer import DatasetWriter

    w = DatasetWriter.create(tmp_path / "ds", fps=10, features={"action": {"dtype": "float32", "shape": [2]}})
    w.finalize()
    report = check(tmp_path / "ds")
    assert report.valid and {f.severity for f in report.findings} <= {Severity.WARNING}
