"""A conversion source on a real S3 server (SeaweedFS) is fetched per shard, counted by a relay in front of it.

The planner downloads the source's metadata only; each of 4 shard units downloads the metadata plus the
TFRecord files of its own episode range, so the 4 shards together download about one source, not 4; the
result equals the conversion of the local source (data byte for byte, video frame for frame).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopipe.convert.engine import (
    ConvertRequest,
    EncoderOptions,
    convert_shard,
    plan_conversion,
    prepare_work_dir,
    run_conversion,
)
from robopipe.convert.source import SourceSpec, local_source
from robopipe.errors import CorruptFileError, UnsafePathError
from robopipe.storage import upload_tree
from robopipe.storage.parts import fetch_parts
from tests.fixtures.compare import assert_same_output, frames
from tests.fixtures.s3_server import CountingProxy, route_through, seaweedfs

pytestmark = [pytest.mark.integration]

ENC = EncoderOptions(codec="h264", crf=20, preset="ultrafast")
SLACK = 32 << 10  # listings, HTTP headers and the stamp checks of one unit (measured: ~7 kB)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with seaweedfs(tmp_path_factory.mktemp("weed")) as env:
        yield env


@pytest.fixture(scope="module")
def source(s3: dict[str, str], rlds_factory: Any) -> Iterator[dict[str, Any]]:
    """An 8-episode RLDS source of 4 TFRecord files (2 episodes each) at ``s3://robopipe/src``."""
    fx = rlds_factory("oxe", train=8, val=0, steps=24, num_shards=4)
    records = sorted(p.name for p in fx.version_dir.glob("*.tfrecord*"))
    assert len(records) == 4
    url = "s3://robopipe/src/toy_oxe"
    upload_tree(fx.version_dir.parent, url)  # <name>/<version>/: the reader finds the version dir itself
    port = int(s3["FSSPEC_S3_ENDPOINT_URL"].rsplit(":", 1)[1])
    sizes = {p.name: p.stat().st_size for p in fx.version_dir.iterdir() if p.is_file()}
    with CountingProxy(port) as proxy:
        yield {"fx": fx, "url": url, "proxy": proxy, "records": records, "sizes": sizes}


