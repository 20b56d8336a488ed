"""``robopipe stats``: recompute every statistic of an existing LeRobotDataset v3.0."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter


def stats(
    root: str,
    /,
    *,
    workers: int = 2,
    dask_address: str | None = None,
    threads: bool = False,
    images: Annotated[bool, Parameter(negative="--no-images")] = True,
    skip_nonfinite: bool = False,
    quality: Annotated[bool, Parameter(negative=())] = False,
    quality_config: Path | None = None,
) -> int:
    """Recompute per-episode stats, sketches and meta/stats.json of a dataset (any v3.0, also LeRobot's).

    Numeric stats are read from the data parquet files; image/video stats decode LeRobot's sampled
    frames from the mp4 files (or PNG bytes). Rewrites the ``stats/*`` columns of meta/episodes (all
    other columns kept), the sketch side files under meta/robopipe/sketches and meta/stats.json, each
    atomically. Runs one unit per data/video file on a local Dask cluster, an existing scheduler, threads or
    in this process: the same recipe as the stats flow, so the same bytes.

    Parameters
    ----------
    root
        Dataset folder (the one holding ``meta/info.json``), or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or
        its URL (``s3://…``, ``hf://…``, ``file://…``): ``meta/`` and the data files (and with images the mp4
        files) the episodes reference are fetched whole, nothing else; the rewritten ``meta/`` is published
        back, info.json last.
    workers
        Worker processes of the local Dask cluster (threads with ``--threads``); 0 runs in this process.
    dask_address
        Use an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``); its workers must see ROOT at the same path.
    threads
        Run the units in ``--workers`` threads of this process instead of Dask worker processes.
    images
        Recompute image/video stats. With ``--no-images`` the old camera stats are kept.
    skip_nonfinite
        Ignore NaN/Inf values instead of failing (the error lists every feature, count and dimension).
    quality
        Also compute the quality signals (``robopipe quality``) in the same pass: each mp4 decoded once.
        The findings are stored and printed; the exit code stays the stats' (0 once stats are written): to
        gate a pipeline on quality use ``robopipe quality`` (exit 1 on error-level findings).
    quality_config
        YAML of quality thresholds (with ``--quality``).
    """
    from robopipe.storage import is_url
    from robopipe.storage.fetch import fetched

    with fetched(root, videos=images, write=True) as local:
        label = root if is_url(root) else None  # a URL's fetched copy is named by its URL
        return _stats(
            local, workers, dask_address, threads, images, skip_nonfinite, quality, quality_config, label
        )


def _stats(
    root: Path,
    workers: int,
    dask_address: str | None,
    threads: bool,
    images: bool,
    skip_nonfinite: bool,
    quality: bool,
    quality_config: Path | None,
    label: str | None = None,
) -> int:
    from tqdm import tqdm

    from robopipe.execution import Execution
    from robopipe.format.atomic import disk_full_reported
    from robopipe.format.home import resolve_dataset_root
    from robopipe.format.info import load_info
    from robopipe.stats.recompute import StatsRequest, recompute_stats
    from tasks.executors import open_executor

    root = resolve_dataset_root(root)

    request = StatsRequest(root=root, images=images, skip_nonfinite=skip_nonfinite)
    info = load_info(root)
    cams = sum(1 for f in info.features.values() if f.is_video) if images else 0
    kept_on_failure = f"the previous statistics of {root}, unchanged (meta/stats.json, the episodes' stats)"
    execution = Execution.from_options(workers, dask_address, threads)
    with (
        disk_full_reported(root, kept_on_failure),
        tqdm(  # a bar on a terminal only (disable=None: off when stderr is not a TTY)
            total=info.total_frames * (1 + cams), unit="frame", unit_scale=True, desc="stats", disable=None
        ) as bar,
        open_executor(execution) as executor,
    ):
        if quality:
            from robopipe.quality.single_pass import stats_with_quality

            report, qreport = stats_with_quality(request, quality_config, executor, progress=bar.update)
        else:
            report = recompute_stats(request, executor, progress=bar.update)
    kept = f", kept old stats of {report.kept_features}" if report.kept_features else ""
    print(
        f"{label or report.root}: stats of {report.episodes} episodes / {report.frames} frames from "
        f"{report.data_files} data + {report.video_files} video files in {report.seconds:.2f}s "
        f"on {report.executor}{kept}"
    )
    if quality:
        from robopipe.quality.summary import format_quality

        print(format_quality(qreport))
    return 0


def register(app: App) -> None:
    app.command(stats)
