"""Publishing: versioned, resumable uploads to the Hub or a local git registry, dataset cards, downloads.

Entry points: :func:`publish`, :func:`history`, :func:`download` (each takes a pydantic request the CLI and the
Prefect flows build) and :class:`IncrementalPublisher` for ``--push-every`` while recording.
"""

from robopipe.publish.api import download, history, publish, resolve_target
from robopipe.publish.card import render_card
from robopipe.publish.hub import HubClient
from robopipe.publish.local import LocalRegistry, olah_config
from robopipe.publish.models import (
    DownloadRequest,
    DownloadResult,
    History,
    HistoryRequest,
    PublishRequest,
    PublishResult,
    default_registry,
)
from robopipe.publish.push import IncrementalPublisher
from robopipe.publish.retry import RetryPolicy

__all__ = [
    "DownloadRequest",
    "DownloadResult",
    "History",
    "HistoryRequest",
    "HubClient",
    "IncrementalPublisher",
    "LocalRegistry",
    "PublishRequest",
    "PublishResult",
    "RetryPolicy",
    "default_registry",
    "download",
    "history",
    "olah_config",
    "publish",
    "render_card",
    "resolve_target",
]
