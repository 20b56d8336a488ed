"""``robopipe validate`` and ``robopipe report``: check a dataset, render a one-page HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter


def validate(
    root: str,
    /,
    *,
    as_json: Annotated[bool, Parameter(name="--json", negative=())] = False,
    report_dir: Path | None = None,
    full_decode: bool = False,
    suite: Annotated[list[Path] | None, Parameter(name="--suite", negative=())] = None,
    no_gx: Annotated[bool, Parameter(name="--no-gx", negative=())] = False,
    bounds: Path | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
) -> int:
    """Check a LeRobotDataset v3.0 against every rule and print all findings (never stops at the first).

    Rules: info.json schema and totals, path templates, episodes rows (order, ranges), tasks, data
    columns/dtypes/shapes, global index, frame_index, timestamp == frame_index/fps (1e-4 s), task_index,
    NaN/Inf, optional bounds, video files (frame counts, pts, from/to_timestamp, codec/resolution),
    stats.json (presence, shapes, agreement with per-episode stats), and Great Expectations suites
    (generated from the features, plus --suite files) on every data file.
    The dataset is only read. Exit code: 0 no errors, 1 errors found, 2 not a dataset / unreadable.

    Parameters
    ----------
    root
        Dataset folder (the one holding ``meta/info.json``), or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or
        its URL (``s3://…``, ``hf://…``): read from a local copy in this machine's scratch folder.
    as_json
        Print the full report as JSON instead of the summary.
    report_dir
        Write GX Data Docs (``data_docs/index.html``) and ``report.json`` here.
    full_decode
        Decode every video frame (finds corrupt packets and frozen cameras; slower) instead of
        reading container metadata and packet timestamps.
    suite
        Extra GX ExpectationSuite JSON file (repeatable), e.g. project-specific ranges.
    no_gx
        Skip Great Expectations (hand-written rules only).
    bounds
        YAML ``{feature: {min: [...], max: [...]}}`` of value limits (e.g. joint limits).
    workers
        Dask LocalCluster workers for GX (default 2; 0 or 1 runs GX in this process).
        Dask is used when there are several data files or --dask-address is given.
    dask_address
        Address of a running Dask scheduler (``tcp://host:8786``) to run GX on.
    """
    from robopipe.execution import Execution
    from robopipe.format.home import resolve_dataset_root
    from robopipe.storage import is_url
    from robopipe.validate import ValidateRequest
    from robopipe.validate.engine import validate as run_validation
    from robopipe.validate.summary import format_summary
    from tasks.executors import open_executor

    root = root if is_url(root) else str(resolve_dataset_root(root))

    request = ValidateRequest(
        root=str(root),
        full_decode=full_decode,
        gx=not no_gx,
        suites=[str(s) for s in suite or []],
        bounds=None if bounds is None else str(bounds),
        report_dir=None if report_dir is None else str(report_dir),
    )
    from tqdm import tqdm

    execution = Execution.from_options(2 if workers is None else workers, dask_address)
    n_files = sum(1 for _ in (Path(root) / "data").glob("*/*.parquet"))
    if dask_address is None and (not request.gx or n_files <= 1 or execution.workers == 1):
        execution = Execution(kind="serial")  # one file or no GX: a cluster costs more than it saves
    # a bar on a terminal only (disable=None: off when stderr is not a TTY, e.g. in scripts and CI)
    with (
        tqdm(unit="exp", desc="great expectations", disable=None if request.gx else True) as bar,
        open_executor(execution) as executor,
    ):

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = run_validation(request, executor, progress=None if bar.disable else update)
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        print(format_summary(report))
    return 0 if report.valid else 1


def report(
    root: str,
    /,
    *,
    out: Path,
    gx: bool = False,
    full_decode: bool = False,
    thumbnails: int = 6,
    viewer_url: str = "http://127.0.0.1:8765/",
) -> int:
    """Write one self-contained HTML page about a dataset: summary, findings, plots, camera thumbnails.

    The page (``OUT/report.html``) embeds its CSS and images (base64 PNG), so it can be mailed or
    attached to a Prefect artifact. It shows the dataset summary, validation findings, the
    episode-length histogram, per-feature distributions from stats.json (per-dimension mean±std,
    min/max, quantile bars), recording timing per episode (``timing/*`` episode columns, when the
    recorder wrote them) and a thumbnail strip per camera. Exit code as ``validate``.

    Parameters
    ----------
    root
        Dataset folder, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or a URL (``s3://…``, ``hf://…``,
        ``file://…``): ``meta/`` and the dataset's data/mp4 files are fetched (every one is validated), nothing
        else under the prefix.
    out
        Output folder (created); the page is ``OUT/report.html``.
    gx
        Also run the Great Expectations suites for the findings section (slower).
    full_decode
        Decode every video frame during validation (finds frozen cameras).
    thumbnails
        Frames per camera in the thumbnail strip.
    viewer_url
        Where ``robopipe view`` serves (or an exported viewer site): quality suspects link to it.
    """
    from robopipe.report import build_report
    from robopipe.storage import is_url
    from robopipe.storage.fetch import local_input
    from robopipe.validate import validate_dataset

    path = local_input(root, unreferenced=True)  # the validator reports files no episode references
    result = validate_dataset(path, gx=gx, full_decode=full_decode)
    page = build_report(
        path,
        out,
        label=root if is_url(root) else None,
        validation=result,
        thumbnails=thumbnails,
        viewer_url=viewer_url,
    )
    print(f"{page}  ({result.counts['error']} error(s), {result.counts['warning']} warning(s))")
    return 0 if result.valid else 1


def register(app: App) -> None:
    """Add ``validate`` and ``report`` to the root CLI."""
    app.command(validate)
    app.command(report)
