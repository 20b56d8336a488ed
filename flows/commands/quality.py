"""``robopipe quality``, ``robopipe view`` and ``robopipe filter``: find, look at and cut bad episodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter


def quality(
    root: str,
    /,
    *,
    as_json: Annotated[bool, Parameter(name="--json", negative=())] = False,
    config: Path | None = None,
    workers: int = 2,
    threads: Annotated[bool, Parameter(negative=())] = False,
    dask_address: str | None = None,
    strict: Annotated[bool, Parameter(negative=())] = False,
    findings: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Per-episode quality signals and a ranked table of suspect episodes with reasons and frame ranges.

    Signals: idle stretches, black / overexposed / frozen camera segments and duplicated frames (cheap
    luma statistics of every decoded frame), gripper activity, joint-limit saturation, action/state
    spikes and jerk, action->state lag, dropped frames (timestamp gaps) and the recorder's late frames,
    episode-length outliers, near-duplicate episodes, per-feature z-score outliers. Results are stored
    under meta/robopipe/quality/ (LeRobot ignores it) for `robopipe view` and `robopipe filter`.
    Exit code: 0 no episode with an error-level finding (warnings too with --strict), 1 some, 2 unreadable.

    Parameters
    ----------
    root
        Dataset folder (the one holding ``meta/info.json``), or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or
        its URL (``s3://…``, ``hf://…``, ``file://…``): ``meta/`` and the referenced data and mp4 files are
        fetched whole (every frame is decoded); the results under ``meta/robopipe/`` are published back.
    as_json
        Print the full report (every suspect with all findings) as JSON.
    config
        YAML overriding thresholds of the packaged defaults (robopipe/quality/defaults.yaml).
    workers
        Parallel units (one per data / mp4 file): a Dask LocalCluster of N processes (as ``stats``), or
        N threads with ``--threads``; 0 runs everything in this process.
    threads
        Run the ``--workers`` units on threads instead of Dask processes.
    dask_address
        Run the units on an existing Dask scheduler (its workers must see ROOT at the same path).
    strict
        Exit 1 on warning-level suspects too.
    findings
        List every finding under each suspect (the global ``-v`` does too).
    """
    import logging

    from robopipe.execution import Execution
    from robopipe.quality import compute_quality
    from robopipe.quality.models import QualityRequest
    from robopipe.quality.summary import format_quality
    from robopipe.storage.fetch import fetched
    from tasks.executors import open_executor

    verbose = findings or logging.getLogger().isEnabledFor(logging.INFO)  # -v is taken by the CLI boundary
    with (
        fetched(root, write=True) as local,
        open_executor(Execution.from_options(workers, dask_address, threads)) as executor,
    ):
        req = QualityRequest(root=local, config=config)
        report = compute_quality(req.root, req.config, executor=executor)
    print(report.model_dump_json(indent=2) if as_json else format_quality(report, verbose=verbose))
    bad = report.counts.get("error", 0) + (report.counts.get("warning", 0) if strict else 0)
    return 1 if bad else 0


def view(
    root: Path,
    /,
    *,
    port: int = 8765,
    export: Path | None = None,
    open_browser: Annotated[bool, Parameter(name="--open", negative=())] = False,
) -> int:
    """Browse a dataset in a local web page: episodes with quality badges, synced cameras and plots.

    Serves on http://127.0.0.1:PORT only (no Hub, no CDN: works offline). Videos are served from the
    dataset's mp4 files by byte range and each episode is played by seeking to its from_timestamp (no
    re-encode). Keys: j/k or arrows = next/previous episode, space = play/pause, ,/. = step a frame,
    x = toggle the episode in the selection (saved as JSON for `robopipe filter --selection`).
    Run `robopipe quality ROOT` first to see badges and reasons.

    Parameters
    ----------
    root
        Dataset folder, or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``.
    port
        TCP port on 127.0.0.1 (0 picks a free one).
    export
        Write a static site (index.html, JSON, copies of the mp4 files) to this folder instead of serving.
    open_browser
        Open the page in the default browser.
    """
    from robopipe.format.home import resolve_dataset_root
    from robopipe.view import export_site, serve

    root = resolve_dataset_root(root)
    if export is not None:
        out = export_site(root, export)
        print(f"static viewer written to {out}/index.html")
        return 0
    serve(root, port=port, open_browser=open_browser)
    return 0


def filter_(
    root: Path,
    /,
    *,
    out: Path,
    where: str | None = None,
    selection: Path | None = None,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Write a new dataset with only the episodes an expression or a saved selection picks (stream copy).

    ``--where`` takes a safe expression over episode metadata and stored quality results, e.g.
    ``"quality.idle_fraction < 0.5 and success"``, ``"quality.level != 'error'"``,
    ``"quality.score >= 0.8 and length > 100"`` (names: episode columns such as success, length, task,
    timing.late_frames, and quality.score / level / errors / warnings / kinds / any signal). Only
    comparisons, and/or/not, names and constants are accepted. ``--selection`` reads the JSON the viewer
    saves. Built on delete-episodes: data copied, video stream-copied, stats merged, ROOT untouched.

    Parameters
    ----------
    root
        Input dataset folder (never modified), or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``.
    out
        Output dataset folder (must not exist).
    where
        Expression choosing the episodes to keep.
    selection
        ``{"episodes": [...]}`` file of episodes to keep (from the viewer).
    workers
        Parallel workers of the edit; more than 1 runs on a local Dask cluster (as the edit commands).
    dask_address
        Address of an existing Dask scheduler (workers must see the same paths).
    """
    from flows.commands.edit import _execution as edit_execution
    from robopipe.errors import ConfigError
    from robopipe.format.home import resolve_dataset_root
    from robopipe.quality.filter import filter_dataset, select_episodes
    from robopipe.quality.select import read_selection
    from tasks.executors import open_executor

    if (where is None) == (selection is None):
        raise ConfigError("filter: give exactly one of --where or --selection")
    root = resolve_dataset_root(root)
    keep = select_episodes(root, where) if where is not None else read_selection(selection)  # type: ignore[arg-type]
    with open_executor(edit_execution(workers, dask_address)) as executor:
        report = filter_dataset(root, out, keep, executor)
    o = report.outputs[0]
    every = " (every episode: a stream-copied copy)" if report.operation == "merge" else ""
    print(f"{o.root}: kept {o.episodes} episode(s) ({o.frames} frames){every} in {report.seconds:.2f}s")
    return 0


def register(app: App) -> None:
    """Add ``quality``, ``view`` and ``filter`` to the root CLI."""
    app.command(quality)
    app.command(view)
    app.command(filter_, name="filter")
