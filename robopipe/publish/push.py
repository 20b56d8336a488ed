"""Incremental publishing while recording (``--push-every N``) (core layer).

The record loop creates one :class:`IncrementalPublisher` (passing ``flush=writer.flush``) and calls
:meth:`~IncrementalPublisher.episode_saved` after each ``DatasetWriter.save_episode()``; every ``every`` episodes
it flushes the writer (closing its open parquet/mp4 files, so every saved episode is loadable; files still being
written are hidden temporaries, which are never published) and publishes what is on disk, *untagged* (a progress
snapshot: only new/changed files are sent). :meth:`~IncrementalPublisher.finish`, called after
``DatasetWriter.finalize()``, makes the final publish with the user's version tag. A failing push during recording
(Hub down, rate limit, a file mid-write) is logged and retried at the next checkpoint: recording never stops for
the network. Authentication and configuration errors are raised, since retrying cannot fix them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from robopipe.errors import FormatError, HubAuthError, HubError, TransientError
from robopipe.publish.api import publish
from robopipe.publish.models import PublishRequest, PublishResult

logger = logging.getLogger(__name__)


class IncrementalPublisher:
    """Publish every ``every`` saved episodes, then once more (tagged) at the end.

    Args:
        request: the final publish (its ``tag`` is used only by :meth:`finish`).
        every: episodes between checkpoint pushes (``--push-every``).
        token: Hub token (None: ``HF_TOKEN``/login cache; irrelevant for the local target).
        publish_fn: the publish function (tests inject failures here).
        flush: called before each checkpoint push, typically ``DatasetWriter.flush``.
    """

    def __init__(
        self,
        request: PublishRequest,
        every: int,
        token: str | None = None,
        publish_fn: Callable[..., PublishResult] = publish,
        flush: Callable[[], None] | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"push-every must be >= 1 episode, got {every}")
        self.request = request
        self.every = every
        self._token = token
        self._publish = publish_fn
        self._flush = flush
        self.saved = 0
        self.results: list[PublishResult] = []

    def episode_saved(self, count: int = 1) -> PublishResult | None:
        """Record ``count`` newly saved episodes; publish (untagged) when a multiple of ``every`` is reached."""
        before = self.saved // self.every
        self.saved += count
        if self.saved // self.every == before:
            return None
        # checkpoints are flushed by the writer itself; the full validation runs with the final publish
        checkpoint = self.request.model_copy(
            update={"tag": None, "force_tag": False, "dry_run": False, "check": False}
        )
        if self._flush is not None:
            self._flush()  # a writer error is a recording problem: let it surface
        try:
            result = self._publish(checkpoint, self._token)
        except HubAuthError:
            raise
        except (TransientError, HubError, FormatError, OSError) as exc:
            logger.warning(
                "push after %d episode(s) failed, will retry at the next checkpoint: %s", self.saved, exc
            )
            return None
        self.results.append(result)
        logger.info("pushed %d episode(s): %d file(s) sent", self.saved, len(result.uploaded))
        return result

    def finish(self) -> PublishResult:
        """Final publish (with the request's tag); call after the writer is finalized. Errors are raised."""
        result = self._publish(self.request, self._token)
        self.results.append(result)
        return result
