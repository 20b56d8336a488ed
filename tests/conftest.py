"""Session-wide test configuration: markers, opt-in flags, and shared fixtures (registered as plugins)."""

from __future__ import annotations

import os

import pytest

# tests.fixtures.rlds imports tensorflow lazily (its fixtures skip without it), so collection never needs TF.
pytest_plugins = [
    "tests.fixtures.lerobot_ref",
    "tests.fixtures.datasets",
    "tests.fixtures.rlds",
    "tests.fixtures.hub_server",
    "tests.fixtures.olah_server",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-hardware", action="store_true", help="run tests that need real devices")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_hw = pytest.mark.skip(reason="needs real hardware: pass --run-hardware")
    for item in items:
        if item.get_closest_marker("hardware") is not None and not config.getoption("--run-hardware"):
            item.add_marker(skip_hw)


@pytest.fixture(autouse=True)
def _isolated_hf_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's HF cache or the network from a test."""
    home = tmp_path_factory.getbasetemp() / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
