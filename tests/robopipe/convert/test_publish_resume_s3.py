"""``--publish-to`` conversions resume from the shards already in object storage (a real S3 server).

One shard fails on purpose the first time (its episodes raise in the source hook); the finished shards stay
in ``<publish_to>.shards`` with their completion markers, a re-run converts only the failed shard, and the
published dataset equals a one-shot conversion byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from robopipe.convert.engine import ConvertRequest, EncoderOptions, ShardMarker, run_conversion
from robopipe.convert.source import SourceSpec
from robopipe.errors import ConversionError, DatasetExistsError
from robopipe.storage import filesystem, materialize
from tests.fixtures.s3_server import seaweedfs
from tests.robopipe.convert.test_custom_sources import toy_hook

pytestmark = [pytest.mark.integration]

ENC = EncoderOptions(codec="h264", crf=20, preset="ultrafast")
# the run's counts and seconds (differ by design) and the stamp of the local copy made to compare
NOT_DATASET = ("meta/robopipe/conversion.json", ".robopipe-materialized.json")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with seaweedfs(tmp_path_factory.mktemp("weed")) as env:
        yield env


def flaky_hook(flag: str, start: int = 0, stop: int | None = None) -> Any:
    """``toy_hook``'s 4 episodes; episode 2 raises while the file ``flag`` exists (a source that breaks, then
    is fixed)."""
    for e, episode in enumerate(toy_hook(start, stop), start):
        if e == 2 and Path(flag).exists():
            raise RuntimeError(f"episode {e}: source unavailable")
        yield episode


def request(flag: Path, out: Path, url: str, fps: int = 10) -> ConvertRequest:
    return ConvertRequest(
        source=SourceSpec(kind="hook", path=f"{__name__}:flaky_hook", options={"arg": str(flag)}),
        out=out,
        fps=fps,
        episodes="0:4",
        shards=4,
        encoder=ENC,
        publish_to=url,
    )


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in NOT_DATASET
    }


def test_a_failed_shard_is_the_only_one_converted_again(
    s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    flag = tmp_path / "broken"
    once = run_conversion(request(flag, tmp_path / "once", "s3://robopipe/resume/once"))
    assert (once.episodes, once.shards_done, once.shards_skipped) == (4, 4, 0)

    url = "s3://robopipe/resume/ds"
    flag.touch()
    with pytest.raises(ConversionError, match=r"1 of 4 shards failed .*shard 2: RuntimeError"):
        run_conversion(request(flag, tmp_path / "ds", url))
    fs, _ = filesystem(url)
    fs.invalidate_cache()
    markers = sorted(p.rsplit("/", 1)[-1] for p in fs.glob("robopipe/resume/ds.shards/*.done.json"))
    assert markers == [f"shard-0000{i}.done.json" for i in (0, 1, 3)]
    marker = ShardMarker.model_validate_json(fs.cat_file("robopipe/resume/ds.shards/shard-00001.done.json"))
    assert marker.result.index == 1 and marker.result.episodes == 1
    assert not fs.exists("robopipe/resume/ds/meta/info.json")  # nothing published yet

    # shards of another plan (here another fps) are refused, not mixed in
    with pytest.raises(ConversionError, match="different conversion"):
        run_conversion(request(flag, tmp_path / "other", url, fps=5))

    flag.unlink()  # the source is fixed
    again = run_conversion(request(flag, tmp_path / "ds", url))
    assert (again.episodes, again.frames) == (once.episodes, once.frames)
    assert (again.shards_done, again.shards_skipped) == (1, 3)  # only the failed shard was converted

    fs.invalidate_cache()
    assert fs.exists("robopipe/resume/ds/meta/info.json")
    assert not [p for p in fs.find("robopipe/resume/ds.shards") if p.startswith("robopipe/resume/ds.shards/")]
    a = materialize("s3://robopipe/resume/once", into=tmp_path / "check-once")
    b = materialize(url, into=tmp_path / "check-ds")
    fa, fb = files(a), files(b)
    assert fa.keys() == fb.keys() and any(k.endswith(".mp4") for k in fa)
    assert [k for k in fa if fa[k] != fb[k]] == []

    with pytest.raises(DatasetExistsError, match="already published"):
        run_conversion(request(flag, tmp_path / "ds2", url))
