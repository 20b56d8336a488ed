"""Port a LeRobot v2.1 dataset to v3.0 without re-encoding video (core layer).

v2.1 layout: ``meta/info.json`` (codebase_version v2.1), ``meta/episodes.jsonl``, ``meta/episodes_stats.jsonl``,
``meta/tasks.jsonl``, ``data/chunk-XXX/episode_XXXXXX.parquet`` and
``videos/chunk-XXX/<key>/episode_XXXXXX.mp4`` (paths from info.json's templates). Episodes are appended in
order to a :class:`DatasetAssembler`: data rows go into size-limited parquet files (the episode that would
overflow a file starts the next one, unlike LeRobot 0.4.4's converter), mp4s are stream-copied into
size-limited files, camera features get ``names`` when missing, per-episode stats are carried over from
``episodes_stats.jsonl`` (or recomputed from the data, and from decoded frames for cameras).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from robopipe.convert.assemble import DatasetAssembler, VideoSpan, probe_frames
from robopipe.convert.source import SourceParts
from robopipe.errors import ConversionError, CorruptFileError
from robopipe.execution import Executor, SerialExecutor
from robopipe.format import layout, safepath
from robopipe.format.features import FeatureSpec, parse_features
from robopipe.format.info import MAX_FPS, MAX_TOTAL, DatasetInfo, read_json_file
from robopipe.format.lock import writer_lock
from robopipe.format.reader import column_to_numpy
from robopipe.format.video import iter_frames
from robopipe.stats import ImageStatsAccumulator, compute_episode_stats

log = logging.getLogger(__name__)

V21_DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V21_VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
_DEFAULTS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


class V21ConvertRequest(BaseModel):
    """Parameters of ``robopipe convert v21``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    src: Path | str = Field(
        description="LeRobot v2.1 dataset root, or its URL (s3://, hf://, file://): then only meta/ and the "
        "episodes' parquet/mp4 files are fetched"
    )
    out: Path = Field(description="output v3.0 root (must not exist)")
    data_files_size_in_mb: float = Field(
        default=layout.DEFAULT_DATA_FILE_SIZE_IN_MB, gt=0, description="data file rollover"
    )
    video_files_size_in_mb: float = Field(
        default=layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB, gt=0, description="video file rollover"
    )
    recompute_stats: bool = Field(
        default=False, description="recompute per-episode stats instead of carrying them over"
    )
    shards: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="episode ranges ported as separate units (on the executor) and then merged; a URL source "
        "fetches per unit only meta/ and the files of its episodes",
    )


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise CorruptFileError(f"{path}:{n}: invalid JSON line: {exc}") from exc
            if not isinstance(row, dict):
                raise CorruptFileError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
            out.append(row)
    return out


def load_v21_info(src: Path) -> dict[str, Any]:
    path = src / layout.INFO_PATH
    if not path.is_file():
        raise ConversionError(f"{src}: not a LeRobot dataset (missing {layout.INFO_PATH})")
    info: dict[str, Any] = read_json_file(path, "restore meta/info.json of the v2.1 source")
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v2"):
        raise ConversionError(
            f"{src}: codebase_version is {version!r}, expected v2.x (v2.1) for `convert v21`"
        )
    return info


def _get(row: dict[str, Any], key: str, path: Path) -> Any:
    if key not in row:
        raise ConversionError(f"{path}: a row lacks {key!r}: {str(row)[:120]}")
    return row[key]


