"""The layering stays visible: the core, hardware/ and recording/ never import Prefect or Dask distributed;
the core never imports the layers above it, devices never import recording, recording never imports flows/tasks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("prefect", "prefect_dask", "dask.distributed", "distributed")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "dask":
                found += [(node.lineno, f"dask.{a.name}") for a in node.names]
    return found


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("package", ["robopipe", "hardware", "recording"])
def test_core_and_hardware_never_import_prefect_or_dask_distributed(package: str) -> None:
    bad = [
        f"{p.relative_to(PROJECT)}:{line}: import {name}"
        for p in sorted((PROJECT / package).rglob("*.py"))
        for line, name in _imports(p)
        if _forbidden(name)
    ]
    assert not bad, "forbidden imports (move the code to tasks/ or flows/):\n" + "\n".join(bad)


def test_task_decorator_only_in_tasks_package() -> None:
    offenders = []
    for package in ("robopipe", "hardware", "flows"):
        for p in sorted((PROJECT / package).rglob("*.py")):
            tree = ast.parse(p.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for d in node.decorator_list:
                        target = d.func if isinstance(d, ast.Call) else d
                        if (isinstance(target, ast.Name) and target.id == "task") or (
                            isinstance(target, ast.Attribute) and target.attr == "task"
                        ):
                            offenders.append(f"{p.relative_to(PROJECT)}:{node.lineno} {node.name}")
    assert not offenders, "@task outside tasks/: " + ", ".join(offenders)


# Which of the project's own top-level packages each layer may import (dependencies point one way).
ALLOWED_PROJECT_IMPORTS = {
    "robopipe": {"robopipe"},
    "hardware": {"robopipe", "hardware"},
    "recording": {"robopipe", "hardware", "recording"},
}
PROJECT_PACKAGES = ("robopipe", "hardware", "recording", "tasks", "flows", "bench", "tests")


@pytest.mark.parametrize("package", sorted(ALLOWED_PROJECT_IMPORTS))
def test_project_imports_point_one_way(package: str) -> None:
    allowed = ALLOWED_PROJECT_IMPORTS[package]
    bad = [
        f"{p.relative_to(PROJECT)}:{line}: import {name}"
        for p in sorted((PROJECT / package).rglob("*.py"))
        for line, name in _imports(p)
        if name.split(".")[0] in PROJECT_PACKAGES and name.split(".")[0] not in allowed
    ]
    assert not bad, f"{package}/ may import only {sorted(allowed)}:\n" + "\n".join(bad)


# One recipe per stage: the unit functions are called only by their stage's recipe module (and where they
# are defined), and every entry point (CLI command, flow) calls the recipe, so no stage is written twice.
RECIPES = {
    "robopipe/stats/recompute.py": ("recompute_stats", ("run_unit", "finalize_episodes_file")),
    "robopipe/validate/engine.py": ("validate", ("run_gx_file",)),
    "robopipe/edit/ops.py": ("merge", ("execute_data_file", "execute_video_file", "run_job")),
    "robopipe/convert/engine.py": ("run_conversion", ("convert_shard",)),
}
ENTRY_POINTS = {
    "recompute_stats": ("flows/commands/stats.py", "flows/stats.py"),
    "validate": ("flows/commands/validate.py", "tasks/validate.py"),
    "merge": ("flows/commands/edit.py", "flows/merge.py"),
    "edit": ("flows/commands/edit.py", "flows/edit.py"),
    "run_conversion": ("flows/commands/convert.py", "flows/convert.py"),
}
CODE_PACKAGES = ("robopipe", "hardware", "recording", "tasks", "flows")


def _called(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
        elif isinstance(node, ast.Name | ast.Attribute):  # passed as a value (executor.map(unit, ...))
            names.add(node.id if isinstance(node, ast.Name) else node.attr)
    return names


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_unit_functions_are_used_only_by_their_recipe() -> None:
    offenders = []
    for recipe, (_, units) in RECIPES.items():
        for p in sorted(f for pkg in CODE_PACKAGES for f in (PROJECT / pkg).rglob("*.py")):
            rel = str(p.relative_to(PROJECT))
            if rel == recipe:
                continue
            used = _called(p) & set(units) - _defined(p)
            offenders += [f"{rel} uses {name} (only {recipe} may)" for name in sorted(used)]
    assert not offenders, "a stage is orchestrated outside its recipe:\n" + "\n".join(offenders)


def test_every_entry_point_calls_the_recipe_and_no_stage_copy_remains() -> None:
    missing = [
        f"{entry} does not call {recipe}"
        for recipe, entries in ENTRY_POINTS.items()
        for entry in entries
        if recipe not in _called(PROJECT / entry)
    ]
    assert not missing, "\n".join(missing)
    copies = sorted(p.name for p in (PROJECT / "tasks").glob("*_dask.py"))
    assert not copies, f"per-executor copies of a stage: {copies}"
