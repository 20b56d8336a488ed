"""``robopipe view``: a stdlib HTTP server on 127.0.0.1 and the static export (core layer).

Routes: ``/`` the page, ``/api/dataset.json``, ``/api/episode/N.json``, and the dataset's own mp4 files
under their relative paths with HTTP Range support (the browser seeks inside a file holding many
episodes; nothing is re-encoded). Only mp4 files that an episode refers to are served, resolved inside
the dataset root.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from robopipe.errors import RobopipeError
from robopipe.format.atomic import atomic_write_text
from robopipe.format.reader import DatasetReader
from robopipe.view.data import dataset_doc, episode_doc, quality_by_episode, video_files

log = logging.getLogger(__name__)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_EPISODE = re.compile(r"/api/episode/(\d{1,9})\.json$")
CHUNK = 1 << 16


def page() -> bytes:
    return resources.files("robopipe.view").joinpath("index.html").read_bytes()


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of a single ``bytes=`` range within ``size``; None when unsatisfiable."""
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # suffix: the last N bytes
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else None
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else size - 1
    if first >= size or last < first:
        return None
    return first, min(last, size - 1)


class ViewerApp:
    """What the handler needs: the root, the allowed video files, cached JSON documents."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.reader = DatasetReader(self.root)
        self.videos = video_files(self.root)
        self.quality = quality_by_episode(self.root)
        self._dataset: bytes | None = None
        self._lock = threading.Lock()

    def dataset(self) -> bytes:
        with self._lock:
            if self._dataset is None:
                self._dataset = json.dumps(dataset_doc(self.root)).encode()
            return self._dataset

    def episode(self, n: int) -> bytes:
        with self._lock:
            return json.dumps(episode_doc(self.root, n, self.reader, self.quality)).encode()

    def video_path(self, rel: str) -> Path | None:
        if rel not in self.videos:
            return None
        p = (self.root / rel).resolve()
        return p if p.is_relative_to(self.root) and p.is_file() else None


def make_handler(app: ViewerApp) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "robopipe-view"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, body: bytes, ctype: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: HTTPStatus, text: str) -> None:
            self._send(text.encode(), "text/plain; charset=utf-8", status)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            try:
                if path in ("/", "/index.html"):
                    return self._send(page(), "text/html; charset=utf-8")
                if path == "/api/dataset.json":
                    return self._send(app.dataset(), "application/json")
                m = _EPISODE.match(path)
                if m:
                    return self._send(app.episode(int(m.group(1))), "application/json")
                video = app.video_path(path.lstrip("/"))
                if video is not None:
                    return self._video(video)
                return self._error(HTTPStatus.NOT_FOUND, "not found")
            except RobopipeError as exc:
                return self._error(HTTPStatus.NOT_FOUND, str(exc))
            except (BrokenPipeError, ConnectionResetError):
                return None

        def _video(self, path: Path) -> None:
            size = path.stat().st_size
            header = self.headers.get("Range")
            first, last, status = 0, size - 1, 200
            if header:
                rng = parse_range(header, size)
                if rng is None:
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                (first, last), status = rng, 206
            self.send_response(status)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(last - first + 1))
            if status == 206:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            with open(path, "rb") as fh:
                fh.seek(first)
                left = last - first + 1
                while left > 0:
                    chunk = fh.read(min(CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)

    return Handler


def make_server(root: Path, port: int = 8765) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (``port=0`` picks a free port: ``server.server_address[1]``)."""
    from robopipe.errors import ConfigError

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: a TCP port is 0..65535 (0 picks a free one)")
    app = ViewerApp(root)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(app))
    except OSError as exc:
        raise ConfigError(
            f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); pick another, or 0"
        ) from exc
    server.daemon_threads = True
    return server


def serve(root: Path, port: int = 8765, open_browser: bool = False) -> None:
    """Serve until Ctrl-C."""
    server = make_server(root, port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"viewing {root} at {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def export_site(root: Path, out: Path) -> Path:
    """A static copy of the viewer: page, JSON documents and the mp4 files (hard links when possible)."""
    root, out = Path(root).resolve(), Path(out)
    reader = DatasetReader(root)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_bytes(page())
    atomic_write_text(out / "api" / "dataset.json", json.dumps(dataset_doc(root)))
    quality = quality_by_episode(root)
    for e in range(reader.num_episodes):
        doc = episode_doc(root, e, reader, quality)
        atomic_write_text(out / "api" / "episode" / f"{e}.json", json.dumps(doc))
    for rel in sorted(video_files(root)):
        src, dst = root / rel, out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return out
