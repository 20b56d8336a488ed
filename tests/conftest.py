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


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """absl (imported with TensorFlow) keeps the ``sys.stderr`` of its first import, which inside a test is
    pytest's capture stream; the next ``logging.config.dictConfig`` (Prefect's set-up) closes every handler and
    absl's closes that stream, killing pytest's capture ("lost sys.stderr") in whichever test comes next. Once
    a test is over, absl's handler writes to the real stderr (never closed by absl)."""
    import sys

    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__
