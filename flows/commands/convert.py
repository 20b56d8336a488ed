"""``robopipe convert rlds|hdf5|folder|hook|v21``: port other formats to LeRobotDataset v3.0.

Each command builds a :class:`~robopipe.convert.engine.ConvertRequest` (``v21`` a ``V21ConvertRequest``),
the same models the Prefect flow takes. Shards run as Dask tasks (a LocalCluster, or ``--dask-address``);
a re-run with the same arguments skips finished shards.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path
from typing import Any, Literal

from cyclopts import App

convert_app = App(
    name="convert",
    help="Convert RLDS / HDF5 / folders / ROS bags / MCAP / Zarr / a Python hook / LeRobot v2.1 to v3.0.",
)

Codec = Literal["libsvtav1", "h264", "hevc"]


def _run(
    kind: Literal["rlds", "hdf5", "folder", "hook", "ros", "mcap", "zarr"],
    src: str,
    out: Path | None,
    mapping: str | None,
    fps: int | None,
    robot_type: str | None,
    split: str | None,
    shards: int | None,
    workers: int,
    dask_address: str | None,
    episodes: str | None,
    print_mapping: bool,
    codec: Codec,
    crf: int,
    work_dir: Path | None,
    options: dict[str, Any] | None = None,
    publish_to: str | None = None,
) -> int:
    from robopipe.convert.engine import ConvertRequest, EncoderOptions, plan_conversion, resolve_mapping
    from robopipe.convert.source import SourceSpec

    source = SourceSpec(kind=kind, path=src, split=split, options=options or {})
    if print_mapping or out is None:
        req = ConvertRequest(source=source, out=Path(out or "unused"), mapping=mapping)
        m, desc = resolve_mapping(req)
        print(
            f"# mapping for {desc.kind} dataset {desc.name!r} ({desc.num_episodes} episodes); save, edit, pass --mapping FILE"
        )
        if m.fps is None and fps is None:
            print("# fps is unknown: add 'fps: N' (the robot's control rate) or pass --fps N")
        print(m.model_copy(update={"fps": fps}).to_yaml() if fps else m.to_yaml(), end="")
        print("# source keys (scope kind dtype shape):")
        for key, f in desc.fields.items():
            print(f"#   {key}: {f.scope} {f.kind} {f.dtype} {list(f.shape)}")
        if out is None and not print_mapping:
            print("error: --out is required to convert", file=sys.stderr)
            return 2
        return 0
    req = ConvertRequest(
        source=source,
        out=out,
        mapping=mapping,
        fps=fps,
        robot_type=robot_type,
        episodes=episodes,
        shards=shards,
        work_dir=work_dir,
        encoder=EncoderOptions(codec=codec, crf=crf),
        publish_to=publish_to,
    )
    from robopipe.convert.engine import run_conversion
    from robopipe.execution import Execution
    from tasks.executors import open_executor

    execution = Execution.from_options(0 if workers == 1 else workers, dask_address)
    plan = plan_conversion(req, execution.workers)  # fails before any work if the mapping does not fit
    if mapping is None:
        print(f"# inferred mapping (save it and pass --mapping FILE to change it):\n{plan.mapping.to_yaml()}")
    from tqdm import tqdm

    bar = tqdm(total=len(plan.shards), unit="shard", desc="convert", disable=None)  # terminal only

    def on_shard(r: Any) -> None:
        bar.update(1)
        bar.set_postfix(episodes=r.episodes, failed=len(r.failures))

    from robopipe.format.atomic import disk_full_reported

    kept = f"the source, unchanged; finished shards in {plan.work_dir} (the same command continues from them)"
    with (
        disk_full_reported(out, kept, "free space and run the same command again"),
        open_executor(execution) as executor,
    ):
        report = run_conversion(req, executor, plan=plan, on_shard=on_shard)
    bar.close()
    rate = report.frames / report.seconds if report.seconds else 0.0
    print(
        f"{report.out}: {report.episodes} episodes, {report.frames} frames in {report.seconds:.1f} s "
        f"({rate:.0f} frames/s); shards done {report.shards_done}, skipped {report.shards_skipped}"
    )
    for f in report.failures:
        print(f"  FAILED episode {f['index']} ({f['source']}): {f['error']}", file=sys.stderr)
    return 1 if report.failures else 0


_COMMON_DOC = """
    out
        Output dataset folder (must not exist). Shards go to ``<out>.shards`` until merged.
    mapping
        Built-in mapping name (e.g. ``bridge``, ``droid``) or a YAML file. Default: inferred and printed.
    fps
        Output frame rate (overrides the mapping; required when the source rate is unknown or not an integer).
    robot_type
        Robot type written to info.json (overrides the mapping).
    shards
        Number of shards (default: 2 per worker).
    workers
        Dask worker processes on a LocalCluster; 1 runs in this process without Dask (2 shards per worker).
    dask_address
        Scheduler address of an existing Dask cluster (``tcp://host:8786``).
    episodes
        Source episode range ``A:B``.
    print_mapping
        Print the mapping (inferred or given) and exit without converting.
    codec
        Video codec of the output.
    crf
        Constant rate factor (lower = better quality, bigger files).
    work_dir
        Where shard datasets and completion markers live (default ``<out>.shards``).
    publish_to
        Publish the result to this URL (``s3://bucket/prefix``, ``file://``): OUT is the local staging root,
        workers exchange shards through ``<URL>.shards`` (they need no shared disk) and ``meta/info.json``
        is written last. Sources may be URLs too. Credentials: the usual environment / config files.
"""


def rlds(
    src: str,
    /,
    *,
    out: Path | None = None,
    mapping: str | None = None,
    fps: int | None = None,
    robot_type: str | None = None,
    split: str | None = None,
    shards: int | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    episodes: str | None = None,
    print_mapping: bool = False,
    codec: Codec = "libsvtav1",
    crf: int = 30,
    work_dir: Path | None = None,
    publish_to: str | None = None,
) -> int:
    """Convert an RLDS dataset written by TensorFlow Datasets (Open X-Embodiment, DROID, ...), offline.

    SRC may be the data dir, ``<data_dir>/<name>`` or ``<data_dir>/<name>/<version>``.
    Needs the ``rlds`` extra (tensorflow-cpu, tensorflow-datasets).

    Parameters
    ----------
    src
        RLDS dataset directory.
    split
        Split(s) to convert, comma-separated (default: all; train first).
    """
    return _run(
        "rlds",
        src,
        out,
        mapping,
        fps,
        robot_type,
        split,
        shards,
        workers,
        dask_address,
        episodes,
        print_mapping,
        codec,
        crf,
        work_dir,
        publish_to=publish_to,
    )


def hdf5(
    src: str,
    /,
    *,
    out: Path | None = None,
    mapping: str | None = None,
    fps: int | None = None,
    robot_type: str | None = None,
    shards: int | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    episodes: str | None = None,
    print_mapping: bool = False,
    codec: Codec = "libsvtav1",
    crf: int = 30,
    work_dir: Path | None = None,
    publish_to: str | None = None,
) -> int:
    """Convert HDF5 episodes: a folder of ALOHA/ACT ``episode_<i>.hdf5`` files or one robomimic file.

    Parameters
    ----------
    src
        Folder of ``episode_*.hdf5`` files, or a robomimic/LIBERO ``.hdf5`` file (``data/demo_<i>``).
    """
    return _run(
        "hdf5",
        src,
        out,
        mapping,
        fps,
        robot_type,
        None,
        shards,
        workers,
        dask_address,
        episodes,
        print_mapping,
        codec,
        crf,
        work_dir,
        publish_to=publish_to,
    )


def folder(
    src: str,
    /,
    *,
    out: Path | None = None,
    mapping: str | None = None,
    fps: int | None = None,
    robot_type: str | None = None,
    shards: int | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    episodes: str | None = None,
    print_mapping: bool = False,
    codec: Codec = "libsvtav1",
    crf: int = 30,
    work_dir: Path | None = None,
    publish_to: str | None = None,
) -> int:
    """Convert a folder with one sub-folder per episode: ``<cam>/*.png|jpg`` images plus one
    ``*.csv``/``*.parquet``/``*.npz`` table of per-step values (and optional ``task.txt``).

    Parameters
    ----------
    src
        Folder holding one sub-folder per episode (sorted numerically).
    """
    return _run(
        "folder",
        src,
        out,
        mapping,
        fps,
        robot_type,
        None,
        shards,
        workers,
        dask_address,
        episodes,
        print_mapping,
        codec,
        crf,
        work_dir,
        publish_to=publish_to,
    )


def hook(
    src: str,
    /,
    *,
    out: Path | None = None,
    mapping: str | None = None,
    fps: int | None = None,
    robot_type: str | None = None,
    workers: int = 1,
    episodes: str | None = None,
    print_mapping: bool = False,
    codec: Codec = "libsvtav1",
    crf: int = 30,
    work_dir: Path | None = None,
    arg: str | None = None,
) -> int:
    """Convert episodes produced by a Python function ``module:function`` (one dict of arrays per episode).

    Parameters
    ----------
    src
        ``package.module:function``; it returns an iterable of episodes.
    arg
        String passed to the hook as its first argument (e.g. a data folder).
    """
    return _run(
        "hook",
        src,
        out,
        mapping,
        fps,
        robot_type,
        None,
        1,
        workers,
        None,
        episodes,
        print_mapping,
        codec,
        crf,
        work_dir,
        options={"arg": arg} if arg else None,
    )


def v21(
    src: str,
    /,
    *,
    out: Path,
    data_files_size_in_mb: float = 100,
    video_files_size_in_mb: float = 200,
    recompute_stats: bool = False,
    shards: int = 1,
) -> int:
    """Port a LeRobot v2.1 dataset to v3.0; videos are stream-copied (no re-encode), stats carried over.

    Parameters
    ----------
    src
        v2.1 dataset root (``meta/info.json`` with codebase_version v2.1, ``meta/episodes.jsonl``...), or its
        URL (``s3://``, ``hf://``, ``file://``): only ``meta/`` and the episodes' files are fetched.
    out
        Output v3.0 dataset folder (must not exist).
    data_files_size_in_mb
        Data parquet rollover size.
    video_files_size_in_mb
        Video file rollover size.
    recompute_stats
        Recompute numeric per-episode stats from the data instead of carrying ``episodes_stats.jsonl`` over.
    shards
        Port this many episode ranges separately, then merge them (a URL source: each range fetches only
        ``meta/`` and its own episodes' files).
    """
    from robopipe.convert.v21 import V21ConvertRequest, convert_v21
    from robopipe.storage import is_url

    req = V21ConvertRequest(
        src=src if is_url(src) else Path(src),
        out=out,
        data_files_size_in_mb=data_files_size_in_mb,
        video_files_size_in_mb=video_files_size_in_mb,
        recompute_stats=recompute_stats,
        shards=shards,
    )
    info = convert_v21(req)
    print(f"{out}: LeRobot v3.0, {info.total_episodes} episodes, {info.total_frames} frames")
    return 0


def with_common_doc(doc: str | None) -> str:
    """``doc`` + the shared parameter docs, both dedented (Python 3.13 dedents docstrings, not ``_COMMON_DOC``)."""
    return inspect.cleandoc(doc or "") + textwrap.dedent(_COMMON_DOC)


for _f in (rlds, hdf5, folder, hook):
    _f.__doc__ = with_common_doc(_f.__doc__)


def register(app: App) -> None:
    for f in (rlds, hdf5, folder, hook, v21):
        convert_app.command(f)
    app.command(convert_app)