def _bounded_int(value: Any, what: str, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi`` (integral floats accepted), else :class:`ConversionError`."""
    try:
        i = int(value)
        ok = i == value and not isinstance(value, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not lo <= i <= hi:
        raise ConversionError(f"{what}: expected an integer in {lo}..{hi}, got {value!r}")
    return i


def v21_features(info: dict[str, Any]) -> dict[str, FeatureSpec]:
    """v2.1 features as v3.0 ones: cameras get (height, width, channels) names; the per-feature fps is dropped."""
    feats: dict[str, Any] = {}
    for k, f in info["features"].items():
        if not isinstance(f, dict):
            raise ConversionError(f"feature {k!r}: expected a mapping (dtype, shape, names), got {f!r:.80}")
        f = {kk: vv for kk, vv in f.items() if kk != "fps"}
        if f.get("dtype") in ("video", "image") and not f.get("names"):
            f["names"] = ["height", "width", "channels"]
        if f.get("dtype") in ("video", "image") and isinstance(f.get("names"), list) and len(f["names"]) == 3:
            f["names"] = ["height", "width", "channels"] if f["names"][0] in ("height", "h") else f["names"]
        if f.get("dtype") == "video":
            f.pop("info", None)  # re-probed from the copied stream
            f.pop("video_info", None)
        feats[k] = f
    return parse_features(feats)


def _video_stats(path: Path, start_s: float, n: int) -> dict[str, np.ndarray]:
    """Per-channel camera stats of one episode, sampled and downsampled as LeRobot does (correct std)."""
    acc = ImageStatsAccumulator(3)
    for frame in iter_frames(path, start_s, n):
        acc.add(frame)
    return acc.result()


def _source_path(src: Path, template: str, keys: frozenset[str], what: str, **values: object) -> Path:
    """A v2.1 template formatted and confined to the source root (the same rule as v3.0 templates)."""
    return safepath.inside(src, safepath.format_path(template, keys, f"{src}: {what}", **values), what)


def _data_file(src: Path, template: str, chunk: int, episode: int) -> Path:
    """Episode ``episode``'s parquet in a v2.1 source (confined to ``src``)."""
    return _source_path(
        src, template, safepath.V21_DATA_KEYS, "data_path", episode_chunk=chunk, episode_index=episode
    )


def _video_file(src: Path, template: str, chunk: int, key: str, episode: int) -> Path:
    """Episode ``episode``'s mp4 of camera ``key`` in a v2.1 source (confined to ``src``)."""
    return _source_path(
        src,
        template,
        safepath.V21_VIDEO_KEYS,
        "video_path",
        episode_chunk=chunk,
        video_key=key,
        episode_index=episode,
    )


def _local_src(request: V21ConvertRequest, span: tuple[int, int | None] | None) -> V21ConvertRequest:
    """``request`` reading a local copy of a URL source's ``meta/`` and the files of the episodes ``span``
    (None: ``meta/`` only)."""
    from robopipe.storage import is_url

    if not is_url(str(request.src)):
        return request
    from robopipe.convert.source import SourceSpec, local_source

    local, _ = local_source(SourceSpec(kind="v21", path=str(request.src)), span)
    return request.model_copy(update={"src": local})


def convert_v21(request: V21ConvertRequest, executor: Executor | None = None) -> DatasetInfo:
    """Port ``request.src`` (v2.1) to ``request.out`` (v3.0); the source is only read.

    The output root's writer lock is held throughout (a second conversion into it is refused). With
    ``shards`` > 1 each episode range is ported into ``<out>.shards/shard-XXXXX`` as a unit on ``executor``
    (default serial), then the shards are merged (stream copy) into ``out``.
    """
    from robopipe.storage import is_url

    if not is_url(str(request.src)):
        safepath.check_disjoint(request.out, [Path(request.src)], "convert output")
    if request.shards > 1:
        return _convert_sharded(request, executor or SerialExecutor())
    request = _local_src(request, (0, None))
    with writer_lock(request.out):
        return _convert_v21(request)


def _convert_sharded(request: V21ConvertRequest, executor: Executor) -> DatasetInfo:
    from robopipe.convert.engine import merge_shards
    from robopipe.format.info import load_info

    if (request.out / layout.INFO_PATH).exists():
        raise ConversionError(
            f"{request.out}: output dataset already exists; choose another --out or delete it"
        )
    meta = _local_src(request, None).src  # a URL source: meta/ only
    count = len(_jsonl(Path(meta) / "meta" / "episodes.jsonl"))
    if count == 0:
        raise ConversionError(f"{request.src}: meta/episodes.jsonl is missing or empty")
    n = min(request.shards, count)
    bounds = [(count * i) // n for i in range(n + 1)]
    work = request.out.with_name(request.out.name + ".shards")
    if work.exists():
        shutil.rmtree(work)  # shards of an interrupted port: redone (units are cheap stream copies)
    units = [(i, bounds[i], bounds[i + 1]) for i in range(n)]
    with executor.map(
        _v21_unit, (request, work), units, weights=[b - a for _, a, b in units], label="v21-shard"
    ) as stream:
        roots = stream.results()
    merge_shards(roots, request.out)
    shutil.rmtree(work, ignore_errors=True)
    log.info("ported %s (v2.1, %d episodes in %d shards) to %s (v3.0)", request.src, count, n, request.out)
    return load_info(request.out)


def _v21_unit(context: tuple[V21ConvertRequest, Path], unit: tuple[int, int, int]) -> Path:
    """Port the episodes ``[start, stop)`` (positions in episodes.jsonl order) into the unit's shard root."""
    request, work = context
    index, start, stop = unit
    out = work / f"shard-{index:05d}"
    local = _local_src(request, (start, stop)).model_copy(update={"out": out})
    with writer_lock(out):
        _convert_v21(local, (start, stop))
    return out


def _convert_v21(request: V21ConvertRequest, span: tuple[int, int] | None = None) -> DatasetInfo:
    src = Path(request.src)
    info = load_v21_info(src)
    where = src / layout.INFO_PATH
    if not isinstance(info.get("features"), dict):
        raise ConversionError(f"{where}: 'features' must be a mapping of key -> spec")
    feats = v21_features(info)
    fps = _bounded_int(info.get("fps"), f"{where}: fps", 1, MAX_FPS)
    meta_dir = src / "meta"
    tasks = {
        _bounded_int(_get(t, "task_index", meta_dir / "tasks.jsonl"), "task_index", 0, MAX_TOTAL): str(
            _get(t, "task", meta_dir / "tasks.jsonl")
        )
        for t in _jsonl(meta_dir / "tasks.jsonl")
    }
    episodes = _jsonl(meta_dir / "episodes.jsonl")
    for row in episodes:
        row["episode_index"] = _bounded_int(
            _get(row, "episode_index", meta_dir / "episodes.jsonl"), "episode_index", 0, safepath.MAX_INDEX
        )
    episodes.sort(key=lambda row: int(row["episode_index"]))
    if span is not None:
        episodes = episodes[span[0] : span[1]]
    if not episodes:
        raise ConversionError(f"{src}: meta/episodes.jsonl is missing or empty")
    stats: dict[int, dict[str, Any]] = {}
    for row in _jsonl(meta_dir / "episodes_stats.jsonl"):
        ep_i, st = _get(row, "episode_index", meta_dir / "episodes_stats.jsonl"), row.get("stats")
        if not isinstance(st, dict) or not all(isinstance(v, dict) for v in st.values()):
            raise ConversionError(
                f"{meta_dir / 'episodes_stats.jsonl'}: stats of episode {ep_i!r} are not feature -> stat -> "
                "values; pass --recompute-stats to compute them from the data"
            )
        stats[_bounded_int(ep_i, "episode_index", 0, safepath.MAX_INDEX)] = st
    chunks_size = _bounded_int(
        info.get("chunks_size", layout.DEFAULT_CHUNK_SIZE), f"{where}: chunks_size", 1, MAX_TOTAL
    )
    data_tpl = info.get("data_path") or V21_DATA_PATH
    video_tpl = info.get("video_path") or V21_VIDEO_PATH
    vkeys = [k for k, f in feats.items() if f.is_video]
    asm = DatasetAssembler(
        request.out,
        fps=fps,
        features=feats,
        robot_type=info.get("robot_type"),
        data_files_size_in_mb=request.data_files_size_in_mb,
        video_files_size_in_mb=request.video_files_size_in_mb,
        chunks_size=layout.DEFAULT_CHUNK_SIZE,
    )
    # keep the source's task order so task indices stay the same
    for i in sorted(tasks):
        asm.task_index(tasks[i])
    for ep in episodes:
        e = int(ep["episode_index"])
        chunk = e // chunks_size
        dpath = _data_file(src, data_tpl, chunk, e)
        try:
            table = pq.read_table(dpath)
        except (OSError, ValueError) as exc:
            raise CorruptFileError(f"{dpath}: unreadable parquet of episode {e}: {exc}") from exc
        n = table.num_rows
        if _bounded_int(ep.get("length", n), f"episode {e} length", 0, MAX_TOTAL) != n:
            raise ConversionError(f"{dpath}: episode {e} has {n} rows, episodes.jsonl says {ep['length']}")
        try:
            row_tasks = [tasks[int(i)] for i in table["task_index"].to_numpy()]
        except KeyError as exc:
            raise ConversionError(f"{dpath}: task_index {exc} not in meta/tasks.jsonl") from exc
        spans = {}
        for k in vkeys:
            vpath = _video_file(src, video_tpl, chunk, k, e)
            if not vpath.is_file():
                raise ConversionError(f"{src}: episode {e}: missing video {vpath.relative_to(src)}")
            spans[k] = VideoSpan(vpath, 0, n, float(vpath.stat().st_size))
            if probe_frames(vpath) < n:
                raise CorruptFileError(f"{vpath}: {probe_frames(vpath)} frames, episode {e} has {n} rows")
        ep_stats = _episode_stats(stats.get(e), table, feats, spans, request.recompute_stats)
        meta = {k: v for k, v in ep.items() if k not in ("episode_index", "tasks", "length")}
        asm.add_episode(table, row_tasks, spans, ep_stats, meta)
    out_info = asm.finalize()
    log.info("ported %s (v2.1, %d episodes) to %s (v3.0)", src, len(episodes), request.out)
    return out_info


#: meta/*.json(l) of a v2.1 source larger than this are refused before download (``episodes_stats.jsonl`` of a
#: 100k-episode dataset is a few hundred MB)
MAX_META_BYTES = 1 << 30


def v21_plan_files(listing: dict[str, int]) -> set[str]:
    """``meta/*.json`` and ``meta/*.jsonl`` of a source listing."""
    return {rel for rel in listing if rel.startswith("meta/") and rel.endswith((".json", ".jsonl"))}


def v21_shard_files(
    listing: dict[str, int], planned: Callable[[], Path], spec: Any, start: int, stop: int | None
) -> set[str]:
    """``meta/`` plus the parquet and mp4 files of the episodes ``[start, stop)`` of ``episodes.jsonl`` (paths
    from info.json's templates, confined to the source root); junk and other datasets under the prefix are not
    fetched. A missing file is left to the conversion to report."""
    src = planned()
    info = load_v21_info(src)
    if not isinstance(info.get("features"), dict):
        raise ConversionError(f"{src / layout.INFO_PATH}: 'features' must be a mapping of key -> spec")
    vkeys = [k for k, f in v21_features(info).items() if f.is_video]
    where = src / layout.INFO_PATH
    chunks_size = _bounded_int(
        info.get("chunks_size", layout.DEFAULT_CHUNK_SIZE), f"{where}: chunks_size", 1, MAX_TOTAL
    )
    data_tpl = info.get("data_path") or V21_DATA_PATH
    video_tpl = info.get("video_path") or V21_VIDEO_PATH
    rows = _jsonl(src / "meta" / "episodes.jsonl")
    index = sorted(
        _bounded_int(
            _get(r, "episode_index", src / "meta/episodes.jsonl"), "episode_index", 0, safepath.MAX_INDEX
        )
        for r in rows
    )
    out = v21_plan_files(listing)
    for e in index[start:stop]:
        chunk = e // chunks_size
        paths = [
            _data_file(src, data_tpl, chunk, e),
            *(_video_file(src, video_tpl, chunk, k, e) for k in vkeys),
        ]
        out.update(p.relative_to(src).as_posix() for p in paths)
    return {rel for rel in out if rel in listing}


#: A v2.1 source at a URL: ``meta/`` first, then the per-episode files of the range (the whole range today:
#: ``convert v21`` is one unit).
V21_PARTS = SourceParts(plan=v21_plan_files, shard=v21_shard_files, plan_cap=MAX_META_BYTES)


def _episode_stats(
    carried: dict[str, Any] | None,
    table: Any,
    feats: dict[str, FeatureSpec],
    spans: dict[str, VideoSpan],
    recompute: bool,
) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for k, f in feats.items():
        if k in _DEFAULTS or f.is_string:
            continue
        if carried is not None and k in carried and not recompute:
            out[k] = {s: np.asarray(v) for s, v in carried[k].items()}
        elif f.is_video:
            out[k] = _video_stats(spans[k].path, 0.0, spans[k].num_frames)
        elif f.is_numeric and k in table.column_names:
            out.update(compute_episode_stats({k: column_to_numpy(table[k], f)}, {k: f}))
    return out
