"""Parsing of CLI values into request fields."""

from __future__ import annotations

import pytest

from robopipe.edit import parse_episode_list, parse_renames, parse_splits
from robopipe.errors import ConfigError


def test_parse_splits() -> None:
    assert parse_splits("train=0.8,val=0.2") == {"train": 0.8, "val": 0.2}
    assert parse_splits("train=0-7,val=8,9") == {"train": list(range(8)), "val": [8, 9]}
    assert parse_splits("a=1,b=0") == {"a": [1], "b": [0]}
    for bad in ("", "train", "a=0.5,a=0.5", "a=0.5,3"):
        with pytest.raises(ConfigError):
            parse_splits(bad)


def test_parse_renames_and_lists() -> None:
    assert parse_renames(["a=b", " c = d "]) == {"a": "b", "c": "d"}
    with pytest.raises(ConfigError):
        parse_renames(["ab"])
    assert parse_episode_list("0-2, 5 7") == [0, 1, 2, 5, 7]
    with pytest.raises(ConfigError):
        parse_episode_list("3-1")
