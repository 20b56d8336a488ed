"""``robopipe ingest``, ``robopipe port``, ``robopipe serve``, ``robopipe demo``: the Prefect pipelines.

Each command builds the pipeline's request model (the same one the dashboard form validates) and runs
the flow against ``PREFECT_API_URL`` when set, else against an embedded Prefect server (SQLite under
``$PREFECT_HOME``, default ``~/.prefect``) that lives as long as the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cyclopts import App, Parameter

if TYPE_CHECKING:
    from flows.models import DemoResult
    from robopipe.publish import PublishResult

Target = Annotated[Literal["hub", "local"] | None, Parameter(name="--target")]


def _load(path: Path | None) -> dict[str, Any]:
    import yaml

    from robopipe.errors import ConfigError

    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read request file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of request fields")
    return data


def _build(model: type[Any], data: dict[str, Any], source: Path | None = None) -> Any:
    from pydantic import ValidationError

    from robopipe.errors import ConfigError, pydantic_problems

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = f"request file {source}" if source is not None else "invalid arguments"
        raise ConfigError(f"{where}: {'; '.join(pydantic_problems(exc))}") from exc


def _publish(
    repo_id: str | None, tag: str | None, target: str | None, registry: Path | None
) -> dict[str, Any] | None:
    if repo_id is None:
        return None
    return {
        k: v
        for k, v in {"repo_id": repo_id, "tag": tag, "target": target, "registry": registry}.items()
        if v is not None
    }


def _quiet() -> None:
    import logging

    for name in ("httpx", "distributed", "great_expectations"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run(flow: Any, request: Any, as_json: bool) -> int:
    from flows.runtime import prefect_api

    _quiet()

    with prefect_api() as url:
        print(f"Prefect API: {url}")
        state = flow(request, return_state=True)
        if not state.is_completed():
            from flows.boundary import flow_failure

            raise flow_failure(state)
        result = state.result()
    data = result.model_dump(mode="json")  # the edge: the typed summary becomes JSON only here
    print(json.dumps(data, indent=2, default=str) if as_json else _short(data, result.published))
    return 0


def _short(data: dict[str, Any], published: Any) -> str:
    """The scalar parts of a pipeline summary, one per line, and where it was published."""
    keep = {k: v for k, v in data.items() if not isinstance(v, dict | list)}
    if published is not None:
        keep["published"] = f"{published.repo_id} {', '.join(published.tags)} ({published.location})"
    return "\n".join(f"{k}: {v}" for k, v in keep.items())


def ingest(
    *,
    master: Path,
    config: Path | None = None,
    robot: str = "sim-so101",
    teleop: str | None = "sim-so101-leader",
    camera: list[str] | None = None,
    repo_id: str = "local/so101",
    task: str = "pick the cube",
    episodes: int = 3,
    episode_time_s: float = 10.0,
    reset_time_s: float = 0.0,
    fps: int = 30,
    no_record: Annotated[bool, Parameter(negative=())] = False,
    gx: bool = True,
    report_dir: Path | None = None,
    publish_repo: str | None = None,
    tag: str | None = None,
    target: Target = None,
    registry: Path | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    as_json: Annotated[bool, Parameter(name="--json", negative=())] = False,
) -> int:
    """Record a session, validate it, compute stats, merge it into MASTER and publish a new tag.

    Parameters
    ----------
    master
        Root of the master dataset (created by the first run). Sessions go to ``<master>.sessions/``.
    config
        YAML/JSON file with IngestRequest fields; command-line options are used only when it is omitted.
    robot
        Follower robot (config file, bundled name or type, e.g. ``sim-so101``).
    teleop
        Teleoperator (leader arm), e.g. ``sim-so101-leader``.
    camera
        Camera spec ``[name=]sim:WxH`` or ``[name=]/dev/videoN``; repeat for several.
    repo_id
        Dataset name ``ORG/NAME`` of the recording.
    task
        Task description stored with every frame.
    episodes
        Episodes to record.
    episode_time_s
        Length of each episode.
    reset_time_s
        Reset phase between episodes.
    fps
        Recording rate.
    no_record
        Do not record; only merge sessions left pending by an earlier run.
    gx
        Run the Great Expectations suites.
    report_dir
        Write HTML reports and GX Data Docs here.
    publish_repo
        Publish the new master as this ``ORG/NAME`` (omit: do not publish).
    tag
        Version tag (default: next patch version).
    target
        ``hub`` or ``local`` (default: hub when a token is configured).
    registry
        Local registry folder.
    workers
        Local Dask cluster workers.
    dask_address
        Existing Dask scheduler instead of a local cluster.
    as_json
        Print the flow's whole result as JSON instead of the summary.
    """
    from flows.ingest import ingest_flow
    from flows.models import IngestRequest

    data = _load(config)
    if not data:
        record = (
            None
            if no_record
            else {
                "robot": robot,
                "teleop": teleop,
                "cameras": camera or ["front=sim:64x48"],
                "repo_id": repo_id,
                "single_task": task,
                "num_episodes": episodes,
                "episode_time_s": episode_time_s,
                "reset_time_s": reset_time_s,
                "fps": fps,
            }
        )
        data = {
            "record": record,
            "master": master,
            "gx": gx,
            "report_dir": report_dir,
            "publish": _publish(publish_repo, tag, target, registry),
            "execution": {"workers": workers, "address": dask_address},
        }
    data.setdefault("master", master)
    return _run(ingest_flow, _build(IngestRequest, data, config), as_json)


def port(
    source: Path,
    /,
    *,
    out: Path,
    kind: Literal["rlds", "hdf5", "folder", "ros", "mcap", "zarr"] = "rlds",
    mapping: str | None = None,
    fps: int | None = None,
    shards: int | None = None,
    gx: bool = True,
    report_dir: Path | None = None,
    publish_repo: str | None = None,
    tag: str | None = None,
    target: Target = None,
    registry: Path | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    as_json: Annotated[bool, Parameter(name="--json", negative=())] = False,
) -> int:
    """Convert SOURCE in parallel shards, validate them, merge, compute stats and publish.

    An interrupted run can be repeated with the same arguments: finished shards are not redone.

    Parameters
    ----------
    source
        RLDS directory, HDF5 file/folder, image folder, ROS bag(s), MCAP file(s) or Zarr replay buffer
        (log options such as episode cutting go in the mapping's ``source:`` section).
    out
        Output dataset root (must not exist).
    kind
        Source format.
    mapping
        Built-in mapping name or YAML file (default: inferred).
    fps
        Output fps (overrides the mapping).
    shards
        Number of shards (default: 2 per worker).
    gx
        Run the Great Expectations suites on every shard.
    report_dir
        Write the output's HTML report here.
    publish_repo
        Publish the output as this ``ORG/NAME`` (omit: do not publish).
    tag
        Version tag (default: next patch version).
    target
        ``hub`` or ``local``.
    registry
        Local registry folder.
    workers
        Local Dask cluster workers.
    dask_address
        Existing Dask scheduler instead of a local cluster.
    as_json
        Print the flow's whole result as JSON instead of the summary.
    """
    from flows.models import PortRequest
    from flows.port import port_flow

    convert = {
        "source": {"kind": kind, "path": str(source)},
        "out": out,
        "mapping": mapping,
        "fps": fps,
        "shards": shards,
    }
    data = {
        "convert": {k: v for k, v in convert.items() if v is not None},
        "gx": gx,
        "report_dir": report_dir,
        "publish": _publish(publish_repo, tag, target, registry),
        "execution": {"workers": workers, "address": dask_address},
    }
    return _run(port_flow, _build(PortRequest, data), as_json)


def serve(
    *,
    prefect_file: Path | None = None,
    name: list[str] | None = None,
    limit: int = 2,
    wait_s: float = 60.0,
) -> int:
    """Serve the deployments of deployments/prefect.yaml (schedules + dashboard runs) until Ctrl-C.

    Parameters
    ----------
    prefect_file
        Another prefect.yaml to read.
    name
        Serve only these deployments (repeat).
    limit
        Flow runs at the same time.
    wait_s
        With PREFECT_API_URL set: how long to wait for that server to answer (it may still be starting).
    """
    import os

    from flows.runtime import prefect_api
    from flows.serve import DEFAULT_FILE, serve_deployments

    # a long-running service: its runs' logs belong on its console (other commands keep children quiet)
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO"
    with prefect_api(wait_s) as url:
        print(f"Prefect API: {url} (dashboard: {url.removesuffix('/api')})")
        serve_deployments(prefect_file or DEFAULT_FILE, name, limit)
    return 0


def demo(*, out: Path = Path("demo-output"), episodes: int = 3, workers: int = 2) -> int:
    """Run the ingest pipeline on the simulated SO-101, the port pipeline on a toy RLDS dataset and a
    two-dataset porting campaign (toy HDF5 sets).

    Parameters
    ----------
    out
        Output folder: created, or replaced when it holds a previous demo output (any other non-empty
        folder is refused, never deleted).
    episodes
        Episodes to record (1 s each).
    workers
        Local Dask cluster workers.
    """
    from flows.demo import RLDS_MISSING, prepare_out, run_demo
    from flows.runtime import prefect_api

    prepare_out(out)  # refuses a folder that is not a demo output before anything starts
    _quiet()
    with prefect_api() as url:
        print(f"Prefect API: {url}")
        r = run_demo(out, episodes, workers)
        print(_demo_summary(r, url))
    if r.port_skipped:
        print(f"note: {RLDS_MISSING}")
    return 0


def _demo_summary(r: DemoResult, url: str) -> str:
    out, ing = r.out, r.ingest
    lines = [
        "",
        f"demo output: {out}",
        f"  master dataset   {ing.master}  ({ing.master_episodes} episodes, {ing.master_frames} frames)",
        f"  sessions         {ing.master}.sessions/",
    ]
    if ing.published:
        lines.append(_published_line(ing.published))
    if r.port is not None:
        c = r.port.conversion
        lines.append(f"  ported dataset   {r.port.out}  ({c.episodes} episodes, {c.frames} frames)")
        if r.port.published:
            lines.append(_published_line(r.port.published))
    for d in r.campaign.datasets if r.campaign else []:
        lines.append(
            f"  campaign         {d.repo_id}@{d.tag} {d.status} ({d.episodes} episodes, {d.frames} frames)"
        )
    lines += [
        f"  reports          {out / 'reports'}/*/report.html (+ GX Data Docs)",
        f"  local registry   {out / 'registry'}  (robopipe history demo/so101-pick-cube --target local --registry {out / 'registry'})",
        f"  Prefect runs     {_prefect_home()}/prefect.db (this run's API: {url}); browse them: "
        "`prefect server start`, then http://127.0.0.1:4200",
    ]
    return "\n".join(lines)


def _published_line(p: PublishResult) -> str:
    return f"  published        {p.repo_id} {', '.join(p.tags)} -> {p.location}"


def _prefect_home() -> str:
    from prefect.settings import PREFECT_HOME

    return str(PREFECT_HOME.value())


def register(app: App) -> None:
    app.command(ingest)
    app.command(port)
    app.command(serve)
    app.command(demo)
