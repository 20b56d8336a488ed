"""Task: swap a freshly merged dataset in as the new master (the swap itself lives in the core)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.ingest import promote_master


@task(name="promote-master", cache_policy=NO_CACHE)
def promote_master_task(staged: Path, master: Path) -> str:
    """Make ``staged`` the dataset at ``master`` (see :func:`robopipe.ingest.promote_master`)."""
    return str(promote_master(Path(staged), Path(master)))
