from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.defects import make_defect_dataset


@pytest.fixture(scope="session")
def defect_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_defect_dataset(tmp_path_factory.mktemp("defects") / "ds")


@pytest.fixture
def defect_root(defect_master: Path, tmp_path: Path) -> Path:
    """A private copy (quality writes meta/robopipe/quality into the dataset)."""
    root = tmp_path / "ds"
    shutil.copytree(defect_master, root)
    return root
