"""The confinement rule (robopipe/format/safepath.py) and its use by info, features, requests, readers, publish."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from robopipe.edit.models import EditRequest, MergeRequest, parse_splits
from robopipe.errors import ConfigError, FormatError, PathTemplateError, UnsafePathError
from robopipe.format import layout, safepath
from robopipe.format.features import FeatureSpec, parse_features
from robopipe.format.info import DatasetInfo, load_info
from robopipe.format.reader import DatasetReader
from robopipe.publish.files import list_dataset_files
from tests.fixtures.datasets import make_dataset

V30 = safepath.V30_VIDEO_KEYS


@pytest.mark.parametrize(
    "template",
    [layout.DEFAULT_DATA_PATH, layout.DEFAULT_VIDEO_PATH, "data/{chunk_index:012d}/{file_index}.parquet"],
)
def test_lerobot_templates_are_accepted(template: str) -> None:
    assert "chunk_index" in safepath.check_template(template, V30, "t")


@pytest.mark.parametrize(
    ("template", "error", "words"),
    [
        ("/etc/chunk-{chunk_index}/{file_index}", UnsafePathError, "relative"),
        ("../../x/{chunk_index}/{file_index}", UnsafePathError, ".."),
        ("data/{chunk_index}/../../../{file_index}", UnsafePathError, ".."),
        ("C:/data/{chunk_index}/{file_index}", UnsafePathError, "relative"),
        ("data\\{chunk_index}\\{file_index}", UnsafePathError, "\\"),
        ("data/\x00/{chunk_index}/{file_index}", UnsafePathError, "NUL"),
        ("data/{chunk_index:0999999999d}/{file_index}", UnsafePathError, "not an integer spec"),
        ("data/{chunk_index:013d}/{file_index}", UnsafePathError, "width 13"),
        ("data/{chunk_index:>99}/{file_index}", UnsafePathError, "not an integer spec"),
        ("data/{chunk_index:{file_index}}", UnsafePathError, "not an integer spec"),
        ("data/{video_key:>300}/{chunk_index}", UnsafePathError, "takes no format spec"),
        ("data/{episode_index}/{chunk_index}", PathTemplateError, "placeholder {episode_index}"),
        ("data/{chunk_index.__class__}", PathTemplateError, "placeholder"),
        ("data/{chunk_index[0]}", PathTemplateError, "placeholder"),
        ("data/{0}", PathTemplateError, "placeholder {0}"),
        ("data/{}", PathTemplateError, "placeholder {}"),
        ("data/{chunk_index!r}", PathTemplateError, "conversion"),
        ("data/{chunk_index", PathTemplateError, "does not parse"),
        ("d" * 5000 + "{chunk_index}", UnsafePathError, "characters long"),
    ],
)
def test_hostile_templates_are_refused(template: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as exc:
        safepath.check_template(template, V30, "video_path")
    assert words in str(exc.value)


def test_required_placeholders() -> None:
    with pytest.raises(PathTemplateError, match="lacks"):
        safepath.check_template("data/{chunk_index}.parquet", V30, "data_path", required=("file_index",))


def test_v21_keys_are_separate() -> None:
    t = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    safepath.check_template(t, safepath.V21_DATA_KEYS, "data_path")
    with pytest.raises(PathTemplateError):
        safepath.check_template(t, safepath.V30_DATA_KEYS, "data_path")


@pytest.mark.parametrize("value", [-1, safepath.MAX_INDEX + 1, 10**30, 1.5, "3", None, float("nan")])
def test_indices_are_bounded_integers(value: object) -> None:
    with pytest.raises(UnsafePathError):
        layout.data_path(value, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["..", ".", "a/b", "a\\b", "x\x00", "tab\there", "", "k" * 256])
def test_unsafe_components(key: str) -> None:
    with pytest.raises(UnsafePathError):
        layout.video_path(key, 0, 0)
    with pytest.raises(FormatError):
        parse_features({key: {"dtype": "float32", "shape": [1]}})


def test_formatting_a_safe_template_is_unchanged() -> None:
    assert layout.data_path(2, 17) == "data/chunk-002/file-017.parquet"
    assert layout.video_path("observation.images.top", 0, 1) == (
        "videos/observation.images.top/chunk-000/file-001.mp4"
    )


def test_inside_follows_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "data").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("x")
    (root / "data" / "ok").write_text("y")
    os.symlink(outside, root / "escape")
    os.symlink(root / "data" / "ok", root / "data" / "alias")
    assert safepath.inside(root, "data/ok") == root / "data" / "ok"
    assert safepath.inside(root, "data/alias") == root / "data" / "alias"
    with pytest.raises(UnsafePathError, match="outside the dataset root"):
        safepath.inside(root, "escape/secret")
    with pytest.raises(UnsafePathError):
        safepath.inside(root, "../outside/secret")
    os.symlink(root / "loop", root / "loop")
    with pytest.raises(UnsafePathError):
        safepath.inside(root, "loop/x")


@pytest.mark.parametrize(
    ("out", "inputs", "ok"),
    [
        ("new", ["a"], True),
        ("a", ["a"], False),
        ("a/out", ["a"], False),
        ("a", ["a/in"], False),
        ("a/../a", ["a"], False),
        ("b", ["a", "c"], True),
        ("c/x", ["a", "c"], False),
    ],
)
def test_outputs_apart_from_inputs(tmp_path: Path, out: str, inputs: list[str], ok: bool) -> None:
    args = (tmp_path / out, [tmp_path / i for i in inputs])
    if ok:
        safepath.check_disjoint(*args)
    else:
        with pytest.raises(UnsafePathError):
            safepath.check_disjoint(*args)


def test_info_refuses_unsafe_templates_and_unbounded_values() -> None:
    base = {"fps": 30, "features": {"x": {"dtype": "float32", "shape": [2]}}}
    DatasetInfo.model_validate(base)
    for bad in (
        {"data_path": "/tmp/{chunk_index}/{file_index}"},
        {"video_path": "../{video_key}/{chunk_index}/{file_index}"},
        {"data_path": "d/{chunk_index:0999999999d}/{file_index}"},
        {"fps": 10**9},
        {"fps": 0},
        {"fps": float("nan")},
        {"fps": -5},
        {"total_frames": -1},
        {"total_episodes": 10**15},
        {"features": [1, 2]},
        {"features": {"x": {"dtype": "float32", "shape": [10**12]}}},
        {"features": {"x": {"dtype": "float32", "shape": [-1]}}},
        {"features": {"x": {"dtype": "float32", "shape": [1] * 9}}},
        {"features": {"x": {"dtype": "complex64", "shape": [1]}}},
        {"features": {"x": {"dtype": "object", "shape": [1]}}},
        {"features": {"..": {"dtype": "video", "shape": [4, 4, 3]}}},
    ):
        with pytest.raises(ValueError):
            DatasetInfo.model_validate({**base, **bad})


def test_feature_spec_accepts_real_shapes() -> None:
    FeatureSpec(dtype="video", shape=(2160, 3840, 3))
    FeatureSpec(dtype="bool", shape=(1,))


def test_load_info_error_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text(
        json.dumps({"codebase_version": "v3.0", "fps": 30, "data_path": "/etc/{chunk_index}", "features": {}})
    )
    with pytest.raises(FormatError) as exc:
        load_info(tmp_path)
    assert "\n" not in str(exc.value) and "relative" in str(exc.value)


def test_huge_info_json_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robopipe.format import info as info_mod

    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text("{" + " " * 2000 + "}")
    monkeypatch.setattr(info_mod, "MAX_JSON_BYTES", 1000)
    with pytest.raises(FormatError, match="over the"):
        load_info(tmp_path)


@pytest.mark.parametrize("name", ["../../X", "/abs", "a/b", "..", "."])
def test_split_names_must_be_folder_names(tmp_path: Path, name: str) -> None:
    with pytest.raises((ConfigError, UnsafePathError)):
        parse_splits(f"{name}=0.5,val=0.5")
    with pytest.raises(ValueError, match="split name"):
        EditRequest(operation="split", root=tmp_path / "in", out=tmp_path / "o", splits={name: 0.5, "v": 0.5})


def test_edit_and_merge_outputs_must_lie_outside_inputs(tmp_path: Path) -> None:
    root = tmp_path / "in"
    with pytest.raises(ValueError, match="inside the input"):
        MergeRequest(out=root / "merged", roots=[root, tmp_path / "b"])
    with pytest.raises(ValueError, match="inside the merge output"):
        MergeRequest(out=tmp_path, roots=[root])
    for op, kw in (("delete-episodes", {"episodes": [0]}), ("set-task", {"task": "t"})):
        with pytest.raises(ValueError):
            EditRequest(operation=op, root=root, out=root / "x", **kw)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            EditRequest(operation=op, root=root, out=root, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        EditRequest(operation="split", root=root, out=root, splits={"train": 1.0})
    # splits beside the input are fine: <out>/train does not touch <out>/in
    EditRequest(operation="split", root=root, out=tmp_path, splits={"train": 0.5, "val": 0.5})
    with pytest.raises(ValueError):
        EditRequest(operation="split", root=root, out=tmp_path, splits={"in": 1.0})
    with pytest.raises(ValueError, match="new feature name"):
        EditRequest(operation="rename-feature", root=root, out=tmp_path / "o", rename={"a": "../b"})


def test_reader_refuses_a_data_folder_symlinked_outside(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=4, cameras={})
    moved = tmp_path / "elsewhere"
    (root / "data").rename(moved)
    os.symlink(moved, root / "data")
    with pytest.raises(UnsafePathError, match="outside the dataset root"):
        DatasetReader(root).read_episode(0)


def test_publish_refuses_symlinks_out_of_the_dataset(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=1, frames=4, cameras={})
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    os.symlink(secret, root / "meta" / "notes.txt")
    os.symlink(root / "meta" / "info.json", root / "meta" / "info-alias.json")  # inside: fine
    os.symlink(root, root / "meta" / "loop")  # a loop is walked once
    with pytest.raises(UnsafePathError, match="--follow-symlinks") as exc:
        list_dataset_files(root)
    assert "meta/notes.txt" in str(exc.value)
    files = list_dataset_files(root, follow_symlinks=True)
    assert "meta/notes.txt" in files and "meta/info-alias.json" in files


def test_validate_reports_escapes_as_findings(tmp_path: Path) -> None:
    from robopipe.validate.engine import validate_dataset

    root = make_dataset(tmp_path / "ds", episodes=2, frames=4, cameras={})
    info = json.loads((root / "meta" / "info.json").read_text())
    info["data_path"] = "../elsewhere/chunk-{chunk_index:03d}/file-{file_index:0999999999d}.parquet"
    (root / "meta" / "info.json").write_text(json.dumps(info))
    report = validate_dataset(root, gx=False)
    assert [f.feature for f in report.by_code("RP109")] == ["data_path"] and not report.valid

    linked = make_dataset(tmp_path / "ds2", episodes=2, frames=4, cameras={})
    (linked / "data").rename(tmp_path / "moved")
    os.symlink(tmp_path / "moved", linked / "data")
    report = validate_dataset(linked, gx=False)
    assert report.by_code("RP109") and "symlink" in report.by_code("RP109")[0].message


def test_in_place_writers_refuse_folders_symlinked_outside(tmp_path: Path) -> None:
    from robopipe.format.writer import DatasetWriter
    from robopipe.stats.recompute import plan_recompute

    root = make_dataset(tmp_path / "ds", episodes=2, frames=4, cameras={})
    (root / "meta" / "robopipe").rename(tmp_path / "victim")
    os.symlink(tmp_path / "victim", root / "meta" / "robopipe")
    before = sorted(p.name for p in (tmp_path / "victim").rglob("*"))
    with pytest.raises(UnsafePathError, match="meta/robopipe"):
        plan_recompute(root)
    with pytest.raises(UnsafePathError, match="meta/robopipe"):
        DatasetWriter.open(root)
    assert sorted(p.name for p in (tmp_path / "victim").rglob("*")) == before


def test_metadata_files_symlinked_outside_are_not_read(tmp_path: Path) -> None:
    from robopipe.format.tasks import load_tasks

    root = make_dataset(tmp_path / "ds", episodes=2, frames=4, cameras={})
    (root / "meta" / "tasks.parquet").rename(tmp_path / "tasks.parquet")
    os.symlink(tmp_path / "tasks.parquet", root / "meta" / "tasks.parquet")
    with pytest.raises(UnsafePathError):
        load_tasks(root)
    (root / "meta" / "episodes").rename(tmp_path / "episodes")
    os.symlink(tmp_path / "episodes", root / "meta" / "episodes")
    with pytest.raises(UnsafePathError):
        DatasetReader(root).episodes  # noqa: B018 - the property reads the files
