"""Task policies and the thin task bodies that need no Prefect server (``.fn``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from robopipe.errors import CorruptFileError, HubUnavailableError, TransientError
from robopipe.ingest import repair_master
from tasks._policies import dataset_fingerprint, retry_transient
from tasks.dataset import promote_master_task
from tasks.publish import _semver


class _State:
    def __init__(self, exc: BaseException | None) -> None:
        self.exc = exc

    def result(self) -> Any:
        if self.exc is not None:
            raise self.exc
        return 1


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (TransientError("busy"), True),
        (HubUnavailableError("503"), True),
        (CorruptFileError("bad footer"), False),
        (ValueError("x"), False),
        (None, False),
    ],
)
def test_retry_condition_retries_only_transient_errors(exc: BaseException | None, retry: bool) -> None:
    assert retry_transient(None, None, _State(exc)) is retry


def test_dataset_fingerprint_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    f = tmp_path / "meta" / "info.json"
    f.write_text("{}")
    a = dataset_fingerprint(tmp_path)
    assert dataset_fingerprint(tmp_path) == a
    f.write_text('{"x": 1}')
    os.utime(f, ns=(1, 1))
    assert dataset_fingerprint(tmp_path) != a


def test_promote_master_swaps_and_repairs(tmp_path: Path) -> None:
    master, staged = tmp_path / "master", tmp_path / "master.next"
    staged.mkdir()
    (staged / "new").write_text("1")
    promote_master_task.fn(staged, master)
    assert (master / "new").exists() and not staged.exists()
    # an interrupted swap: old master moved aside, new one never arrived -> restored
    master.rename(tmp_path / "master.previous")
    repair_master(master)
    assert (master / "new").exists() and not (tmp_path / "master.previous").exists()
    staged.mkdir()
    (staged / "newer").write_text("2")
    promote_master_task.fn(staged, master)
    assert sorted(p.name for p in master.iterdir()) == ["newer"]
    assert not (tmp_path / "master.previous").exists()


def test_semver_ordering() -> None:
    tags = ["v3.0", "v0.1.9", "v0.1.10", "main"]
    assert max(_semver(t) for t in tags) == (0, 1, 10)
