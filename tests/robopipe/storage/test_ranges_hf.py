"""``hf://`` datasets for real: huggingface_hub's ``HfFileSystem`` against the loopback Hub test double (which
answers ``Range`` requests like the Hub's CDN), the dataset put there by robopipe's own publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopipe.format.reader import DatasetReader
from robopipe.publish import PublishRequest, publish
from tests.fixtures.datasets import make_dataset
from tests.fixtures.hub_server import HubTestServer
from tests.robopipe.publish.conftest import FAST_RETRY, TOKEN

pytestmark = pytest.mark.integration

REPO = "lab/ranges"
URL = f"hf://datasets/{REPO}"
CAM = "observation.images.front"
BIG = {"observation.scan": {"dtype": "float32", "shape": [1024], "names": None}}


@pytest.fixture
def on_hub(hub_server: HubTestServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A ~3 MB dataset with two cameras, published to the test Hub (once per session's server)."""
    local = tmp_path_factory.getbasetemp() / "hf-ranges" / "ds"
    if REPO not in hub_server.repos:
        make_dataset(
            local,
            episodes=6,
            frames=[50, 60, 40, 70, 55, 45],
            cameras={"front": (64, 96), "wrist": (32, 48)},
            extra_features=BIG,
            codec="h264",
            data_files_size_in_mb=1,
        )
        publish(
            PublishRequest(root=local, repo_id=REPO, target="hub", endpoint=hub_server.url, retry=FAST_RETRY),
            TOKEN,
        )
    hub_server.reset_logs()
    size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    return {"local": local, "size": size}


def cli(server: HubTestServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    full.update({"HF_ENDPOINT": server.url, "HF_HUB_DISABLE_XET": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, env=full, timeout=180
    )


def test_info_of_a_hub_dataset_reads_metadata_only(hub_server: HubTestServer, on_hub: dict[str, Any]) -> None:
    want = cli(hub_server, "info", str(on_hub["local"]), "--json")
    res = cli(hub_server, "info", URL, "--json")
    assert res.returncode == 0 and want.returncode == 0, res.stderr + want.stderr
    got, exp = json.loads(res.stdout), json.loads(want.stdout)
    assert got.pop("root") == URL and exp.pop("root") == str(on_hub["local"])
    assert got == {**exp, "size_bytes": got["size_bytes"]}  # the Hub also holds README.md/.gitattributes
    assert got["size_bytes"] >= exp["size_bytes"]
    assert 0 < hub_server.served < 0.05 * on_hub["size"]
    assert not [p for _, p, _ in hub_server.log if "/resolve/" in p and ("/data/" in p or "/videos/" in p)]


def test_one_episode_of_a_hub_dataset_is_read_by_ranges(
    hub_server: HubTestServer, on_hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    monkeypatch.setitem(fsspec.config.conf, "hf", {"endpoint": hub_server.url})
    local = DatasetReader(on_hub["local"])
    with DatasetReader(URL) as reader:
        assert reader.num_episodes == 6 and reader.tasks == local.tasks
        rows = reader.read_episode(3, ["observation.state", "action"])
        frames = reader.decode_frames(CAM, 3, [0.0, 2.0, 6.9])
    assert rows.equals(local.read_episode(3, ["observation.state", "action"]))
    assert np.array_equal(frames, local.decode_frames(CAM, 3, [0.0, 2.0, 6.9]))
    assert 0 < hub_server.served < 0.25 * on_hub["size"]
    assert any(status == 206 for _, p, status in hub_server.log if "/data/" in p)


def test_report_of_a_hub_dataset(hub_server: HubTestServer, on_hub: dict[str, Any], tmp_path: Path) -> None:
    res = cli(hub_server, "report", URL, "--out", str(tmp_path / "r"), ROBOPIPE_SCRATCH=str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "r" / "report.html").read_text()
    assert URL in html and "0 error(s)" in res.stdout


def test_unreadable_hub_urls_exit_2_in_one_line_without_the_token(
    hub_server: HubTestServer, on_hub: dict[str, Any]
) -> None:
    res = cli(hub_server, "info", "hf://datasets/lab/no-such-dataset")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "hf://datasets/lab/no-such-dataset" in res.stderr
    token = "hf_wrong_token_5c4b3a"
    res = cli(hub_server, "info", URL, HF_TOKEN=token)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert token not in res.stderr + res.stdout and "Traceback" not in res.stderr


def test_stats_of_a_hub_dataset_is_refused_before_any_download(
    hub_server: HubTestServer, on_hub: dict[str, Any], tmp_path: Path
) -> None:
    res = cli(hub_server, "stats", URL, "--workers", "0", HF_TOKEN=TOKEN, ROBOPIPE_SCRATCH=str(tmp_path))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "robopipe publish" in res.stderr, (
        res.stderr
    )
    assert hub_server.served == 0 and not hub_server.commit_log
