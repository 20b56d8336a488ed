"""Language columns (LeRobot 0.6.1): canonical layout, row rules, validation and edits keep them exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robopipe.edit import EditRequest, edit
from robopipe.format import language
from robopipe.format.info import load_info, write_info
from robopipe.format.layout import sorted_files
from robopipe.validate import validate_dataset
from tests.fixtures.datasets import make_dataset

SAY = {"type": "function", "function": {"name": "say", "arguments": {"text": "hi"}}}


def _persistent(ep: int) -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant",
            "content": f"plan {ep}",
            "style": "plan",
            "timestamp": 0.0,
            "camera": None,
            "tool_calls": None,
        }
    ]


def _events(ep: int, frame: int, cam: str) -> list[dict[str, Any]]:
    if frame == 1:
        return [{"role": "assistant", "content": None, "style": None, "camera": None, "tool_calls": [SAY]}]
    if frame == 2:
        return [{"role": "user", "content": f"what {ep}?", "style": "vqa", "camera": cam, "tool_calls": None}]
    return []


def add_language(
    root: Path, cam: str, *, inferred: bool = True, tools: list[dict[str, Any]] | None = None
) -> None:
    """Add both language columns the way 0.6.1's annotation writer does (pyarrow-inferred struct types)."""
    for path in sorted_files(root, "data", ".parquet"):
        t = pq.read_table(path)
        eps, frames = t["episode_index"].to_pylist(), t["frame_index"].to_pylist()
        pers = [_persistent(e) for e in eps]
        evs = [_events(e, f, cam) for e, f in zip(eps, frames, strict=True)]
        if inferred:
            t = t.append_column(language.LANGUAGE_PERSISTENT, pa.array(pers))
            t = t.append_column(language.LANGUAGE_EVENTS, pa.array(evs))
        else:
            t = t.append_column(
                language.LANGUAGE_PERSISTENT, language.canonical_array(language.LANGUAGE_PERSISTENT, pers)
            )
            t = t.append_column(
                language.LANGUAGE_EVENTS, language.canonical_array(language.LANGUAGE_EVENTS, evs)
            )
        pq.write_table(t, path)
    raw = json.loads((root / "meta/info.json").read_text())
    for k in language.LANGUAGE_COLUMNS:
        raw["features"][k] = {"dtype": "language", "shape": [1], "names": None}
    if tools is not None:
        raw["tools"] = tools
    (root / "meta/info.json").write_text(json.dumps(raw, indent=4))


@pytest.fixture
def lang_root(tmp_path: Path) -> Path:
    root = make_dataset(tmp_path / "ds", frames=[4, 5, 3], cameras={"front": (32, 48)})
    add_language(root, "observation.images.front", tools=[{"type": "function", "function": {"name": "say"}}])
    return root


def test_canonical_column_keeps_every_value() -> None:
    frames = [_events(0, f, "observation.images.front") for f in range(4)]
    inferred = pa.array(frames)
    canon = language.canonical_column(language.LANGUAGE_EVENTS, inferred)
    assert canon.type == language.arrow_type(language.LANGUAGE_EVENTS)
    assert language.decoded_rows(canon) == frames
    again = language.canonical_column(language.LANGUAGE_EVENTS, canon)
    assert again.equals(canon)
    assert language.type_problem(language.LANGUAGE_EVENTS, inferred.type) is None
    assert "expected a list" in str(language.type_problem(language.LANGUAGE_EVENTS, pa.string()))
    assert "row fields" in str(
        language.type_problem(language.LANGUAGE_PERSISTENT, inferred.type)
    )  # no timestamp
    with pytest.raises(ValueError, match="unknown row fields"):
        language.canonical_array(language.LANGUAGE_EVENTS, [[{"role": "user", "mood": "x"}]])


def test_row_rules() -> None:
    cams = ["observation.images.front"]
    assert language.row_problems(language.LANGUAGE_EVENTS, _events(0, 2, cams[0]), cams) == []
    bad = [
        {"role": "", "style": "vqa", "camera": None},
        {"role": "user", "style": "plan", "camera": None},
        {"role": "user", "style": "trace", "camera": "observation.images.nope"},
        {"role": "user", "style": "interjection", "camera": cams[0]},
    ]
    problems = language.row_problems(language.LANGUAGE_EVENTS, bad, cams)
    assert any("role is empty" in p for p in problems) and any("needs a camera" in p for p in problems)
    assert any("belongs in language_persistent" in p for p in problems)
    assert any("not a camera feature" in p for p in problems) and any(
        "must have camera=None" in p for p in problems
    )
    assert language.row_problems(language.LANGUAGE_PERSISTENT, [{"role": "a", "style": "plan"}], cams) == [
        "row 0: persistent rows need a timestamp"
    ]


