"""Every hostile dataset of the corpus through every command: no traceback, no hang, the right exit class,
the input unchanged and nothing written outside the output.

The full matrix (every kind x every command) is marked ``slow``; a fast slice (every kind through ``info``
and ``validate``, every command on a few representative kinds, a few real subprocess runs) stays unmarked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.datasets import make_dataset
from tests.hostile.corpus import BY_NAME, KINDS, V3_COMMANDS, Kind
from tests.hostile.harness import Cell, check, diff, prepare, run_inprocess, run_subprocess, snapshot

CONVERT_OF = {"v21": "convert-v21", "hdf5": "convert-hdf5", "folder": "convert-folder"}
# writers in place: a successful run may change these parts of its input
IN_PLACE = {"stats": ("meta/",)}


def commands_for(kind: Kind) -> list[str]:
    if kind.source == "v3":
        return [*V3_COMMANDS, "convert-v21"]
    return [CONVERT_OF[kind.source], "info", "validate"]


def _publish_validates() -> bool:
    """True once ``publish`` validates before sending (issue 13, the ``--allow-invalid`` change)."""
    from robopipe.publish import PublishRequest

    return "allow_invalid" in PublishRequest.model_fields


def allowed_codes(kind: Kind, command: str) -> frozenset[int]:
    if command in kind.overrides:
        return kind.overrides[command]
    if command == "publish" and not _publish_validates():
        return kind.allowed(command) | {0}  # it copies files as they are until it validates first
    if kind.source == "v3" and command == "convert-v21":
        return frozenset({1, 2})  # a v3.0 dataset is not a v2.1 source
    if kind.source != "v3" and command == "info":
        return frozenset({2})  # not a v3.0 dataset
    if kind.source != "v3" and command == "validate":
        return frozenset({2}) if kind.source != "v21" else frozenset({1, 2})  # v2.1: RP102 unless unreadable
    return kind.allowed(command)


@pytest.fixture(scope="session")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The valid inputs every kind starts from: a v3.0 dataset (3 episodes, a camera) and a v2.1 source."""
    from tests.robopipe.convert.test_v21 import make_v21

    top = tmp_path_factory.mktemp("hostile-bases")
    v3 = make_dataset(top / "v3", episodes=3, frames=6, fps=10, cameras={"front": (16, 16)}, codec="h264")
    v21 = top / "v21"
    make_v21(v21)
    return {"v3": v3, "v21": v21, "hdf5": top, "folder": top}


