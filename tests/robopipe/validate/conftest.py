"""Fixtures for the validation tests: one valid dataset per session, copied before each breakage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.datasets import make_dataset
from tests.robopipe.validate.helpers import FPS, LENGTHS


@pytest.fixture(scope="session")
def valid_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 episodes (8, 9, 10 frames) at 10 fps, state/action (6,), one 48x64 camera. Never modify it."""
    return make_dataset(tmp_path_factory.mktemp("valid") / "ds", frames=LENGTHS, fps=FPS)


@pytest.fixture
def broken(valid_root: Path, tmp_path: Path) -> Path:
    """A fresh copy of the valid dataset to break."""
    dst = tmp_path / "ds"
    shutil.copytree(valid_root, dst)
    return dst
