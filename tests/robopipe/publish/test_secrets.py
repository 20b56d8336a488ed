"""The Hub token never appears in logs, results (artifacts), exception messages, uploaded files or CLI output."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.cli import main
from robopipe.errors import HubError
from robopipe.publish import DownloadRequest, HistoryRequest, PublishRequest, download, history, publish
from robopipe.publish.secrets import resolve_token, scrub, secret_scope
from tests.fixtures.hub_server import HubTestServer
from tests.robopipe.publish.conftest import FAST_RETRY, TOKEN


def _no_sleep(_: float) -> None:
    return None


def test_secret_scope_scrubs_every_record(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG), secret_scope("hf_abcdef123456"):
        log.info("header Authorization: Bearer %s", "hf_abcdef123456")
        try:
            raise RuntimeError("boom hf_abcdef123456")
        except RuntimeError:
            log.exception("failed")
    log.info("after: hf_abcdef123456")  # outside the scope: untouched
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records[:2])
    assert "hf_abcdef123456" not in text and text.count("***") >= 2
    assert scrub("x hf_abcdef123456 y", "hf_abcdef123456") == "x *** y"


def test_token_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    assert resolve_token("hf_explicit") == "hf_explicit"  # e.g. a Prefect Secret block value
    assert resolve_token(None) == "hf_from_env"


@pytest.fixture
def debug_client_logs() -> Iterator[None]:
    """DEBUG level on the HTTP client and robopipe loggers for one test (restored afterwards)."""
    loggers = [
        logging.getLogger(n)
        for n in ("huggingface_hub", "httpx2", "httpcore2", "httpx", "httpcore", "robopipe")
    ]
    previous = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield
    for lg, level in zip(loggers, previous, strict=True):
        lg.setLevel(level)


@pytest.mark.integration
def test_token_never_leaks(
    debug_client_logs: None,
    hub_server: HubTestServer,
    dataset_factory: Callable[..., Path],
    fast_hf_backoff: list[float],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    root = dataset_factory(cameras=True)
    repo = "lab/secret-check"
    req = PublishRequest(
        root=root,
        repo_id=repo,
        tag="v1.0.0",
        target="hub",
        endpoint=hub_server.url,
        retry=FAST_RETRY,
        max_files_per_commit=2,
        private=True,
        allow_invalid=True,  # its placeholder mp4 does not validate
    )
    artifacts: list[str] = []

    # A server that echoes the Authorization header in its errors, transient and then fatal.
    hub_server.inject(r"/commit/main$", status=500, times=5, echo_auth=True)
    with pytest.raises(HubError) as failed:
        publish(req, TOKEN, sleep=_no_sleep)
    artifacts.append(str(failed.value))
    assert "***" in str(failed.value)  # the echoed header was there, and was scrubbed
    hub_server.inject(r"/refs$", status=400, times=1, echo_auth=True)
    with pytest.raises(HubError) as bad:
        history(HistoryRequest(repo_id=repo, target="hub", endpoint=hub_server.url, retry=FAST_RETRY), TOKEN)
    artifacts.append(str(bad.value))

    result = publish(req, TOKEN, sleep=_no_sleep)
    artifacts.append(result.model_dump_json())
    artifacts.append(
        history(HistoryRequest(repo_id=repo, target="hub", endpoint=hub_server.url), TOKEN).model_dump_json()
    )
    got = download(
        DownloadRequest(
            repo_id=repo, revision="v1.0.0", out=tmp_path / "dl", target="hub", endpoint=hub_server.url
        ),
        TOKEN,
    )
    artifacts.append(got.model_dump_json())
    artifacts += [p.read_bytes().decode(errors="replace") for p in got.out.rglob("*") if p.is_file()]
    artifacts += [b.decode(errors="replace") for b in hub_server.lfs.values()]

    # The CLI, with the token from the environment.
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub_server.inject(r"/commit/main$", status=503, times=1, echo_auth=True)
    code = main(
        [
            "publish",
            str(dataset_factory(seed=7)),
            "--repo-id",
            repo,
            "--target",
            "hub",
            "--endpoint",
            hub_server.url,
            "--tag",
            "v1.1.0",
        ]
    )
    assert code == 0
    code = main(["history", repo, "--target", "hub", "--endpoint", hub_server.url, "--json"])
    assert code == 0
    out = capsys.readouterr()
    artifacts += [out.out, out.err]

    assert caplog.records, "expected debug logs from the client"
    assert any("injected" in r.getMessage() for r in caplog.records)
    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text
    assert TOKEN not in logs
    for text in artifacts:
        assert TOKEN not in text
