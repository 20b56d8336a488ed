"""Datasets on a real S3 server (SeaweedFS) read by byte ranges, counted by a relay in front of the server.

``info`` reads ``meta/`` and a listing only; one episode's rows and frames cost a fraction of the dataset;
results equal the local run; hostile templates and unreadable URLs stop in one line, credentials unseen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopipe.format.reader import DatasetReader
from robopipe.storage import upload_tree
from tests.fixtures.datasets import make_dataset
from tests.fixtures.s3_server import CountingProxy, route_through, seaweedfs

pytestmark = pytest.mark.integration

CAM = "observation.images.front"
BIG = {"observation.scan": {"dtype": "float32", "shape": [2048], "names": None}}  # 8 KB of noise a frame


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with seaweedfs(tmp_path_factory.mktemp("weed")) as env:
        yield env


@pytest.fixture(scope="module")
def remote(s3: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A ~10 MB dataset (2 cameras, 4 data files) uploaded to ``s3://robopipe/ds``, and a counting relay."""
    local = make_dataset(
        tmp_path_factory.mktemp("local") / "ds",
        episodes=8,
        frames=[60, 70, 50, 80, 60, 70, 55, 65],
        cameras={"front": (96, 128), "wrist": (48, 64)},
        extra_features=BIG,
        codec="h264",
        data_files_size_in_mb=2,
    )
    upload_tree(local, "s3://robopipe/ds")
    port = int(s3["FSSPEC_S3_ENDPOINT_URL"].rsplit(":", 1)[1])
    with CountingProxy(port) as proxy:
        yield {"local": local, "url": "s3://robopipe/ds", "proxy": proxy, "size": tree_bytes(local)}


def cli(args: list[str], proxy: CountingProxy, **env: str) -> subprocess.CompletedProcess[str]:
    """``robopipe ARGS`` in a fresh process whose S3 traffic goes through ``proxy``."""
    full = {**os.environ, "FSSPEC_S3_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}", **env}
    proxy.reset()
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, env=full, timeout=180
    )


