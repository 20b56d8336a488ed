"""Serve the deployments of ``deployments/prefect.yaml`` from one process (``robopipe serve``).

The same file drives ``prefect deploy`` (work pool + workers); serving reads its entrypoints, parameter
defaults, tags and cron/interval schedules and runs them with :func:`prefect.serve` instead, so a single
command (and no worker) gives scheduled and dashboard-triggered runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from robopipe.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_FILE = PROJECT_DIR / "deployments" / "prefect.yaml"


def read_deployments(path: Path = DEFAULT_FILE) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of a prefect.yaml (anchors resolved by the YAML loader)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    deployments = data.get("deployments")
    if not isinstance(deployments, list) or not deployments:
        raise ConfigError(f"{path}: no 'deployments:' list")
    return deployments


def load_entry_flow(entrypoint: str) -> Any:
    """The flow object of ``file.py:function`` (paths relative to the project directory)."""
    from prefect.flows import load_flow_from_entrypoint

    file, _, func = entrypoint.partition(":")
    return load_flow_from_entrypoint(f"{PROJECT_DIR / file}:{func}")


def _schedules(entry: dict[str, Any]) -> list[Any]:
    from prefect.schedules import Cron, Interval

    out = []
    for s in entry.get("schedules") or []:
        common = {"active": s.get("active", True), "parameters": s.get("parameters") or {}}
        if "cron" in s:
            out.append(Cron(s["cron"], timezone=s.get("timezone", "UTC"), **common))
        elif "interval" in s:
            out.append(
                Interval(
                    dt.timedelta(seconds=float(s["interval"])), timezone=s.get("timezone", "UTC"), **common
                )
            )
        else:
            raise ConfigError(
                f"deployment {entry.get('name')}: schedule {s} has neither 'cron' nor 'interval'"
            )
    return out


def runner_deployments(path: Path = DEFAULT_FILE, only: list[str] | None = None) -> list[Any]:
    """``RunnerDeployment`` objects for ``prefect.serve`` (all, or the names in ``only``)."""
    deps = []
    for entry in read_deployments(path):
        if only and entry["name"] not in only:
            continue
        flow = load_entry_flow(entry["entrypoint"])
        deps.append(
            flow.to_deployment(
                name=entry["name"],
                description=entry.get("description"),
                parameters=entry.get("parameters") or {},
                tags=entry.get("tags") or [],
                schedules=_schedules(entry),
                concurrency_limit=entry.get("concurrency_limit"),
                version=entry.get("version"),
            )
        )
    return deps


def serve_deployments(path: Path = DEFAULT_FILE, only: list[str] | None = None, limit: int = 2) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM pauses the schedules)."""
    from prefect import serve

    serve(*runner_deployments(path, only), limit=limit)
