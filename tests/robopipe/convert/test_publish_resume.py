"""``--publish-to`` resume through a ``file://`` URL (no server): an unreadable marker only means its shard is
converted again, a marker of another shard is not taken for this one, and the result equals a one-shot run.
The same on a real S3 server: ``test_publish_resume_s3.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from robopipe.convert.engine import ShardMarker, run_conversion
from robopipe.errors import ConversionError
from tests.robopipe.convert.test_publish_resume_s3 import files, request


def test_file_url_resume_redoes_failed_and_unreadable_shards_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    flag = tmp_path / "broken"
    once = run_conversion(request(flag, tmp_path / "once", f"file://{tmp_path / 'pub' / 'once'}"))
    assert (once.shards_done, once.shards_skipped) == (4, 0)
    assert not (tmp_path / "pub" / "once.shards").exists()  # the exchange is cleaned up

    url = f"file://{tmp_path / 'pub' / 'ds'}"
    exchange = tmp_path / "pub" / "ds.shards"
    flag.touch()
    with pytest.raises(ConversionError, match="shard 2: RuntimeError"):
        run_conversion(request(flag, tmp_path / "ds", url))
    assert sorted(p.name for p in exchange.glob("*.done.json")) == [
        f"shard-0000{i}.done.json" for i in (0, 1, 3)
    ]
    (exchange / "shard-00000.done.json").write_text("{not json")  # unreadable: redone
    one = ShardMarker.model_validate_json((exchange / "shard-00001.done.json").read_text())
    (exchange / "shard-00003.done.json").write_text(one.model_dump_json())  # shard 1's marker: redone
    flag.unlink()

    again = run_conversion(request(flag, tmp_path / "ds", url))
    assert (again.shards_done, again.shards_skipped) == (3, 1)
    assert (again.episodes, again.frames) == (once.episodes, once.frames)
    fa, fb = files(tmp_path / "pub" / "once"), files(tmp_path / "pub" / "ds")
    assert fa.keys() == fb.keys() and [k for k in fa if fa[k] != fb[k]] == []
    assert not exchange.exists()


def test_a_unit_run_again_finds_its_marker_and_converts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a retry of a lost worker's unit (or a straggler of a killed client's run) does."""
    from robopipe.convert.engine import convert_unit, plan_conversion, prepare_work_dir

    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    plan = plan_conversion(request(tmp_path / "ok", tmp_path / "ds", f"file://{tmp_path / 'pub'}"))
    assert prepare_work_dir(plan) == [0, 1, 2, 3]
    first = convert_unit(plan, 1)
    shard = tmp_path / "pub.shards" / "shard-00001"
    stamp = {p: p.stat().st_mtime_ns for p in shard.rglob("*") if p.is_file()}
    again = convert_unit(plan, 1)
    assert (first.skipped, again.skipped) == (False, True)
    assert again.model_copy(update={"skipped": False}) == first
    assert {p: p.stat().st_mtime_ns for p in shard.rglob("*") if p.is_file()} == stamp  # nothing rewritten
    assert prepare_work_dir(plan) == [0, 2, 3]