@pytest.fixture
def via_proxy(source: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CountingProxy:
    """In-process fsspec S3 clients talk to the server through the counting relay."""
    return route_through(source["proxy"], monkeypatch)


def request(path: str, out: Path) -> ConvertRequest:
    return ConvertRequest(source=SourceSpec(kind="rlds", path=path), out=out, fps=10, shards=4, encoder=ENC)


def fetched_records(scratch: Path) -> list[set[str]]:
    """The TFRecord names of each partial copy in ``scratch``."""
    return [
        {p.name for p in d.rglob("*.tfrecord*")} for d in sorted((scratch / "parts").iterdir()) if d.is_dir()
    ]


def test_each_shard_fetches_only_its_tfrecords_and_the_result_equals_the_local_run(
    source: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(scratch))
    sizes, records = source["sizes"], source["records"]
    meta = sum(n for name, n in sizes.items() if name.endswith(".json"))
    whole = sum(sizes.values())

    plan = plan_conversion(request(source["url"], tmp_path / "s3"))
    planned = via_proxy.received
    assert [(s.start, s.stop) for s in plan.shards] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert planned <= meta + SLACK < whole  # the planner: metadata and listings, no TFRecord
    assert fetched_records(scratch) == [set()]
    assert not (scratch / "materialized").exists()  # nothing was copied whole

    todo = prepare_work_dir(plan)
    per_shard = []
    for i in todo:
        via_proxy.reset()
        convert_shard(plan, i)
        per_shard.append(via_proxy.received)
        assert per_shard[-1] <= sizes[records[i]] + 2 * meta + SLACK, (i, per_shard)
        assert per_shard[-1] < sizes[records[i]] + whole / 2  # never the whole source
    copies = fetched_records(scratch)
    assert sorted(map(sorted, copies)) == sorted([[]] + [[r] for r in records])  # one TFRecord per shard
    assert planned + sum(per_shard) < 2 * whole  # about one source in total (metadata per unit), not 4

    report = run_conversion(request(source["url"], tmp_path / "s3"))  # the shards are done: merges only
    assert (report.episodes, report.shards_skipped) == (8, 4)
    local = run_conversion(request(str(source["fx"].version_dir), tmp_path / "local"))
    assert local.episodes == 8
    a, b = tmp_path / "local", tmp_path / "s3"
    assert_same_output(a, b, stats=True)


def test_a_range_across_files_fetches_each_file_it_reads_once(
    source: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    spec = SourceSpec(kind="rlds", path=source["url"])
    local, _ = local_source(spec, (1, 5))  # episodes 1..4: the ends of file 0 and file 2, all of file 1
    assert sorted(p.name for p in local.rglob("*.tfrecord*")) == source["records"][:3]
    last, _ = local_source(spec, (7, None))
    assert sorted(p.name for p in last.rglob("*.tfrecord*")) == source["records"][3:]


def test_metadata_is_size_capped_and_paths_stay_under_the_url(
    source: dict[str, Any], s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    from robopipe.convert import rlds

    monkeypatch.setattr(rlds, "RLDS_PARTS", dataclasses.replace(rlds.RLDS_PARTS, plan_cap=100))
    with pytest.raises(
        CorruptFileError, match=r"1\.0\.0/dataset_info\.json: 482 bytes, over the 100 bytes allowed"
    ):
        local_source(SourceSpec(kind="rlds", path=source["url"]))
    with pytest.raises(UnsafePathError):
        fetch_parts(source["url"], {"../other/secret.json"})
    with pytest.raises(UnsafePathError):
        fetch_parts(source["url"], {"1.0.0/../../x"})
    assert not (tmp_path / "scratch" / "parts").exists()


def test_a_hostile_file_name_in_dataset_info_is_refused(
    source: dict[str, Any], s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TFRecord name from dataset_info.json is joined under the version dir and checked like any path."""
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    bad = tmp_path / "bad" / "toy_oxe" / "1.0.0"
    bad.mkdir(parents=True)
    version = source["fx"].version_dir
    for name in ("features.json", "dataset_info.json"):
        (bad / name).write_bytes((version / name).read_bytes())
    doc = json.loads((bad / "dataset_info.json").read_text())
    assert doc["splits"][0]["filepathTemplate"]
    doc["splits"][0]["filepathTemplate"] = ".."
    (bad / "dataset_info.json").write_text(json.dumps(doc))
    upload_tree(bad.parent, "s3://robopipe/bad/toy_oxe")
    with pytest.raises(UnsafePathError, match=r"'1\.0\.0/\.\.' must not contain '\.\.'"):
        local_source(SourceSpec(kind="rlds", path="s3://robopipe/bad/toy_oxe"), (0, 2))
    assert not list((tmp_path / "scratch").rglob("*.tfrecord*"))


def test_hdf5_episode_files_are_fetched_per_shard_and_equal_the_local_run(
    s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ALOHA folder of 10 episode files (one corrupt): the planner fetches the first file, each shard its own;
    the natural file order (episode_9 before episode_10) and the failed episode's index are the local run's."""
    from tests.robopipe.convert.test_custom_sources import make_aloha

    scratch = tmp_path / "scratch"
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(scratch))
    make_aloha(tmp_path / "aloha", episodes=11, corrupt=9)
    upload_tree(tmp_path / "aloha", "s3://robopipe/aloha")
    mapping = tmp_path / "aloha.yaml"
    mapping.write_text(
        "fps: 50\nrobot_type: aloha\ncameras: {cam_high: observations/images/cam_high}\n"
        "state: [observations/qpos]\naction: [action]\ntask: {default: transfer the cube}\n"
    )

    def req(path: str, out: str) -> ConvertRequest:
        return ConvertRequest(
            source=SourceSpec(kind="hdf5", path=path),
            out=tmp_path / out,
            mapping=str(mapping),
            encoder=ENC,
            shards=4,
        )

    plan = plan_conversion(req("s3://robopipe/aloha", "s3"))
    copies = [
        sorted(p.name for p in d.iterdir() if p.suffix == ".hdf5") for d in (scratch / "parts").iterdir()
    ]
    assert copies == [["episode_0.hdf5"]]  # the planner described the first episode file only
    remote = run_conversion(req("s3://robopipe/aloha", "s3"))
    local = run_conversion(req(str(tmp_path / "aloha"), "local"))
    assert [(s.start, s.stop) for s in plan.shards] == [(0, 2), (2, 5), (5, 8), (8, 11)]
    copies = {
        frozenset(p.name for p in d.iterdir() if p.suffix == ".hdf5") for d in (scratch / "parts").iterdir()
    }
    names = [f"episode_{e}.hdf5" for e in range(11)]  # natural order: episode_9 before episode_10
    assert copies == {frozenset(names[a:b]) for a, b in [(0, 1), (0, 2), (2, 5), (5, 8), (8, 11)]}
    assert [f["index"] for f in remote.failures] == [f["index"] for f in local.failures] == [9]
    assert remote.episodes == local.episodes == 10
    a, b = tmp_path / "local", tmp_path / "s3"
    assert_same_output(a, b)


def test_a_single_file_url_source_is_fetched_whole(
    s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A robomimic file at a URL (no folder to list) is one file fetched whole, then read as locally."""
    import h5py

    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    path = tmp_path / "demo.hdf5"
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        for i in range(3):
            g = f.create_group(f"data/demo_{i}")
            g.create_dataset("obs/state", data=rng.standard_normal((4, 3)).astype(np.float32))
            g.create_dataset("actions", data=rng.standard_normal((4, 2)).astype(np.float32))
    upload_tree(tmp_path, "s3://robopipe/single")  # demo.hdf5 among the test's other files
    local, found = local_source(SourceSpec(kind="hdf5", path="s3://robopipe/single/demo.hdf5"), (0, 1))
    assert local.read_bytes() == path.read_bytes() and found == {}
    out = run_conversion(
        ConvertRequest(
            source=SourceSpec(kind="hdf5", path="s3://robopipe/single/demo.hdf5"),
            out=tmp_path / "out",
            fps=10,
            shards=2,
            encoder=ENC,
        )
    )
    assert (out.episodes, out.failures) == (3, [])


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_v21_source_fetches_meta_and_its_episode_files_only(
    source: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``convert v21 s3://...``: meta/ and the episodes' parquet/mp4 files are fetched, not the junk under the
    prefix (an unreferenced episode video, a large blob); the result equals the local port byte for byte."""
    from flows.cli import main
    from robopipe.convert.v21 import v21_shard_files
    from tests.robopipe.convert.test_v21 import make_v21

    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(tmp_path / "scratch"))
    src = tmp_path / "v21"
    make_v21(src)
    needed = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    video = src / "videos/chunk-000/observation.images.top"
    (video / "episode_000099.mp4").write_bytes((video / "episode_000000.mp4").read_bytes() * 20)
    (src / "junk").mkdir()
    (src / "junk/blob.bin").write_bytes(b"\0" * (1 << 20))
    upload_tree(src, "s3://robopipe/v21")
    via_proxy.reset()

    assert main(["convert", "v21", "s3://robopipe/v21", "--out", str(tmp_path / "s3")]) == 0
    assert via_proxy.received <= needed + SLACK < 1 << 20  # the junk was never downloaded
    assert main(["convert", "v21", str(src), "--out", str(tmp_path / "local")]) == 0
    assert tree(tmp_path / "s3") == tree(tmp_path / "local")

    listing = {p.relative_to(src).as_posix(): p.stat().st_size for p in src.rglob("*") if p.is_file()}
    got = v21_shard_files(listing, lambda: src, None, 1, 3)
    assert sorted(r for r in got if not r.startswith("meta/")) == [
        "data/chunk-000/episode_000001.parquet",
        "data/chunk-000/episode_000002.parquet",
        "videos/chunk-000/observation.images.top/episode_000001.mp4",
        "videos/chunk-000/observation.images.top/episode_000002.mp4",
    ]


def test_a_v21_template_leaving_the_source_is_refused_before_any_episode_fetch(tmp_path: Path) -> None:
    from robopipe.convert.v21 import v21_shard_files
    from tests.robopipe.convert.test_v21 import make_v21

    src = tmp_path / "v21"
    make_v21(src)
    info = json.loads((src / "meta/info.json").read_text())
    info["data_path"] = "../outside/episode_{episode_index:06d}.parquet"
    (src / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(UnsafePathError):
        v21_shard_files({}, lambda: src, None, 0, None)


def test_a_v21_source_in_4_shards_fetches_per_shard_and_equals_the_local_sharded_port(
    source: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 units, one episode each: each unit's copy holds meta/ and its own episode's parquet and mp4; the
    download is about one source (meta/ per unit), and the merged result equals the local sharded port byte for
    byte and the one-shot port frame for frame."""
    from robopipe.convert.v21 import V21ConvertRequest, convert_v21
    from robopipe.format.reader import DatasetReader
    from tests.robopipe.convert.test_v21 import LENGTHS, make_v21

    scratch = tmp_path / "scratch"
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(scratch))
    src = tmp_path / "v21"
    make_v21(src)
    sizes = {p.relative_to(src).as_posix(): p.stat().st_size for p in src.rglob("*") if p.is_file()}
    meta = sum(n for rel, n in sizes.items() if rel.startswith("meta/"))
    upload_tree(src, "s3://robopipe/v21-sharded")
    via_proxy.reset()

    info = convert_v21(V21ConvertRequest(src="s3://robopipe/v21-sharded", out=tmp_path / "s3", shards=4))
    assert info.total_episodes == 4 and info.total_frames == sum(LENGTHS)
    assert via_proxy.received <= sum(sizes.values()) + 5 * (meta + SLACK)  # the plan's and 4 units' meta/
    copies = {
        frozenset(p.relative_to(d).as_posix() for p in d.rglob("*") if p.suffix in (".parquet", ".mp4"))
        for d in (scratch / "parts").iterdir()
    }
    own = [
        frozenset(
            {
                f"data/chunk-000/episode_{e:06d}.parquet",
                f"videos/chunk-000/observation.images.top/episode_{e:06d}.mp4",
            }
        )
        for e in range(4)
    ]
    assert copies == {frozenset(), *own}  # meta/ alone (the plan) and one episode per unit
    assert not (tmp_path / "s3.shards").exists()

    convert_v21(V21ConvertRequest(src=src, out=tmp_path / "local", shards=4))
    assert tree(tmp_path / "s3") == tree(tmp_path / "local")
    convert_v21(V21ConvertRequest(src=src, out=tmp_path / "once"))
    a, b = DatasetReader(tmp_path / "once"), DatasetReader(tmp_path / "s3")
    assert a.tasks == b.tasks and a.num_episodes == b.num_episodes == 4
    for e in range(4):
        ta, tb = a.read_episode(e).to_pandas(), b.read_episode(e).to_pandas()
        for col in ("observation.state", "action", "task_index", "frame_index", "index"):
            np.testing.assert_array_equal(np.stack(ta[col].to_numpy()), np.stack(tb[col].to_numpy()))
    fa, fb = frames(tmp_path / "once"), frames(tmp_path / "s3")
    flat_a = [f for k in sorted(fa) for f in fa[k]]
    flat_b = [f for k in sorted(fb) for f in fb[k]]
    assert len(flat_a) == len(flat_b) == sum(LENGTHS)
    assert all(np.array_equal(x, y) for x, y in zip(flat_a, flat_b))


def test_a_zarr_store_is_read_by_chunk_from_the_url(
    source: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay buffer at a URL is opened by zarr's fsspec store: nothing is copied into scratch, the first
    episode's shard reads its chunks only, and the result equals the local conversion."""
    from tests.robopipe.convert.test_zarr_source import make_replay_buffer

    scratch = tmp_path / "scratch"
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(scratch))
    make_replay_buffer(tmp_path / "rb.zarr", zarr_format=3)  # episodes of 5, 7, 8 steps; chunks of 7
    whole = sum(p.stat().st_size for p in (tmp_path / "rb.zarr").rglob("*") if p.is_file())
    upload_tree(tmp_path / "rb.zarr", "s3://robopipe/rb.zarr")

    def req(path: str, out: str) -> ConvertRequest:
        return ConvertRequest(
            source=SourceSpec(kind="zarr", path=path), out=tmp_path / out, fps=10, shards=3, encoder=ENC
        )

    plan = plan_conversion(req("s3://robopipe/rb.zarr", "s3"))
    prepare_work_dir(plan)
    via_proxy.reset()
    convert_shard(plan, 0)  # episode 0: steps 0..4, the first of the 3 chunks of each array
    assert via_proxy.received < whole * 2 / 3  # its chunks + zarr metadata and listings (measured: ~56 %)
    remote = run_conversion(req("s3://robopipe/rb.zarr", "s3"))
    local = run_conversion(req(str(tmp_path / "rb.zarr"), "local"))
    assert remote.episodes == local.episodes == 3 and remote.failures == []
    assert not scratch.exists() or not any(scratch.rglob("*.zarr*"))
    a, b = tmp_path / "local", tmp_path / "s3"
    assert_same_output(a, b)
