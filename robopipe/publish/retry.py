"""Error classification and retries for Hub calls (core layer).

``huggingface_hub`` raises ``HfHubHTTPError`` subclasses (sometimes wrapped in a ``RuntimeError``, e.g. LFS
uploads) and ``httpx2`` (huggingface_hub 2.x) or ``httpx`` (1.x) transport errors. They map onto robopipe's tree: 429/5xx/timeouts/connection errors become
:class:`~robopipe.errors.HubUnavailableError` (a ``TransientError``, retried here with exponential backoff and full
jitter), 401/403 :class:`~robopipe.errors.HubAuthError` and 404 :class:`~robopipe.errors.HubNotFoundError` (raised
at once). Messages are scrubbed of the token.
"""

from __future__ import annotations

import importlib
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from robopipe.errors import HubAuthError, HubError, HubNotFoundError, HubUnavailableError
from robopipe.publish.secrets import scrub

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class HubConflictError(HubError):
    """409: the target already has a conflicting object (a tag, a branch, a concurrent commit)."""


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter: attempt n waits ``uniform(0, min(max, base * 2**n))``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=5, ge=1, description="attempts per Hub call, including the first")
    base_delay_s: float = Field(default=1.0, ge=0, description="first backoff ceiling in seconds")
    max_delay_s: float = Field(default=30.0, ge=0, description="largest backoff ceiling in seconds")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return (rng or random).uniform(0, ceiling)


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _is_transport_error(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    # huggingface_hub 2.x talks through httpx2, 1.x through httpx: either transport error counts.
    for module in ("httpx2", "httpx"):
        try:
            transport_error = importlib.import_module(module).TransportError
        except ImportError:
            continue
        if isinstance(exc, transport_error):
            return True
    return False


def classify(exc: BaseException, what: str) -> HubError:
    """Map a client exception raised while doing ``what`` onto robopipe's error tree."""
    chain = _chain(exc)
    detail = scrub(f"{type(exc).__name__}: {exc}".strip())
    for e in chain:
        status = _status_of(e)
        if status is None:
            continue
        if status in (401, 403):
            return HubAuthError(
                f"{what}: the Hub refused the credentials (HTTP {status}). Set HF_TOKEN, run `hf auth login` "
                f"or pass a token with write access to this repo. ({detail})"
            )
        if status == 404:
            return HubNotFoundError(
                f"{what}: not found (HTTP 404): check the repo id, the revision and that your token can "
                f"see the repo (private repos look missing without one). ({detail})"
            )
        if status == 409:
            return HubConflictError(f"{what}: conflict (HTTP 409). ({detail})")
        if status in RETRY_STATUS or status >= 500:
            return HubUnavailableError(
                f"{what}: the Hub is unavailable (HTTP {status}); retry later. ({detail})"
            )
        return HubError(f"{what}: the Hub answered HTTP {status}. ({detail})")
    for e in chain:
        name = type(e).__name__
        if name == "OfflineModeIsEnabled":  # a ConnectionError, but a setting: retrying cannot help
            return HubError(
                f"{what}: offline mode is on (HF_HUB_OFFLINE=1), so the Hub is not contacted; unset "
                f"HF_HUB_OFFLINE or publish to the local registry (--target local). ({detail})"
            )
        if name in ("RepositoryNotFoundError", "RevisionNotFoundError", "RemoteEntryNotFoundError"):
            return HubNotFoundError(f"{what}: not found. ({detail})")
        if _is_transport_error(e):
            return HubUnavailableError(f"{what}: network error or timeout talking to the Hub. ({detail})")
    return HubError(f"{what}: unexpected client error. ({detail})")


def call_with_retry(
    fn: Callable[[], T],
    what: str,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn``; retry transient failures per ``policy``; raise a classified, scrubbed HubError otherwise."""
    policy = policy or RetryPolicy()
    for attempt in range(policy.max_attempts):
        try:
            return fn()
        except HubError:
            raise
        except Exception as exc:
            err = classify(exc, what)
            if not isinstance(err, HubUnavailableError) or attempt + 1 >= policy.max_attempts:
                if isinstance(err, HubUnavailableError):
                    err = HubUnavailableError(f"{err} Gave up after {policy.max_attempts} attempts.")
                raise err from exc
            wait = policy.delay(attempt)
            logger.warning(
                "%s failed (attempt %d/%d), retrying in %.2fs: %s",
                what,
                attempt + 1,
                policy.max_attempts,
                wait,
                err,
            )
            sleep(wait)
    raise HubError(f"{what}: no attempt was made (max_attempts={policy.max_attempts})")  # pragma: no cover
