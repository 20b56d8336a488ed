"""``robopipe serve`` (and every pipeline) waits, bounded, for a configured Prefect API that is still starting."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flows.cli import main
from flows.runtime import wait_for_api
from robopipe.errors import ConfigError


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def starting_api() -> Iterator[tuple[str, list[int]]]:
    """A loopback server whose /api/health answers 503 twice (a server still starting), then 200."""
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(1)
            ok = self.path == "/api/health" and len(hits) > 2
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(b"true" if ok else b"starting")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", hits
    finally:
        server.shutdown()
        server.server_close()


def test_waits_until_the_api_answers(starting_api: tuple[str, list[int]]) -> None:
    url, hits = starting_api
    slept: list[float] = []
    wait_for_api(url, timeout_s=60, sleep=slept.append)
    assert len(hits) == 3 and slept == [0.25, 0.5]


def test_gives_up_after_the_bound_with_one_clear_error() -> None:
    url = f"http://127.0.0.1:{_unused_port()}/api"
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    with pytest.raises(ConfigError, match=r"does not answer .*waited 5 s.*prefect server start"):
        wait_for_api(url, timeout_s=5, sleep=sleep, clock=lambda: now[0])
    assert now[0] >= 5


def test_serve_without_a_server_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_unused_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", url)
    assert main(["serve", "--wait-s", "0.5"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: the Prefect API at {url} does not answer"), err