def run_cell(
    kind: Kind, command: str, bases: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    root = prepare(kind, bases[kind.source], sandbox)
    cell = Cell(sandbox, root, command)
    before_sandbox = snapshot(sandbox, skip=(root, *cell.outputs))
    before_input = snapshot(root)
    capfd.readouterr()
    outcome = run_inprocess(cell, capfd)
    problems = check(kind, cell, outcome, allowed_codes(kind, command))
    changed_input = diff(before_input, snapshot(root))
    if outcome.code == 0 and command in IN_PLACE:
        changed_input = [c for c in changed_input if not c[1:].startswith(IN_PLACE[command])]
    if changed_input:
        problems.append(f"input modified: {changed_input[:10]}")
    escaped = diff(before_sandbox, snapshot(sandbox, skip=(root, *cell.outputs)))
    if escaped:
        problems.append(f"written outside the output: {escaped[:10]}")
    assert not problems, f"{kind.name} x {command} (exit {outcome.code}):\n" + "\n".join(problems)


FULL = [(k, c) for k in KINDS for c in commands_for(k)]
FAST_KINDS = (
    "valid",
    "template-dotdot-data",
    "template-giant-width",
    "shape-giant",
    "features-not-a-mapping",
    "data-truncated",
    "episodes-garbage",
    "video-symlinked-out",
    "empty-dataset",
    "v21-template-dotdot",
    "hdf5-garbage-file",
    "folder-garbage-table",
)
FAST = [(k, c) for k, c in FULL if k.name in FAST_KINDS or c in ("info", "validate")]


def _id(kc: tuple[Kind, str]) -> str:
    return f"{kc[0].name}-{kc[1]}"


def test_corpus_has_at_least_40_kinds() -> None:
    assert len(KINDS) >= 40
    assert {k.source for k in KINDS} == {"v3", "v21", "hdf5", "folder"}


@pytest.mark.parametrize("kc", FAST, ids=_id)
def test_hostile_fast(
    kc: tuple[Kind, str], bases: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_cell(*kc, bases, tmp_path, capfd)


@pytest.mark.slow
@pytest.mark.parametrize("kc", [kc for kc in FULL if kc not in FAST], ids=_id)
def test_hostile_full(
    kc: tuple[Kind, str], bases: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_cell(*kc, bases, tmp_path, capfd)


# Great Expectations runs on data files: the kinds whose data disagree with info.json
GX_KINDS = (
    "valid",
    "dtype-wrong",
    "shape-mismatch",
    "data-wrong-dtype",
    "data-zero-rows",
    "data-truncated",
    "empty-dataset",
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", GX_KINDS)
def test_hostile_validate_with_gx(
    kind: str, bases: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    k = BY_NAME[kind]
    cell_kind = Kind(k.name, k.make, k.expect, k.lenient, k.source, {"validate-gx": k.allowed("validate")})
    run_cell(cell_kind, "validate-gx", bases, tmp_path, capfd)


@pytest.mark.parametrize(
    ("kind", "command"),
    [("template-dotdot-data", "delete-episodes"), ("shape-giant", "validate"), ("info-garbage-json", "info")],
)
def test_hostile_console(kind: str, command: str, bases: dict[str, Path], tmp_path: Path) -> None:
    """The real console path (a subprocess): one line on stderr, the right exit code, no traceback."""
    k = BY_NAME[kind]
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    cell = Cell(sandbox, prepare(k, bases[k.source], sandbox), command)
    outcome = run_subprocess(cell)
    assert not check(k, cell, outcome, allowed_codes(k, command)), outcome.err
    assert outcome.code != 0


# Hostile *arguments* (paths a user or a dashboard form passes): refused before anything is written.
HOSTILE_ARGS = {
    "split-name-dotdot": [
        "split",
        "{root}",
        "--splits",
        "../../X=0.5,val=0.5",
        "--out-dir",
        "{sandbox}/splits",
    ],
    "split-name-absolute": [
        "split",
        "{root}",
        "--splits",
        "{sandbox}/abs=0.5,val=0.5",
        "--out-dir",
        "{sandbox}/s",
    ],
    "split-into-input": ["split", "{root}", "--splits", "train=0.5,val=0.5", "--out-dir", "{root}"],
    "merge-out-inside-input": ["merge", "{root}/merged", "{root}"],
    "merge-out-is-input": ["merge", "{root}", "{root}"],
    "merge-input-inside-out": ["merge", "{sandbox}", "{root}"],
    "edit-out-inside-input": ["delete-episodes", "{root}", "--episodes", "0", "--out", "{root}/x"],
    "rename-to-path": ["rename-feature", "{root}", "--rename", "action=../../action", "--out", "{sandbox}/r"],
    "set-task-out-is-input": ["set-task", "{root}", "--task", "t", "--out", "{root}"],
    "convert-out-inside-source": ["convert", "v21", "{root}", "--out", "{root}/v3"],
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ARGS))
def test_hostile_arguments(
    name: str, bases: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    root = sandbox / "input"
    shutil.copytree(bases["v21" if "convert" in name else "v3"], root, symlinks=True)
    before = snapshot(tmp_path)
    argv = [a.format(root=root, sandbox=sandbox) for a in HOSTILE_ARGS[name]]
    code = main(argv)
    err = capfd.readouterr().err
    assert code in (1, 2) and err.startswith("error:") and "internal error" not in err, err
    assert diff(before, snapshot(tmp_path)) == [], "a refused command wrote something"
