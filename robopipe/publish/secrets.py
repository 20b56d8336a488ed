"""Hub token resolution and scrubbing (core layer).

The token comes, in this order, from an explicit argument (the flow layer passes the value of a Prefect Secret
block here; the core never imports prefect), ``HF_TOKEN``, or the Hub login cache (``hf auth login``). While a
publish runs, the token is registered as a secret: every log record created anywhere in the process has it replaced
by ``***`` (a log-record factory, so it works whatever handlers Prefect, pytest or the CLI attached), and every
message robopipe builds from a client error goes through :func:`scrub`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

REDACTED = "***"
_MIN_SECRET_LEN = 4

_lock = threading.Lock()
_active: Counter[str] = Counter()
_installed = False
_base_factory = logging.getLogRecordFactory()


def resolve_token(explicit: str | None = None) -> str | None:
    """The Hub token to use: ``explicit``, else ``HF_TOKEN``, else the login cache, else None."""
    if explicit:
        return explicit
    env = os.environ.get("HF_TOKEN")
    if env:
        return env
    from huggingface_hub import get_token

    return get_token()


def scrub(text: str, secrets: Any = None) -> str:
    """Replace every registered secret (and ``secrets``, if given) in ``text`` by ``***``."""
    with _lock:
        values = set(_active)
    if secrets:
        values.update(s for s in ([secrets] if isinstance(secrets, str) else secrets) if s)
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= _MIN_SECRET_LEN and value in text:
            text = text.replace(value, REDACTED)
    return text


def _scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if not _active:
        return record
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed %-format: leave it to the handler to report
        return record
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    return record


def _install() -> None:
    global _installed, _base_factory
    if not _installed:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_scrubbing_factory)
        _installed = True


@contextlib.contextmanager
def secret_scope(*secrets: str | None) -> Iterator[None]:
    """Within the block, the given secrets never reach a log record (nested and thread-safe)."""
    values = [s for s in secrets if s and len(s) >= _MIN_SECRET_LEN]
    with _lock:
        _install()
        _active.update(values)
    try:
        yield
    finally:
        with _lock:
            _active.subtract(values)
            for v in [k for k, n in _active.items() if n <= 0]:
                del _active[v]
