"""Publishing to a Hub endpoint with the real ``huggingface_hub`` client, against the loopback test double
(``tests/fixtures/hub_server.py``, plain Git LFS, so ``HF_HUB_DISABLE_XET=1``)."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from robopipe.errors import HubAuthError, HubNotFoundError, HubUnavailableError, TagConflictError
from robopipe.publish import (
    DownloadRequest,
    HistoryRequest,
    HubClient,
    PublishRequest,
    download,
    history,
    publish,
)
from tests.fixtures.hub_server import HubTestServer
from tests.robopipe.publish.conftest import FAST_RETRY, TOKEN

pytestmark = pytest.mark.integration
_ids = itertools.count()


def _repo() -> str:
    return f"lab/ds-{next(_ids)}"


def _req(server: HubTestServer, root: Path, repo: str, **kw: object) -> PublishRequest:
    return PublishRequest(root=root, repo_id=repo, target="hub", endpoint=server.url, retry=FAST_RETRY, **kw)


def _no_sleep(_: float) -> None:
    return None


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_multi_commit_upload_then_tag_final_commit(
    hub_server: HubTestServer, dataset_factory: Callable[..., Path]
) -> None:
    root = dataset_factory(cameras=True)
    repo = _repo()
    # the placeholder mp4 is never decoded by a publish, but validation rejects it: publish it anyway
    result = publish(
        _req(hub_server, root, repo, tag="v1.0.0", max_files_per_commit=2, allow_invalid=True), TOKEN
    )

    assert len(result.commits) == 3 and len(hub_server.commit_log) == 3
    r = hub_server.repos[repo]
    assert r.branches["main"] == result.commit == result.commits[-1]
    assert r.tags == {"v1.0.0": result.commit, "v3.0": result.commit}
    assert result.tags == ("v1.0.0", "v3.0")
    # data/videos first, meta files and the card in the final commit
    assert hub_server.commit_log[0] == [
        "data/chunk-000/file-000.parquet",
        "videos/observation.images.front/chunk-000/file-000.mp4",
    ]
    assert "README.md" in hub_server.commit_log[-1] and "meta/tasks.parquet" in hub_server.commit_log[-1]
    tree = r.commits[result.commit].tree
    assert not [p for p in tree if p.startswith(("images/", ".staging")) or "/." in p]
    assert hub_server.file_content(repo, "v1.0.0", "meta/info.json") == (root / "meta/info.json").read_bytes()
    assert tree["data/chunk-000/file-000.parquet"].sha256 == _sha256(root / "data/chunk-000/file-000.parquet")
    card = hub_server.file_content(repo, "main", "README.md").decode()
    assert "- LeRobot" in card and "task_categories" in card

    client = HubClient(token=TOKEN, endpoint=hub_server.url, retry=FAST_RETRY)
    assert client.resolve(repo, "v1.0.0") == result.commit
    info = client.api.get_paths_info(
        repo, ["meta/info.json", "missing"], revision="v1.0.0", repo_type="dataset"
    )
    assert [(i.path, i.size) for i in info] == [("meta/info.json", (root / "meta/info.json").stat().st_size)]

    # history lists the commits, newest first, with the tags on the final one
    h = history(HistoryRequest(repo_id=repo, target="hub", endpoint=hub_server.url), TOKEN)
    assert [c.commit for c in h.commits[:3]] == list(reversed(result.commits))
    assert h.commits[0].tags == ("v1.0.0", "v3.0") and h.commits[0].title.endswith("(part 3/3)")


def test_rerun_without_changes_sends_nothing(hub_server: HubTestServer, tiny_dataset: Path) -> None:
    repo = _repo()
    first = publish(_req(hub_server, tiny_dataset, repo, tag="v1.0.0"), TOKEN)
    hub_server.reset_logs()
    again = publish(_req(hub_server, tiny_dataset, repo, tag="v1.0.0"), TOKEN)
    assert again.commits == () and again.uploaded == () and again.commit == first.commit
    assert again.unchanged == len(first.uploaded) - 1  # everything but the card, which is compared separately
    assert hub_server.commit_log == [] and hub_server.lfs_uploads == []
    assert not [
        m for m, p, _ in hub_server.log if m in ("PUT",) or p.endswith(("/preupload/main", "/commit/main"))
    ]


def test_resume_after_failure_sends_only_missing(
    hub_server: HubTestServer, dataset_factory: Callable[..., Path], fast_hf_backoff: list[float]
) -> None:
    root = dataset_factory(cameras=True)
    repo = _repo()
    req = _req(hub_server, root, repo, tag="v1.0.0", max_files_per_commit=2, allow_invalid=True)
    # The last commit (holding meta/stats.json) keeps failing: 500s, then 429s, more than the retries allow.
    hub_server.inject(r"/commit/main$", status=500, times=2, body_contains="meta/stats.json")
    hub_server.inject(r"/commit/main$", status=429, times=2, body_contains="meta/stats.json")
    with pytest.raises(HubUnavailableError, match="Gave up after 3 attempts"):
        publish(req, TOKEN, sleep=_no_sleep)
    r = hub_server.repos[repo]
    assert len(hub_server.commit_log) == 2  # the first two commits landed
    assert r.tags == {}  # no tag before the whole upload is committed
    statuses = [s for m, p, s in hub_server.log if p.endswith("/commit/main")]
    assert statuses[-3:] == [500, 500, 429]

    hub_server.reset_logs()
    result = publish(req, TOKEN, sleep=_no_sleep)  # the remaining 429 is retried, then it goes through
    assert hub_server.commit_log == [["meta/stats.json", "meta/tasks.parquet", "README.md"]]
    assert hub_server.lfs_uploads == []  # tasks.parquet reached LFS storage before the failed commit
    assert set(result.uploaded) == {"meta/stats.json", "meta/tasks.parquet", "README.md"}
    assert result.unchanged == 4
    assert r.tags == {"v1.0.0": result.commit, "v3.0": result.commit}


def test_lfs_upload_faults_are_retried(
    hub_server: HubTestServer, tiny_dataset: Path, fast_hf_backoff: list[float]
) -> None:
    repo = _repo()
    data_oid = _sha256(tiny_dataset / "data/chunk-000/file-000.parquet")
    hub_server.inject(r"/preupload/", status=429, times=2)
    hub_server.inject(rf"/lfs-upload/.*/{data_oid}$", status=503, times=2)
    hub_server.inject(r"/info/lfs/objects/batch$", status=500, times=1)
    result = publish(_req(hub_server, tiny_dataset, repo, tag="v1.0.0"), TOKEN, sleep=_no_sleep)
    assert hub_server.repos[repo].tags["v1.0.0"] == result.commit
    assert (
        hub_server.file_content(repo, "v1.0.0", "data/chunk-000/file-000.parquet")
        == (tiny_dataset / "data/chunk-000/file-000.parquet").read_bytes()
    )
    statuses = [s for _, _, s in hub_server.log]
    assert statuses.count(429) == 2 and statuses.count(503) == 2 and statuses.count(500) == 1, "\n".join(
        map(str, hub_server.log)
    )
    assert len(fast_hf_backoff) == 5  # huggingface_hub's own backoff ran (made instant by the fixture)


def test_persistent_lfs_failure_then_resume(
    hub_server: HubTestServer, dataset_factory: Callable[..., Path], fast_hf_backoff: list[float]
) -> None:
    root = dataset_factory(cameras=True)
    repo = _repo()
    video = root / "videos/observation.images.front/chunk-000/file-000.mp4"
    hub_server.inject(rf"/lfs-upload/.*/{_sha256(video)}$", status=500, times=1000)
    req = _req(hub_server, root, repo, tag="v1.0.0", allow_invalid=True)
    with pytest.raises(HubUnavailableError):
        publish(req, TOKEN, sleep=_no_sleep)
    uploaded_before = set(hub_server.lfs_uploads)
    assert _sha256(root / "data/chunk-000/file-000.parquet") in uploaded_before
    assert hub_server.repos[repo].tags == {}
    hub_server.faults.clear()
    hub_server.reset_logs()
    publish(req, TOKEN, sleep=_no_sleep)
    assert hub_server.lfs_uploads == [_sha256(video)]  # only the object that never made it


def test_tag_conflicts(hub_server: HubTestServer, dataset_factory: Callable[..., Path]) -> None:
    repo = _repo()
    a = dataset_factory(seed=0)
    b = dataset_factory(seed=1)
    v1 = publish(_req(hub_server, a, repo, tag="v1.0.0"), TOKEN)
    hub_server.reset_logs()
    with pytest.raises(TagConflictError, match="--force-tag"):
        publish(_req(hub_server, b, repo, tag="v1.0.0"), TOKEN)
    assert hub_server.commit_log == [] and hub_server.repos[repo].tags["v1.0.0"] == v1.commit  # checked first
    moved = publish(_req(hub_server, b, repo, tag="v1.0.0", force_tag=True), TOKEN)
    assert moved.commit != v1.commit and hub_server.repos[repo].tags["v1.0.0"] == moved.commit
    # the same content under the same tag is an idempotent no-op, not a conflict
    assert publish(_req(hub_server, b, repo, tag="v1.0.0"), TOKEN).commits == ()
    # a new version of unchanged data: only the card (which names the version) is sent
    bumped = publish(_req(hub_server, b, repo, tag="v1.0.1"), TOKEN)
    assert bumped.uploaded == ("README.md",) and len(bumped.commits) == 1
    assert hub_server.repos[repo].tags["v1.0.1"] == bumped.commit


def test_download_old_revision_after_newer_publish(
    hub_server: HubTestServer, dataset_factory: Callable[..., Path], tmp_path: Path
) -> None:
    repo = _repo()
    a = dataset_factory(seed=0, lengths=(4, 6, 5))
    b = dataset_factory(seed=1, lengths=(3, 3, 3, 3))
    v1 = publish(_req(hub_server, a, repo, tag="v1.0.0"), TOKEN)
    publish(_req(hub_server, b, repo, tag="v1.1.0"), TOKEN)
    got = download(
        DownloadRequest(
            repo_id=repo,
            revision="v1.0.0",
            out=tmp_path / "v1",
            target="hub",
            endpoint=hub_server.url,
            retry=FAST_RETRY,
        ),
        TOKEN,
    )
    assert got.commit == v1.commit and not (got.out / ".cache").exists()
    assert json.loads((got.out / "meta/info.json").read_text())["total_episodes"] == 3
    assert (got.out / "data/chunk-000/file-000.parquet").read_bytes() == (
        a / "data/chunk-000/file-000.parquet"
    ).read_bytes()
    latest = download(
        DownloadRequest(repo_id=repo, out=tmp_path / "latest", target="hub", endpoint=hub_server.url), TOKEN
    )
    assert json.loads((latest.out / "meta/info.json").read_text())["total_episodes"] == 4


def test_private_repo(hub_server: HubTestServer, tiny_dataset: Path, tmp_path: Path) -> None:
    repo = _repo()
    publish(_req(hub_server, tiny_dataset, repo, tag="v1.0.0", private=True), TOKEN)
    assert hub_server.repos[repo].private is True
    anonymous = HubClient(token=None, endpoint=hub_server.url, retry=FAST_RETRY)
    assert anonymous.repo_exists(repo) is False
    with pytest.raises(HubNotFoundError, match="private repos look missing"):
        download(
            DownloadRequest(repo_id=repo, out=tmp_path / "anon", target="hub", endpoint=hub_server.url),
            hub=anonymous,
        )
    assert not (tmp_path / "anon").exists()
    ok = download(
        DownloadRequest(repo_id=repo, out=tmp_path / "ok", target="hub", endpoint=hub_server.url), TOKEN
    )
    assert (ok.out / "meta/info.json").is_file()


def test_auth_errors_fail_at_once(hub_server: HubTestServer, tiny_dataset: Path) -> None:
    with pytest.raises(HubAuthError, match="HF_TOKEN"):
        publish(_req(hub_server, tiny_dataset, _repo()), "hf_wrong_token_123")
    # no retry on 401 (create_repo(exist_ok=True) itself probes the repo once after a 401)
    assert [s for _, _, s in hub_server.log] == [401, 401]
    with pytest.raises(HubNotFoundError):
        history(
            HistoryRequest(
                repo_id="lab/does-not-exist", target="hub", endpoint=hub_server.url, retry=FAST_RETRY
            ),
            TOKEN,
        )


def test_branch_publish(hub_server: HubTestServer, dataset_factory: Callable[..., Path]) -> None:
    repo = _repo()
    main = publish(_req(hub_server, dataset_factory(seed=0), repo, tag="v1.0.0"), TOKEN)
    dev = publish(_req(hub_server, dataset_factory(seed=1), repo, branch="exp/dev", tag="v1.1.0-rc.1"), TOKEN)
    r = hub_server.repos[repo]
    assert r.branches["main"] == main.commit and r.branches["exp/dev"] == dev.commit
    assert r.commits[dev.commit].parent == main.commit  # branched from main
    assert r.tags["v1.1.0-rc.1"] == dev.commit
    h = history(HistoryRequest(repo_id=repo, branch="exp/dev", target="hub", endpoint=hub_server.url), TOKEN)
    assert h.commits[0].commit == dev.commit and "exp/dev" in h.branches


def test_removed_files_are_deleted_and_dry_run_changes_nothing(
    hub_server: HubTestServer, dataset_factory: Callable[..., Path]
) -> None:
    repo = _repo()
    root = dataset_factory(cameras=True)
    publish(_req(hub_server, root, repo, allow_invalid=True), TOKEN)
    shutil.rmtree(root / "videos")
    head = hub_server.repos[repo].branches["main"]
    plan = publish(_req(hub_server, root, repo, dry_run=True, allow_invalid=True), TOKEN)
    assert plan.dry_run and plan.commit is None and hub_server.repos[repo].branches["main"] == head
    assert plan.deleted == ("videos/observation.images.front/chunk-000/file-000.mp4",)
    done = publish(_req(hub_server, root, repo, allow_invalid=True), TOKEN)
    assert done.deleted == plan.deleted
    assert (
        "videos/observation.images.front/chunk-000/file-000.mp4"
        not in hub_server.repos[repo].commits[done.commit].tree
    )
    assert ".gitattributes" in hub_server.repos[repo].commits[done.commit].tree  # not ours: kept


def test_dry_run_on_missing_repo(hub_server: HubTestServer, tiny_dataset: Path) -> None:
    repo = _repo()
    plan = publish(_req(hub_server, tiny_dataset, repo, tag="v1.0.0", dry_run=True), TOKEN)
    assert repo not in hub_server.repos and "meta/info.json" in plan.uploaded and plan.commit is None