def test_language_dataset_is_valid_and_edits_keep_rows(lang_root: Path, tmp_path: Path) -> None:
    info = load_info(lang_root)
    assert info.features["language_events"].is_language and info.tools == [
        {"type": "function", "function": {"name": "say"}}
    ]
    report = validate_dataset(lang_root, gx=True)
    assert report.valid, [f.message for f in report.findings]
    edit(EditRequest(operation="delete-episodes", root=lang_root, episodes=[1], out=tmp_path / "del"))
    out = tmp_path / "del"
    assert validate_dataset(out, gx=True).valid
    assert load_info(out).tools == info.tools
    t = pq.read_table(sorted_files(out, "data", ".parquet")[0])
    assert t.schema.field("language_events").type == language.arrow_type("language_events")
    eps, frames = t["episode_index"].to_pylist(), t["frame_index"].to_pylist()
    src_eps = [0, 2]
    assert language.decoded_rows(t["language_events"]) == [
        _events(src_eps[e], f, "observation.images.front") for e, f in zip(eps, frames, strict=True)
    ]
    assert language.decoded_rows(t["language_persistent"]) == [_persistent(src_eps[e]) for e in eps]


def test_validate_reports_bad_language_and_v3_info(lang_root: Path) -> None:
    path = sorted_files(lang_root, "data", ".parquet")[0]
    t = pq.read_table(path)
    evs = t["language_events"].to_pylist()
    evs[0] = [{"role": "user", "content": "x", "style": "vqa", "camera": None, "tool_calls": None}]
    t = t.set_column(t.schema.get_field_index("language_events"), "language_events", pa.array(evs))
    pq.write_table(t, path)
    info = load_info(lang_root)
    feats = dict(info.features)
    cam = feats["observation.images.front"]
    feats["observation.images.front"] = cam.model_copy(
        update={"info": {**(cam.info or {}), "video.g": "two", "video.extra_options": [1]}}
    )
    feats["observation.images.front_depth"] = cam.model_copy(
        update={
            "shape": (32, 48, 1),
            "info": {
                "is_depth_map": True,
                "video.depth_min": 5.0,
                "video.depth_max": 1.0,
                "video.pix_fmt": "yuv420p",
            },
        }
    )
    write_info(lang_root, info.model_copy(update={"features": feats, "tools": [{"name": "say"}]}))
    report = validate_dataset(lang_root, gx=False)
    rp313 = report.by_code("RP313")
    assert [(f.episode, f.frame, f.feature) for f in rp313] == [(0, 0, "language_events")]
    assert "needs a camera" in rp313[0].message
    msgs = [(f.feature, f.message) for f in report.by_code("RP110")]
    assert ("observation.images.front", "info['video.g'] has the wrong type") in msgs
    assert ("observation.images.front", "info['video.extra_options'] has the wrong type") in msgs
    assert ("observation.images.front_depth", "depth_min must be below depth_max") in msgs
    assert ("observation.images.front_depth", "depth video must use a high-bit-depth pixel format") in msgs
    assert (None, "tools[0] is not a function schema") in msgs
    assert any("depth_unit" in m for _, m in msgs)


def test_info_shows_language_tools_and_encoder(lang_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.commands.dataset import info
    from robopipe.format.describe import describe
    from robopipe.format.reader import DatasetReader

    d = describe(DatasetReader(lang_root))
    assert d.language == ["language_persistent", "language_events"] and d.tools == ["say"]
    cam = d.cameras[0]
    assert cam.depth is None and cam.encoder["g"] == 2 and cam.encoder["video_backend"] == "pyav"
    assert info(lang_root) == 0
    out = capsys.readouterr().out
    assert "language columns: language_persistent, language_events   tools: say" in out
    assert "g=2  crf=30" in out


def test_merge_reconciles_encoder_settings_and_tools(lang_root: Path, tmp_path: Path) -> None:
    """As 0.6.1's aggregate: disagreeing encoder keys become null ({} for extra_options); tools are unioned."""
    import shutil

    from robopipe.edit import MergeRequest, merge

    other = tmp_path / "other"
    shutil.copytree(lang_root, other)
    info = load_info(other)
    cam = info.features["observation.images.front"]
    feats = dict(info.features)
    feats["observation.images.front"] = cam.model_copy(
        update={"info": {**(cam.info or {}), "video.crf": 18, "video.extra_options": {"tune": "film"}}}
    )
    wave = {"type": "function", "function": {"name": "wave"}}
    write_info(other, info.model_copy(update={"features": feats, "tools": [wave]}))
    merge(MergeRequest(out=tmp_path / "m", roots=[lang_root, other]))
    out = load_info(tmp_path / "m")
    vi = out.features["observation.images.front"].info
    assert vi is not None and vi["video.crf"] is None and vi["video.extra_options"] == {}
    assert vi["video.g"] == 2 and vi["video.codec"] == (cam.info or {})["video.codec"]
    assert out.tools == [{"type": "function", "function": {"name": "say"}}, wave]
    assert validate_dataset(tmp_path / "m", gx=False).valid
