"""Source formats come from a registry: built-in kinds, an added kind, unknown kinds refused in one line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from robopipe.convert import source
from robopipe.convert.source import (
    EpisodeFailure,
    SourceDescription,
    SourceEpisode,
    SourceSpec,
    open_reader,
    register_reader,
)
from robopipe.errors import ConfigError


class EmptyReader:
    def __init__(self, path: str) -> None:
        self.path = path

    def describe(self) -> SourceDescription:
        return SourceDescription(kind="empty", name=self.path, fields={}, num_episodes=0)

    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        return iter(())


def open_empty(spec: SourceSpec) -> EmptyReader:
    return EmptyReader(spec.path)


def test_builtin_kinds_are_registered() -> None:
    assert {"rlds", "hdf5", "folder", "hook"} <= set(source.READERS)


def test_a_registered_kind_opens_its_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "READERS", dict(source.READERS))
    register_reader("empty", f"{__name__}:open_empty")
    reader = open_reader(SourceSpec(kind="empty", path="x"))
    assert isinstance(reader, EmptyReader) and reader.describe().num_episodes == 0


def test_unknown_kind_and_bad_factory_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown source kind 'nope'; expected one of"):
        open_reader(SourceSpec(kind="nope", path="x"))
    with pytest.raises(ConfigError, match="module:function"):
        register_reader("bad", "no_colon")
