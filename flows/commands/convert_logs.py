"""``robopipe convert ros|mcap|zarr``: robot logs and replay buffers to LeRobotDataset v3.0.

Same engine, request model and resumable shards as ``convert rlds``; the log options (episode cutting,
time alignment, task source) go into ``SourceSpec.options`` and may also sit in the mapping's ``source:``
section (the command line wins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from cyclopts import App

from flows.commands.convert import _COMMON_DOC, Codec, _run, convert_app, with_common_doc

Cut = Literal["file", "event", "gap", "ranges"]


def _log_options(
    time: Literal["header", "log"] | None,
    cut: Cut | None,
    event_topic: str | None,
    gap: float | None,
    ranges: list[str] | None,
    max_skew: float | None,
    on_gap: Literal["error", "report"] | None,
    task_topic: str | None,
    task_metadata: str | None,
    task_pattern: str | None,
) -> dict[str, Any]:
    from robopipe.errors import MappingError

    opts: dict[str, Any] = {
        "time": time,
        "cut": cut,
        "event_topic": event_topic,
        "gap_s": gap,
        "max_skew_s": max_skew,
        "on_gap": on_gap,
        "task_topic": task_topic,
        "task_metadata": task_metadata,
        "task_pattern": task_pattern,
    }
    if event_topic and cut is None:
        opts["cut"] = "event"
    if gap is not None and cut is None:
        opts["cut"] = "gap"
    if ranges:
        spans = []
        for r in ranges:
            a, sep, b = r.partition(":")
            try:
                spans.append((float(a), float(b)))
            except ValueError as exc:
                raise MappingError(
                    f"--ranges {r!r}: expected START:END in seconds from the log start"
                ) from exc
            if not sep:
                raise MappingError(f"--ranges {r!r}: expected START:END in seconds from the log start")
        opts["ranges"] = spans
        opts["cut"] = cut or "ranges"
    return {k: v for k, v in opts.items() if v is not None}


def _log_command(kind: Literal["ros", "mcap"]) -> Any:
    def command(
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
        time: Literal["header", "log"] | None = None,
        cut: Cut | None = None,
        event_topic: str | None = None,
        gap: float | None = None,
        ranges: list[str] | None = None,
        max_skew: float | None = None,
        on_gap: Literal["error", "report"] | None = None,
        task_topic: str | None = None,
        task_metadata: str | None = None,
        task_pattern: str | None = None,
    ) -> int:
        options = _log_options(
            time, cut, event_topic, gap, ranges, max_skew, on_gap, task_topic, task_metadata, task_pattern
        )
        if fps is not None:
            options["fps"] = fps
        return _run(
            kind, src, out, mapping, fps, robot_type, None, shards, workers, dask_address, episodes,
            print_mapping, codec, crf, work_dir, options=options,
        )  # fmt: skip

    command.__name__ = kind
    what = (
        "a ROS 1 ``.bag``, a ROS 2 bag folder (``.db3`` or ``.mcap`` storage, ``metadata.yaml``) or a folder of bags"
        if kind == "ros"
        else "an ``.mcap`` file (ROS 2 / JSON / protobuf messages, e.g. Foxglove) or a folder of them"
    )
    command.__doc__ = f"""Convert robot logs: {what}.

    Topics are resampled onto the fps grid (header stamps by default); JointState by joint name, Image,
    CompressedImage, Foxglove CompressedVideo, poses/twists and numeric fields become source keys
    ``<topic>/<field>`` (``--print-mapping`` lists them in an inferred mapping).

    Parameters
    ----------
    src
        Log file or folder (one file per episode unless ``--cut`` says otherwise).
    time
        Align by ``header`` stamp (default; log time for messages without one) or ``log`` time.
    cut
        Episodes: ``file`` (one per file, default), ``event`` (``--event-topic``), ``gap`` (``--gap``), ``ranges``.
    event_topic
        Bool topic (true..false = one episode) or String annotation topic (text starts an episode, is its task).
    gap
        Seconds of silence that end an episode.
    ranges
        Episodes as ``START:END`` seconds from the log start (repeatable).
    max_skew
        Largest allowed distance (s) between a frame time and the sample it uses (default 1/fps).
    on_gap
        ``error`` fails an episode with a larger gap (default); ``report`` keeps it and records the gaps.
    task_topic
        String topic with the task text.
    task_metadata
        Metadata key holding the task (MCAP metadata ``record/key`` or ``key``; ROS 2 custom data).
    task_pattern
        Regex on the file name giving the task (group ``task`` or 1; ``_`` becomes a space).
{_COMMON_DOC}"""
    return command


def zarr(
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
    task: str | None = None,
) -> int:
    """Convert a Zarr replay buffer (Diffusion Policy / UMI: ``data/<key>`` arrays + ``meta/episode_ends``).

    Parameters
    ----------
    src
        Zarr store folder (v2 or v3 format) or ``.zarr.zip``.
    task
        Task text of every episode.
    """
    return _run(
        "zarr", src, out, mapping, fps, robot_type, None, shards, workers, dask_address, episodes,
        print_mapping, codec, crf, work_dir, options={"task": task} if task else None,
    )  # fmt: skip


zarr.__doc__ = with_common_doc(zarr.__doc__)


def register(app: App) -> None:
    for f in (_log_command("ros"), _log_command("mcap"), zarr):
        convert_app.command(f)
