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
