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


# Typed results between tasks and flows: a flow/task returns a model (never a dict or a model's JSON dump),
# and nothing indexes a flow/task result with a string key. The CLI's --json printers (flows/commands/)
# dump models at the very edge and are not scanned.
RESULT_MODULES = sorted([*(PROJECT / "flows").glob("*.py"), *(PROJECT / "tasks").glob("*.py")])


def _decorator_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        names.add(target.id if isinstance(target, ast.Name) else getattr(target, "attr", ""))
    return names


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _callee(call: ast.Call) -> str:
    """The function a call runs: ``f(...)``, ``f.with_options(...)(...)``, ``f.submit(...)``, ``f.fn(...)``."""
    f: ast.expr = call.func
    while True:
        if isinstance(f, ast.Call):
            f = f.func
        elif isinstance(f, ast.Attribute) and f.attr in ("with_options", "submit", "fn", "map"):
            f = f.value
        else:
            break
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _result_producers(trees: dict[str, ast.AST]) -> set[str]:
    """Flows, tasks, and the functions of flows/ and tasks/ that run one (to a fixpoint)."""
    funcs = [f for tree in trees.values() for f in _functions(tree)]
    producers = {f.name for f in funcs if _decorator_names(f) & {"flow", "task"}}
    while True:
        more = {
            f.name
            for f in funcs
            if f.name not in producers
            and any(isinstance(c, ast.Call) and _callee(c) in producers for c in ast.walk(f))
        }
        if not more:
            return producers
        producers |= more


def _is_result(node: ast.expr, producers: set[str], names: set[str]) -> bool:
    """A flow/task result (or a model dumped to a dict): a call of a producer, ``.result()``,
    ``.model_dump()``, or a name bound to one of those."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Call):
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        return attr in ("result", "model_dump") or _callee(node) in producers
    return False


def _string_key_reads(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, producers: set[str]
) -> list[tuple[int, str]]:
    names: set[str] = set()
    for node in ast.walk(fn):  # names bound to results, wherever they are assigned in the function
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _is_result(node.value, producers, set()):
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(fn):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            base, key = node.value, node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
        ):
            base, key = node.func.value, node.args[0]
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and _is_result(base, producers, names)
        ):
            found.append((node.lineno, f"[{key.value!r}]"))
    return found


def _returns_a_dump(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(fn)
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in ("model_dump", "model_dump_json", "dict")
    ]


def test_flows_and_tasks_pass_typed_models_not_dicts() -> None:
    trees = {str(p.relative_to(PROJECT)): ast.parse(p.read_text(encoding="utf-8")) for p in RESULT_MODULES}
    producers = _result_producers(trees)
    offenders = []
    for rel, tree in trees.items():
        for fn in _functions(tree):
            where = f"{rel}:{fn.lineno} {fn.name}"
            if _decorator_names(fn) & {"flow", "task"}:
                ann = ast.unparse(fn.returns) if fn.returns else ""
                if not ann or "dict" in ann.lower():
                    offenders.append(f"{where} returns {ann or 'an unannotated value'} (return a model)")
            offenders += [
                f"{rel}:{line} {fn.name} returns a model_dump (return the model)"
                for line in _returns_a_dump(fn)
            ]
            offenders += [
                f"{rel}:{line} {fn.name} reads a result by key {k}"
                for line, k in _string_key_reads(fn, producers)
            ]
    assert producers >= {"stats_flow", "validate_dataset_task", "quarantine_session", "publish_step"}
    assert not sorted(set(offenders)), "flows/tasks pass dicts:\n" + "\n".join(sorted(set(offenders)))


# Where a stage runs is one Execution model built at the edges, never a field of a domain request.
EXECUTION_FIELDS = {"workers", "dask_address", "address", "execution", "executor", "threads"}


def test_domain_requests_hold_no_execution_field() -> None:
    offenders, requests = [], 0
    for p in sorted((PROJECT / "robopipe").rglob("*.py")):
        if p.parent.name == "execution":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Request"):
                requests += 1
                offenders += [
                    f"{p.relative_to(PROJECT)}:{item.lineno} {node.name}.{item.target.id}"
                    for item in node.body
                    if isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and item.target.id in EXECUTION_FIELDS
                ]
    assert requests >= 8  # the scan sees the requests (stats, validate, merge, edit, convert, quality, ...)
    assert not offenders, "execution options in domain requests (use the Execution model):\n" + "\n".join(
        offenders
    )