@pytest.fixture
def via_proxy(remote: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CountingProxy:
    """In-process fsspec S3 clients talk to the server through the counting relay."""
    return route_through(remote["proxy"], monkeypatch)


def test_info_of_an_s3_dataset_reads_under_5_percent_and_equals_the_local_run(remote: dict[str, Any]) -> None:
    assert remote["size"] > 4_000_000
    local = cli(["info", str(remote["local"]), "--json"], remote["proxy"])
    assert local.returncode == 0, local.stderr
    res = cli(["info", remote["url"], "--json"], remote["proxy"])
    assert res.returncode == 0, res.stderr
    got, want = json.loads(res.stdout), json.loads(local.stdout)
    assert got.pop("root") == remote["url"] and want.pop("root") == str(remote["local"])
    assert got == want
    assert got["files"] == {"data": 4, "videos": 2, "episodes_metadata": 1}
    assert 0 < remote["proxy"].received < 0.05 * remote["size"]
    assert b"/videos/" not in remote["proxy"].requests and b"/data/" not in remote["proxy"].requests


def test_one_episode_rows_and_frames_by_ranges_equal_the_local_read(
    remote: dict[str, Any], via_proxy: CountingProxy
) -> None:
    local = DatasetReader(remote["local"])
    with DatasetReader(remote["url"]) as reader:
        meta = via_proxy.received
        rows = reader.read_episode(5, ["observation.state", "action", "index"])
        frames = reader.decode_frames(CAM, 5, [0.0, 1.0, 2.5])
        every = list(reader.iter_video_frames(CAM, 5))
    assert rows.equals(local.read_episode(5, ["observation.state", "action", "index"]))
    assert np.array_equal(frames, local.decode_frames(CAM, 5, [0.0, 1.0, 2.5]))
    assert len(every) == 70 and all(
        np.array_equal(a, b) for a, b in zip(every, local.iter_video_frames(CAM, 5))
    )
    # the big scan column and the other episodes' data, the other camera: never fetched
    assert via_proxy.received - meta < 0.25 * remote["size"]
    assert b"observation.images.wrist" not in via_proxy.requests


def hostile(s3_path: str, remote: dict[str, Any], tmp_path: Path, **info: Any) -> str:
    bad = tmp_path / "bad"
    make_dataset(bad, episodes=1, frames=4, cameras={"front": (16, 16)}, codec="h264")
    raw = json.loads((bad / "meta/info.json").read_text())
    (bad / "meta/info.json").write_text(json.dumps({**raw, **info}))
    upload_tree(bad, s3_path)
    return s3_path


@pytest.mark.parametrize(
    "info",
    [
        {"video_path": "../ds/videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"},
        {"data_path": "s3://other/data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"},
    ],
    ids=["dotdot", "other-bucket"],
)
def test_templates_pointing_outside_the_url_are_refused_in_one_line(
    remote: dict[str, Any], tmp_path: Path, info: dict[str, str]
) -> None:
    url = hostile(f"s3://robopipe/hostile-{tmp_path.name}", remote, tmp_path, **info)
    res = cli(["info", url], remote["proxy"])
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "info.json" in res.stderr and "Traceback" not in res.stderr
    assert b"/ds/" not in remote["proxy"].requests and b"/other" not in remote["proxy"].requests


def test_unreadable_urls_exit_2_in_one_line_without_credentials(remote: dict[str, Any]) -> None:
    res = cli(["info", "s3://no-such-bucket-here/ds"], remote["proxy"])
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "s3://no-such-bucket-here/ds" in res.stderr
    secret = "wrong-secret-9f8e7d"
    res = cli(
        ["info", remote["url"]],
        remote["proxy"],
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_ACCESS_KEY_ID="AKIDWRONG42",
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert secret not in res.stderr + res.stdout and "AKIDWRONG42" not in res.stderr + res.stdout
    assert "Traceback" not in res.stderr


@pytest.fixture(scope="module")
def small(s3: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two small datasets; the first at ``s3://robopipe/small`` next to 1 MB of junk under its prefix."""
    base = tmp_path_factory.mktemp("small")
    one = make_dataset(base / "one", episodes=3, frames=[6, 7, 8], cameras={"front": (32, 48)}, codec="h264")
    two = make_dataset(
        base / "two", episodes=2, frames=[5, 9], cameras={"front": (32, 48)}, codec="h264", seed=3
    )
    upload_tree(one, "s3://robopipe/small")
    junk = base / "junk"
    (junk / "videos/old").mkdir(parents=True)
    (junk / "videos/old/leftover.mp4").write_bytes(os.urandom(1 << 20))
    upload_tree(junk, "s3://robopipe/small")
    return {"one": one, "two": two, "url": "s3://robopipe/small", "junk": junk}


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_report_of_a_url_fetches_only_dataset_files_and_equals_the_local_page(
    small: dict[str, Any], remote: dict[str, Any], tmp_path: Path
) -> None:
    import re
    import shutil

    local = tmp_path / "one"
    shutil.copytree(small["one"], local)
    orphan = local / "data/chunk-000/file-007.parquet"  # no episode points at it: the validator says so
    shutil.copy(local / "data/chunk-000/file-000.parquet", orphan)
    url = f"s3://robopipe/report-{tmp_path.name}"
    upload_tree(local, url)
    upload_tree(small["junk"], url)  # 1 MB under the prefix that is no dataset file
    env = {"ROBOPIPE_SCRATCH": str(tmp_path / "scratch")}
    res_url = cli(["report", url, "--out", str(tmp_path / "r-url")], remote["proxy"], **env)
    assert b"leftover" not in remote["proxy"].requests and b"file-007" in remote["proxy"].requests
    res_local = cli(["report", str(local), "--out", str(tmp_path / "r-local")], remote["proxy"], **env)
    assert res_url.returncode == res_local.returncode, res_url.stderr + res_local.stderr
    assert res_url.stdout.split("  ", 1)[1] == res_local.stdout.split("  ", 1)[1]  # the finding counts

    def page(d: str, *names: str) -> str:
        html = (tmp_path / d / "report.html").read_text()
        html = re.sub(r"generated by robopipe on [^<]*", "", html)
        for name in names:  # where the page names its dataset (the URL, the local copy it validated)
            html = html.replace(name, "DATASET")
        return html.replace(f"report-{tmp_path.name}", "one")

    scratch = str(next((tmp_path / "scratch" / "fetched").iterdir()))
    assert page("r-url", url, scratch) == page("r-local", str(local))
    assert url in (tmp_path / "r-url" / "report.html").read_text()
    assert "not referenced by any episode" in page("r-url")


def test_merge_of_url_inputs_equals_the_local_merge(
    small: dict[str, Any], remote: dict[str, Any], tmp_path: Path
) -> None:
    env = {"ROBOPIPE_SCRATCH": str(tmp_path / "scratch")}
    two = f"file://{small['two']}"
    res = cli(["merge", str(tmp_path / "m-url"), small["url"], two], remote["proxy"], **env)
    assert res.returncode == 0, res.stderr
    assert b"leftover" not in remote["proxy"].requests
    res = cli(
        ["merge", str(tmp_path / "m-local"), str(small["one"]), str(small["two"])], remote["proxy"], **env
    )
    assert res.returncode == 0, res.stderr
    got, want = files_of(tmp_path / "m-url"), files_of(tmp_path / "m-local")
    assert sorted(got) == sorted(want)
    assert {k: v for k, v in got.items() if k.startswith(("data/", "videos/"))} == {
        k: v for k, v in want.items() if k.startswith(("data/", "videos/"))
    }
    assert got["meta/info.json"] == want["meta/info.json"]


def test_edits_of_a_url_write_a_local_output_and_never_in_place(
    small: dict[str, Any], remote: dict[str, Any], tmp_path: Path
) -> None:
    env = {"ROBOPIPE_SCRATCH": str(tmp_path / "scratch")}
    res = cli(
        ["delete-episodes", small["url"], "--episodes", "1", "--out", str(tmp_path / "d")],
        remote["proxy"],
        **env,
    )
    assert res.returncode == 0, res.stderr
    assert DatasetReader(tmp_path / "d").num_episodes == 2
    res = cli(["delete-episodes", small["url"], "--episodes", "1", "--in-place"], remote["proxy"], **env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--in-place" in res.stderr, res.stderr


def _uploaded_copy(src: Path, tmp_path: Path, name: str) -> tuple[Path, str, dict[str, str]]:
    """A private copy of ``src`` uploaded to its own S3 prefix, and the env giving the CLI its own scratch."""
    import shutil

    local = tmp_path / name
    shutil.copytree(src, local)
    url = f"s3://robopipe/{name}-{tmp_path.name}"
    upload_tree(local, url)
    return local, url, {"ROBOPIPE_SCRATCH": str(tmp_path / "scratch")}


def test_stats_of_a_url_fetch_only_what_they_read_and_equal_the_local_run(
    remote: dict[str, Any], tmp_path: Path
) -> None:
    from robopipe.storage import materialize

    local, url, env = _uploaded_copy(remote["local"], tmp_path, "stats")
    res = cli(["stats", url, "--no-images", "--workers", "0"], remote["proxy"], **env)
    assert res.returncode == 0, res.stderr
    assert b"/videos/" not in remote["proxy"].requests  # --no-images: no mp4 is fetched
    assert res.stdout.startswith(f"{url}: stats of 8 episodes")
    res = cli(["stats", str(local), "--no-images", "--workers", "0"], remote["proxy"], **env)
    assert res.returncode == 0, res.stderr
    res = cli(["stats", url, "--workers", "0"], remote["proxy"], **env)
    assert res.returncode == 0, res.stderr
    res = cli(["stats", str(local), "--workers", "0"], remote["proxy"], **env)
    assert res.returncode == 0, res.stderr
    back = materialize(url, into=tmp_path / "back")
    for rel in ("meta/stats.json", "meta/episodes/chunk-000/file-000.parquet", "meta/info.json"):
        assert (back / rel).read_bytes() == (local / rel).read_bytes(), rel


def test_remote_sizes_are_bounded_before_reading(
    remote: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from robopipe.errors import CorruptFileError
    from robopipe.storage import remote as remote_mod

    bad = make_dataset(tmp_path / "bad", episodes=2, frames=4, cameras={}, codec="h264")
    data = bad / "data/chunk-000/file-000.parquet"
    raw = data.read_bytes()
    data.write_bytes(raw[:-8] + (1 << 30).to_bytes(4, "little") + b"PAR1")  # a footer "1 GB long"
    url = f"s3://robopipe/sizes-{tmp_path.name}"
    upload_tree(bad, url)
    via_proxy.reset()
    with DatasetReader(url) as reader, pytest.raises(CorruptFileError, match="footer of 1073741824 bytes"):
        reader.read_episode(0)
    assert via_proxy.received < 200_000
    monkeypatch.setattr(remote_mod, "MAX_JSON_BYTES", 1000)  # info.json is ~1.5 kB: refused unread
    via_proxy.reset()
    with pytest.raises(CorruptFileError, match="over the 1000 bytes allowed"):
        DatasetReader(url)
    assert b"info.json" not in via_proxy.requests


def test_frames_of_one_episode_read_a_fraction_of_a_large_mp4(
    remote: dict[str, Any], via_proxy: CountingProxy, tmp_path: Path
) -> None:
    """16 episodes of noise (incompressible: ~1 MB of mp4 each) in one file: one episode's frames cost the
    ``moov`` box and that episode's samples, not the file."""
    from robopipe.format.video import VideoEncoderConfig
    from robopipe.format.writer import DatasetWriter
    from tests.fixtures.datasets import default_features, episode_columns

    feats = default_features({"front": (240, 320)})
    rng = np.random.default_rng(0)
    root = tmp_path / "noise"
    with DatasetWriter.create(
        root, fps=10, features=feats, robot_type="so101", encoder=VideoEncoderConfig(codec="h264")
    ) as w:
        for e in range(16):
            cols = episode_columns(feats, 40, e)
            cols[CAM] = rng.integers(0, 256, size=(40, 240, 320, 3), dtype=np.uint8)
            w.add_episode(cols, task="noise")
    (mp4,) = root.glob("videos/**/*.mp4")
    assert mp4.stat().st_size > 8_000_000
    url = f"s3://robopipe/noise-{tmp_path.name}"
    upload_tree(root, url)
    local = DatasetReader(root)
    with DatasetReader(url) as reader:
        assert len(reader.episodes) == 16  # metadata first, not counted
        via_proxy.reset()
        frames = reader.decode_frames(CAM, 12, [0.0, 1.5, 3.9])
        every = list(reader.iter_video_frames(CAM, 12))
    assert np.array_equal(frames, local.decode_frames(CAM, 12, [0.0, 1.5, 3.9]))
    assert len(every) == 40 and all(
        np.array_equal(a, b) for a, b in zip(every, local.iter_video_frames(CAM, 12))
    )
    assert via_proxy.received < 0.3 * mp4.stat().st_size


def test_quality_of_a_url_equals_the_local_run_and_is_published_back(
    small: dict[str, Any], remote: dict[str, Any], tmp_path: Path
) -> None:
    from robopipe.storage import materialize

    local, url, env = _uploaded_copy(small["one"], tmp_path, "quality")
    res_url = cli(["quality", url, "--json", "--workers", "0"], remote["proxy"], **env)
    res_local = cli(["quality", str(local), "--json", "--workers", "0"], remote["proxy"], **env)
    assert res_url.returncode == res_local.returncode, res_url.stderr + res_local.stderr
    got, want = json.loads(res_url.stdout), json.loads(res_local.stdout)
    for d in (got, want):
        d.pop("root", None), d.pop("seconds", None)
    assert got == want
    back = materialize(url, into=tmp_path / "back")
    quality = sorted(
        p.relative_to(local).as_posix() for p in (local / "meta/robopipe").rglob("*") if p.is_file()
    )
    assert quality and all((back / rel).read_bytes() == (local / rel).read_bytes() for rel in quality)
