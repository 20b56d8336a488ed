"""URLs: what counts as one, credentials never shown, atomic publish with meta/info.json last (file://)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robopipe.errors import DatasetExistsError, DatasetNotFoundError
from robopipe.storage import dataset_at, is_url, materialize, publish_tree
from robopipe.storage.urls import _safe
from tests.fixtures.datasets import make_dataset


def test_is_url_and_credentials_are_stripped() -> None:
    assert is_url("s3://b/x") and is_url("file:///tmp/x") and is_url("hf://datasets/o/n")
    assert not is_url("/tmp/x") and not is_url("org/name") and not is_url(Path("s3:/b/x"))  # type: ignore[arg-type]
    assert _safe("s3://key:secret@bucket/x") == "s3://bucket/x"


def test_publish_tree_to_a_file_url_is_refused_twice_and_replaced(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "src", frames=[3, 4], cameras={})
    url = f"file://{tmp_path / 'remote' / 'ds'}"
    publish_tree(src, url)
    out = tmp_path / "remote" / "ds"
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == files
    assert not list((tmp_path / "remote").glob("ds.robopipe-tmp-*"))  # the temporary prefix is gone
    with pytest.raises(DatasetExistsError, match="already exists"):
        publish_tree(src, url)
    (src / "meta" / "stats.json").write_text("{}")
    publish_tree(src, url, replace=True, only="meta/")
    assert (out / "meta" / "stats.json").read_text() == "{}"
    assert materialize(url) == out  # file:// is read in place
    with dataset_at(url) as local:
        assert local == out


def test_missing_things_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        materialize(f"file://{tmp_path / 'nope'}")
    with pytest.raises(DatasetNotFoundError, match="nothing to publish"):
        publish_tree(tmp_path, f"file://{tmp_path / 'x'}")


def test_fetch_file_reads_a_file_url_in_place_and_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    from robopipe.storage import fetch_file

    (tmp_path / "a.parquet").write_bytes(b"x")
    assert fetch_file(f"file://{tmp_path / 'a.parquet'}") == tmp_path / "a.parquet"
    with pytest.raises(DatasetNotFoundError):
        fetch_file(f"file://{tmp_path / 'missing.parquet'}")
    with pytest.raises(DatasetNotFoundError):
        fetch_file(f"file://{tmp_path}")
