"""The viewer's HTTP server: JSON documents, byte ranges of the dataset's mp4 files, confinement."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from robopipe.quality import compute_quality
from robopipe.view import export_site, make_server
from robopipe.view.server import parse_range
from tests.fixtures.defects import make_defect_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = make_defect_dataset(tmp_path_factory.mktemp("view") / "ds")
    compute_quality(r)
    return r


@pytest.fixture(scope="module")
def base(root: Path) -> Iterator[str]:
    server = make_server(root, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_parse_range() -> None:
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=990-2000", 1000) == (990, 999)
    assert parse_range("bytes=1000-", 1000) is None
    assert parse_range("bytes=5-1", 1000) is None
    assert parse_range("items=0-1", 1000) is None
    assert parse_range("bytes=-", 1000) is None


def test_documents(base: str) -> None:
    status, _, body = _get(base + "api/dataset.json")
    ds = json.loads(body)
    assert status == 200 and len(ds["episodes"]) == 8 and ds["cameras"] == ["observation.images.front"]
    assert ds["episodes"][1]["level"] == "error" and "frozen_camera" in ds["episodes"][1]["kinds"]
    ep = json.loads(_get(base + "api/episode/5.json")[2])
    assert ep["length"] == 80 and len(ep["series"]["observation.state"]) == 6
    assert any(f["kind"] == "black_camera" and f["start"] == 30 for f in ep["findings"])
    assert (
        ep["videos"][0]["url"].startswith("videos/observation.images.front/") and ep["videos"][0]["from"] > 0
    )
    assert _get(base + "api/episode/99.json")[0] == 404
    status, _, body = _get(base)
    assert status == 200 and b"robopipe view" in body


def test_video_byte_ranges(base: str, root: Path) -> None:
    ep = json.loads(_get(base + "api/episode/0.json")[2])
    url, data = ep["videos"][0]["url"], (root / ep["videos"][0]["url"]).read_bytes()
    status, headers, body = _get(base + url, {"Range": "bytes=10-109"})
    assert status == 206 and body == data[10:110]
    assert headers["Content-Range"] == f"bytes 10-109/{len(data)}" and headers["Accept-Ranges"] == "bytes"
    status, _, body = _get(base + url)
    assert status == 200 and body == data
    assert _get(base + url, {"Range": f"bytes={len(data)}-"})[0] == 416


@pytest.mark.parametrize(
    "path",
    [
        "meta/info.json",
        "../etc/passwd",
        "videos/../meta/info.json",
        "%2e%2e/%2e%2e/etc/passwd",
        "data/chunk-000/file-000.parquet",
    ],
)
def test_only_episode_videos_are_served(base: str, path: str) -> None:
    assert _get(base + path)[0] == 404


def test_export_static_site(root: Path, tmp_path: Path) -> None:
    out = export_site(root, tmp_path / "site")
    ds = json.loads((out / "api/dataset.json").read_text())
    assert len(ds["episodes"]) == 8
    assert sorted(p.name for p in (out / "api/episode").iterdir()) == sorted(f"{i}.json" for i in range(8))
    ep = json.loads((out / "api/episode/3.json").read_text())
    assert (out / ep["videos"][0]["url"]).read_bytes() == (root / ep["videos"][0]["url"]).read_bytes()
    assert (out / "index.html").read_bytes().startswith(b"<!doctype html>")
    shutil.rmtree(out)
    assert (root / ep["videos"][0]["url"]).is_file()  # hard links: the dataset keeps its files
