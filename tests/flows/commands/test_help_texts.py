"""Every command's ``--help`` explains every option it shows (no bare ``--flag TYPE`` lines, no ``--no-no-*`` or
``--empty-*`` flags), and every command's help renders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cyclopts import App

from flows.cli import app, main


def _commands(a: App, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], App]]:
    for name in a:
        if name.startswith("-"):
            continue
        sub = a[name]
        if any(not n.startswith("-") for n in sub):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name), sub


COMMANDS = dict(_commands(app))


def test_the_walk_finds_every_command() -> None:
    assert {("info",), ("quality",), ("campaign",), ("convert", "hook"), ("convert", "zarr")} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_shown_option_is_explained(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    args = COMMANDS[path].assemble_argument_collection(
        default_parameter=app.default_parameter, parse_docstring=True
    )
    undocumented, odd = [], []
    for arg in args:
        if not arg.show:
            continue
        if not (arg.parameter.help or "").strip():
            undocumented.append(arg.name)
        odd += [n for n in arg.names if n.startswith(("--no-no-", "--empty-"))]
    assert not undocumented, f"robopipe {' '.join(path)}: no help for {undocumented}"
    assert not odd, f"robopipe {' '.join(path)}: odd flags {odd}"
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: robopipe {' '.join(path)}") and "Traceback" not in out
