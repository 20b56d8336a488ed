"""Every hostile v3.0 dataset of the corpus through ``quality``, ``filter`` and ``view --export``: no
traceback, no hang, a one-line error when refused, the input unchanged (``quality`` may only add its
results under meta/robopipe/quality) and nothing written outside the output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.corpus import KINDS, Kind
from tests.hostile.harness import Cell, check, diff, prepare, run_inprocess, snapshot
from tests.hostile.test_corpus import bases  # noqa: F401  (the shared session fixture)

COMMANDS = ("quality", "filter", "view-export")


@dataclass
class CurationCell(Cell):
    def argv(self) -> list[str]:
        r, o = str(self.root), str(self.out)
        return {
            "quality": ["quality", r],
            "filter": ["filter", r, "--out", o, "--where", "length > 1 and episode_index != 1"],
            "view-export": ["view", r, "--export", o],
        }[self.command]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kc", [(k, c) for k in KINDS if k.source == "v3" for c in COMMANDS], ids=lambda kc: f"{kc[0].name}-{kc[1]}"
)
def test_hostile_curation(
    kc: tuple[Kind, str],
    bases: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    kind, command = kc
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    root = prepare(kind, bases[kind.source], sandbox)
    cell = CurationCell(sandbox, root, command)
    before_sandbox = snapshot(sandbox, skip=(root, *cell.outputs))
    before_input = snapshot(root)
    capfd.readouterr()
    outcome = run_inprocess(cell, capfd)
    problems = check(kind, cell, outcome, frozenset({0, 1, 2}))
    if outcome.code == 2 and not any(ln.startswith("error:") for ln in outcome.err.splitlines()):
        problems.append(f"refused without an 'error:' line; stderr: {outcome.err[-400:]}")
    changed = [c for c in diff(before_input, snapshot(root)) if not c[1:].startswith("meta/robopipe")]
    if changed:
        problems.append(f"input modified: {changed[:10]}")
    escaped = diff(before_sandbox, snapshot(sandbox, skip=(root, *cell.outputs)))
    if escaped:
        problems.append(f"written outside the output: {escaped[:10]}")
    assert not problems, f"{kind.name} x {command} (exit {outcome.code}):\n" + "\n".join(problems)
