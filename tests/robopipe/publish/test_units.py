"""Unit tests: file selection and hashes, version tags, request models, error classification and backoff."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from pydantic import ValidationError

from robopipe.errors import (
    ConfigError,
    HubAuthError,
    HubError,
    HubNotFoundError,
    HubUnavailableError,
    TransientError,
)
from robopipe.publish.files import hash_file, is_published_path, list_dataset_files
from robopipe.publish.models import PublishRequest, default_registry
from robopipe.publish.retry import HubConflictError, RetryPolicy, call_with_retry, classify
from robopipe.publish.versioning import check_branch_name, check_version_tag

try:  # the HTTP library huggingface_hub talks through: httpx2 (2.x) or httpx (1.x)
    import httpx2 as http
except ImportError:
    import httpx as http  # type: ignore[no-redef]


def _http_error(status: int) -> HfHubHTTPError:
    response = http.Response(status, request=http.Request("GET", "http://127.0.0.1/api/x"))
    return HfHubHTTPError(f"{status} error", response=response)


def test_published_files_skip_images_hidden_and_card(tiny_dataset: Path) -> None:
    (tiny_dataset / "README.md").write_text("old card")
    files = list_dataset_files(tiny_dataset)
    assert files == sorted(files)
    assert "meta/info.json" in files and "data/chunk-000/file-000.parquet" in files
    assert not [f for f in files if f.startswith(("images/", ".staging/")) or "/." in f or f == "README.md"]
    assert is_published_path("videos/observation.images.front/chunk-000/file-000.mp4")
    assert not is_published_path("meta/.info.json.tmp-1-0")


def test_hashes_match_git(tiny_dataset: Path) -> None:
    f = hash_file(tiny_dataset, "meta/info.json")
    git = subprocess.run(
        ["git", "hash-object", "--no-filters", str(f.abspath)], capture_output=True, text=True
    )
    assert f.git_sha1 == git.stdout.strip()
    assert len(f.sha256) == 64 and f.size == f.abspath.stat().st_size


@pytest.mark.parametrize(
    "tag",
    [
        "v1.2.0",
        "1.0.0",
        "v2.0.0-rc.1",
        "v1.0.0+build.5",
        "v1.0",
        "v1",
        "latest",
        "release/2024-06",
        "v1.2.3.4",
    ],
)
def test_tag_names_the_hub_accepts(tag: str) -> None:
    assert check_version_tag(tag) == tag


@pytest.mark.parametrize(
    "tag", ["v3.0", "", "a b", "a..b", "x.lock", "-x", "x/", "/x", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b",
            "@", "a@{b", ".x", "a/.b", "a//b", "a\x00", "x" * 256, "0" * 40]
)  # fmt: skip
def test_bad_tags_rejected(tag: str) -> None:
    with pytest.raises(ConfigError, match=r"not a valid tag name|reserved|commit id"):
        check_version_tag(tag)


def test_branch_names() -> None:
    assert check_branch_name("dev/run-2") == "dev/run-2"
    for bad in ("a..b", "/x", "x/", "x.lock", "a b"):
        with pytest.raises(ConfigError):
            check_branch_name(bad)


def test_publish_request_validates(tmp_path: Path) -> None:
    req = PublishRequest(root=tmp_path, repo_id="lab/so101-pick", tag="v1.0.0")
    assert req.branch == "main" and req.target is None
    with pytest.raises(ValidationError, match="ORG/NAME"):
        PublishRequest(root=tmp_path, repo_id="no-org")
    with pytest.raises(ValidationError, match="not a valid tag name"):
        PublishRequest(root=tmp_path, repo_id="lab/x", tag="v1..2")
    with pytest.raises(ValidationError):
        PublishRequest(root=tmp_path, repo_id="lab/x", token="secret")  # type: ignore[call-arg]
    assert "token" not in PublishRequest.model_json_schema()["properties"]


def test_default_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROBOPIPE_REGISTRY", str(tmp_path / "reg"))
    assert default_registry() == tmp_path / "reg"
    monkeypatch.delenv("ROBOPIPE_REGISTRY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_registry() == tmp_path / "data" / "robopipe" / "registry"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, HubUnavailableError),
        (500, HubUnavailableError),
        (503, HubUnavailableError),
        (401, HubAuthError),
        (403, HubAuthError),
        (404, HubNotFoundError),
        (409, HubConflictError),
        (400, HubError),
    ],
)
def test_classify_status(status: int, kind: type[HubError]) -> None:
    err = classify(_http_error(status), "do x")
    assert type(err) is kind
    assert err.args[0].startswith("do x")
    assert isinstance(err, TransientError) == (kind is HubUnavailableError)


def test_classify_wrapped_and_transport_errors() -> None:
    try:
        try:
            raise _http_error(502)
        except HfHubHTTPError as inner:
            raise RuntimeError("Error while uploading 'data/x.parquet' to the Hub.") from inner
    except RuntimeError as outer:
        assert isinstance(classify(outer, "upload"), HubUnavailableError)
    assert isinstance(classify(http.ReadTimeout("slow"), "x"), HubUnavailableError)
    assert isinstance(classify(http.ConnectError("refused"), "x"), HubUnavailableError)
    not_found = RepositoryNotFoundError(
        "nope", response=http.Response(404, request=http.Request("GET", "http://h"))
    )
    assert isinstance(classify(not_found, "x"), HubNotFoundError)


def test_retry_transient_then_success() -> None:
    calls, slept = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _http_error(429 if len(calls) == 1 else 503)
        return "ok"

    policy = RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=1.0)
    assert call_with_retry(flaky, "x", policy, sleep=slept.append) == "ok"
    assert len(calls) == 3 and len(slept) == 2
    assert all(0 <= s <= 1.0 for s in slept)


def test_retry_gives_up_and_never_retries_auth() -> None:
    slept: list[float] = []
    with pytest.raises(HubUnavailableError, match="Gave up after 3 attempts"):
        call_with_retry(
            lambda: (_ for _ in ()).throw(_http_error(500)),
            "x",
            RetryPolicy(max_attempts=3),
            sleep=slept.append,
        )
    assert len(slept) == 2
    calls: list[int] = []

    def denied() -> None:
        calls.append(1)
        raise _http_error(401)

    with pytest.raises(HubAuthError, match="HF_TOKEN"):
        call_with_retry(denied, "x", RetryPolicy(max_attempts=5), sleep=slept.append)
    assert len(calls) == 1


def test_backoff_is_exponential_with_jitter() -> None:
    import random

    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        samples = [policy.delay(attempt, rng) for _ in range(50)]
        assert all(0 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # jittered


def test_offline_mode_is_not_retried() -> None:
    """``OfflineModeIsEnabled`` subclasses ConnectionError, but it is a setting: one attempt, a clear message."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    calls: list[int] = []
    slept: list[float] = []

    def offline() -> None:
        calls.append(1)
        raise OfflineModeIsEnabled("Cannot reach https://huggingface.co/api/...: offline mode is enabled.")

    with pytest.raises(HubError, match="HF_HUB_OFFLINE") as info:
        call_with_retry(offline, "create repo", RetryPolicy(max_attempts=5), sleep=slept.append)
    assert not isinstance(info.value, TransientError)
    assert len(calls) == 1 and slept == []
