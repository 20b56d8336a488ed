"""Datasets and sources on object storage (``s3://``, ``hf://``, ``file://``, any fsspec URL).

Readers work on local files, so a URL is *materialized*: its files are copied once into this machine's
scratch folder (``$ROBOPIPE_SCRATCH``, else the temp dir) and reused while unchanged. Writers stage locally and
:func:`publish_tree` uploads under a temporary prefix, copies into place and writes ``meta/info.json`` last:
a reader that finds ``meta/info.json`` finds a complete dataset (S3 has no atomic rename). Credentials come from
the usual places (environment, ``~/.aws``, the Hub login) through fsspec and are never logged.
"""

from robopipe.storage.urls import (
    INFO,
    dataset_at,
    fetch_file,
    filesystem,
    is_url,
    materialize,
    publish_tree,
    scratch_dir,
    upload_tree,
)

__all__ = [
    "INFO",
    "dataset_at",
    "fetch_file",
    "filesystem",
    "is_url",
    "materialize",
    "publish_tree",
    "scratch_dir",
    "upload_tree",
]
