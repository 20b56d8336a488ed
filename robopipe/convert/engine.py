"""The one conversion engine: plan shards, convert a shard through the writer, merge shards (core layer).

Every source format goes through here. A conversion is split into *shards* (contiguous episode ranges);
each shard is written as its own small LeRobot dataset under ``<work_dir>/shard-XXXXX`` and finished by
a completion marker ``shard-XXXXX.done.json`` (written atomically after ``finalize``). A re-run skips
shards whose marker exists and redoes the others from scratch. With ``publish_to`` the shards and their
markers live in object storage (``<publish_to>.shards/``): the marker, uploaded after the shard's files and
holding the plan's fingerprint, is the shard's commit point there too. Executors (a Dask cluster, a loop) live
outside the core and only call :func:`convert_shard` with small arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from robopipe.convert.apply import map_episode, output_features
from robopipe.convert.infer import infer_mapping
from robopipe.convert.mapping import ConversionMapping, load_mapping
from robopipe.convert.source import RESAMPLING_KINDS, EpisodeFailure, SourceSpec, open_reader
from robopipe.errors import ConversionError, DatasetExistsError, RobopipeError, TransientError
from robopipe.execution import Executor, SerialExecutor
from robopipe.format import safepath
from robopipe.format.atomic import atomic_write_text
from robopipe.format.lock import writer_lock

log = logging.getLogger(__name__)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class EncoderOptions(BaseModel):
    """Video encoder settings of the converted dataset."""

    model_config = _FROZEN

    codec: Literal["libsvtav1", "h264", "libx264", "hevc", "libx265"] = Field(
        default="libsvtav1", description="video codec"
    )
    crf: int = Field(default=30, ge=0, le=63, description="constant rate factor (lower = better)")
    g: int = Field(default=2, ge=1, description="GOP size")
    preset: int | str | None = Field(default=None, description="encoder speed preset")
    threads: int | None = Field(
        default=None,
        ge=1,
        description="encoder threads per camera (None = encoder default); 1 when many workers share the cores",
    )


class ConvertRequest(BaseModel):
    """Everything a conversion needs; the CLI and the Prefect flow build the same model."""

    model_config = _FROZEN

    source: SourceSpec = Field(description="what to read")
    out: Path = Field(description="output dataset root (must not exist yet, unless resuming the same plan)")
    mapping: str | None = Field(default=None, description="built-in mapping name or YAML file; None = infer")
    fps: int | None = Field(default=None, gt=0, description="output fps (overrides the mapping)")
    robot_type: str | None = Field(default=None, description="robot type (overrides the mapping)")
    episodes: str | None = Field(default=None, description="episode range 'A:B' of the source (default: all)")
    shards: int | None = Field(
        default=None, ge=1, description="number of shards (default: 2 per worker of the executor)"
    )
    work_dir: Path | None = Field(
        default=None, description="shard datasets and markers (default: <out>.shards)"
    )
    encoder: EncoderOptions = Field(default_factory=EncoderOptions, description="video encoder")
    publish_to: str | None = Field(
        default=None,
        description="URL (s3://, file://, ...) the finished dataset is published to; `out` is then the local "
        "staging root, and workers exchange finished shards through `<publish_to>.shards` (no shared disk)",
    )
    keep_shards: bool = Field(default=False, description="keep shard datasets after the merge")
    data_files_size_in_mb: float = Field(default=100, gt=0, description="data file rollover size")
    video_files_size_in_mb: float = Field(default=200, gt=0, description="video file rollover size")


class ShardPlan(BaseModel):
    """One unit of work: episodes ``[start, stop)`` of the source."""

    model_config = _FROZEN

    index: int
    start: int
    stop: int


class ConversionPlan(BaseModel):
    """Resolved mapping, features and shards; stored in the work dir so re-runs resume the same plan."""

    model_config = _FROZEN

    request: ConvertRequest
    mapping: ConversionMapping
    fps: int
    robot_type: str | None
    features: dict[str, dict[str, Any]]
    shards: list[ShardPlan]
    work_dir: Path

    def fingerprint(self) -> str:
        keep = {
            "source": self.request.source.model_dump(mode="json"),
            "mapping": self.mapping.model_dump(mode="json"),
            "fps": self.fps,
            "features": self.features,
            "shards": [s.model_dump() for s in self.shards],
            "encoder": self.request.encoder.model_dump(mode="json"),
        }
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def shard_root(self, index: int) -> Path:
        return self.work_dir / f"shard-{index:05d}"

    def marker(self, index: int) -> Path:
        return self.work_dir / f"shard-{index:05d}.done.json"


class ShardResult(BaseModel):
    """Small summary returned by a shard (what crosses the executor boundary)."""

    model_config = _FROZEN

    index: int
    root: Path
    episodes: int = Field(description="episodes written")
    frames: int = Field(description="frames written")
    failures: list[dict[str, Any]] = Field(
        default_factory=list, description="failed episodes (index, source, error)"
    )
    skipped: bool = Field(default=False, description="already complete from an earlier run")
    seconds: float = 0.0


class ConversionReport(BaseModel):
    """The outcome of a whole conversion."""

    model_config = _FROZEN

    out: Path
    episodes: int
    frames: int
    failures: list[dict[str, Any]]
    shards_done: int
    shards_skipped: int
    seconds: float


def parse_range(text: str | None, total: int | None) -> tuple[int, int | None]:
    """'A:B', 'A:' or ':B' -> (start, stop)."""
    if not text:
        return 0, total
    try:
        a, _, b = text.partition(":")
        start = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else total
    except ValueError as exc:
        raise ConversionError(f"--episodes {text!r}: expected A:B with integers (e.g. 0:100)") from exc
    if start < 0 or (stop is not None and stop <= start):
        raise ConversionError(f"--episodes {text!r}: expected 0 <= A < B")
    if total is not None and stop is not None:
        stop = min(stop, total)
    return start, stop


def bind_source(source: SourceSpec, mapping: ConversionMapping | None, fps: int | None = None) -> SourceSpec:
    """The source spec with the mapping's ``source:`` reader options under its own options; a resampling
    reader (ROS/MCAP) also gets the plan's fps and the keys the mapping reads."""
    if mapping is None or (not mapping.source and (fps is None or source.kind not in RESAMPLING_KINDS)):
        return source
    options = {**mapping.source, **source.options}
    if fps is not None and source.kind in RESAMPLING_KINDS:
        options["fps"] = fps
        options["keys"] = sorted({k for _, k in mapping.referenced_keys()})
    return source.model_copy(update={"options": options})


def resolve_mapping(request: ConvertRequest) -> tuple[ConversionMapping, Any]:
    """The mapping to use (given or inferred), checked against the source; returns (mapping, description)."""
    given = load_mapping(request.mapping) if request.mapping else None
    reader = open_reader(bind_source(request.source, given))
    desc = reader.describe()
    if given is not None:
        mapping = given
    elif hasattr(reader, "infer_mapping"):  # formats with their own conventions (ROS topics, Zarr keys)
        mapping = reader.infer_mapping()
    else:
        mapping = infer_mapping(desc)
    mapping.check(desc)
    return mapping, desc


def plan_conversion(request: ConvertRequest, workers: int = 1) -> ConversionPlan:
    """Resolve the mapping, fps, features and shards; fails before any work if the mapping does not fit.

    ``workers`` (the executor's) only sets the default shard count: 2 per worker.
    """
    from robopipe.storage import is_url

    if request.source.kind != "hook" and not is_url(request.source.path):  # hook: 'module:function'
        safepath.check_disjoint(request.out, [Path(request.source.path)], "convert output")
    mapping, desc = resolve_mapping(request)
    fps = mapping.resolve_fps(request.fps)
    source = bind_source(request.source, mapping, fps)
    if desc.planned:
        source = source.model_copy(update={"options": {**source.options, **desc.planned}})
    request = request.model_copy(update={"source": source})
    features = output_features(mapping, desc)
    start, stop = parse_range(request.episodes, desc.num_episodes)
    if stop is None:
        shards = [ShardPlan(index=0, start=start, stop=1 << 62)]  # size unknown: one shard reads all
    else:
        n = stop - start
        if n <= 0:
            raise ConversionError(f"{request.source.path}: no episodes to convert (range {start}:{stop})")
        count = min(request.shards or 2 * max(1, workers), n)
        bounds = [start + (n * i) // count for i in range(count + 1)]
        shards = [ShardPlan(index=i, start=bounds[i], stop=bounds[i + 1]) for i in range(count)]
    work_dir = request.work_dir or request.out.with_name(request.out.name + ".shards")
    return ConversionPlan(
        request=request,
        mapping=mapping,
        fps=fps,
        robot_type=request.robot_type or mapping.robot_type,
        features=features,
        shards=shards,
        work_dir=work_dir,
    )


def prepare_work_dir(plan: ConversionPlan) -> list[int]:
    """Create/check the work dir; returns the shard indices still to do (others are complete).

    With ``publish_to`` the completion markers that count are the remote ones (:func:`remote_markers`).
    """
    if (plan.request.out / "meta" / "info.json").exists():
        raise DatasetExistsError(
            f"{plan.request.out}: output dataset already exists; choose another --out or delete it"
        )
    remote = None
    if plan.request.publish_to is not None:
        _refuse_published(plan.request.publish_to)
        remote = remote_markers(plan)
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    plan_file = plan.work_dir / "plan.json"
    fp = plan.fingerprint()
    if plan_file.exists():
        old = json.loads(plan_file.read_text(encoding="utf-8")).get("fingerprint")
        if old != fp:
            raise ConversionError(
                f"{plan.work_dir}: holds shards of a different conversion (other source, mapping, fps, shards or "
                "encoder). Delete that directory or pass another --work-dir"
            )
    else:
        atomic_write_text(
            plan_file, json.dumps({"fingerprint": fp, "plan": plan.model_dump(mode="json")}, indent=2)
        )
    if remote is not None:
        return [s.index for s in plan.shards if s.index not in remote]
    return [s.index for s in plan.shards if not plan.marker(s.index).is_file()]


def read_marker(plan: ConversionPlan, index: int) -> ShardResult | None:
    path = plan.marker(index)
    if not path.is_file():
        return None
    try:
        return ShardResult.model_validate_json(path.read_text(encoding="utf-8")).model_copy(
            update={"skipped": True}
        )
    except ValueError:
        log.warning("%s: unreadable completion marker; the shard will be redone", path)
        return None


def convert_shard(plan: ConversionPlan, index: int) -> ShardResult:
    """Convert one shard into ``<work_dir>/shard-XXXXX``; idempotent (a finished shard is skipped).

    Memory stays flat: one episode is held at a time. A broken episode (corrupt record, HDF5 or image)
    is reported in the result and the shard carries on.
    """
    from robopipe.format.video import VideoEncoderConfig
    from robopipe.format.writer import DatasetWriter

    done = read_marker(plan, index)
    if done is not None:
        return done
    t0 = time.perf_counter()
    shard = plan.shards[index]
    root = plan.shard_root(index)
    if root.exists():  # interrupted earlier: redo from scratch
        log.info("shard %d: removing incomplete output %s", index, root)
        shutil.rmtree(root)
    enc = plan.request.encoder
    writer = DatasetWriter.create(
        root,
        fps=plan.fps,
        features=plan.features,
        robot_type=plan.robot_type,
        use_videos=plan.mapping.use_videos,
        encoder=VideoEncoderConfig(
            codec=enc.codec, crf=enc.crf, g=enc.g, preset=enc.preset, threads=enc.threads
        ),
        data_files_size_in_mb=plan.request.data_files_size_in_mb,
        video_files_size_in_mb=plan.request.video_files_size_in_mb,
    )
    failures: list[dict[str, Any]] = []
    episodes = frames = 0
    stop = None if shard.stop >= 1 << 62 else shard.stop
    reader = open_reader(plan.request.source, span=(shard.start, stop))  # a URL source: only its files
    with writer:
        for item in reader.read(shard.start, stop):
            if isinstance(item, EpisodeFailure):
                failures.append({"index": item.index, "source": item.source, "error": item.error})
                log.warning("episode %d (%s) failed: %s", item.index, item.source, item.error)
                continue
            try:
                mapped = map_episode(plan.mapping, item)
            except (RobopipeError, ValueError, KeyError, OSError) as exc:
                failures.append(
                    {"index": item.index, "source": item.source, "error": f"{type(exc).__name__}: {exc}"}
                )
                log.warning("episode %d (%s) failed: %s", item.index, item.source, exc)
                continue
            # Pipeline depth 1: the previous episode was encoding while this one was read and decoded;
            # wait for it now, so at most two episodes are ever in memory (flat memory per worker).
            # An error of that earlier commit propagates: the shard fails and is redone on the next run.
            writer.wait()
            try:
                meta = {"source_episode_index": item.index, **item.provenance, **mapped.metadata}
                writer.add_episode(
                    mapped.columns, mapped.tasks, metadata=meta, wait=False, encoded=mapped.encoded
                )
            except (RobopipeError, ValueError, KeyError, OSError) as exc:
                writer.clear_episode()
                failures.append(
                    {"index": item.index, "source": item.source, "error": f"{type(exc).__name__}: {exc}"}
                )
                log.warning("episode %d (%s) failed: %s", item.index, item.source, exc)
                continue
            episodes += 1
            frames += mapped.num_frames
    result = ShardResult(
        index=index,
        root=root,
        episodes=episodes,
        frames=frames,
        failures=failures,
        seconds=time.perf_counter() - t0,
    )
    atomic_write_text(plan.marker(index), result.model_dump_json(indent=2))
    return result


def merge_shards(shard_roots: Sequence[Path], out: Path) -> None:
    """Merge finished shard datasets (in order) into ``out``: the stream-copy merge of ``robopipe.edit``
    (no video re-encode; exact stats from the shards' sketches). The single place conversion merges."""
    from robopipe.edit.models import MergeRequest
    from robopipe.edit.ops import merge

    merge(MergeRequest(out=Path(out), roots=[Path(r) for r in shard_roots]))


def finish(plan: ConversionPlan, results: Sequence[ShardResult], seconds: float) -> ConversionReport:
    """Merge the shards that wrote episodes, write the report next to the output, drop the work dir."""
    ordered = sorted(results, key=lambda r: r.index)
    roots = [r.root for r in ordered if r.episodes > 0]
    if not roots:
        raise ConversionError(
            f"{plan.request.source.path}: no episode could be converted; failures: "
            + "; ".join(f"{f['source']}: {f['error']}" for r in ordered for f in r.failures[:3])
        )
    out = plan.request.out
    if len(roots) == 1 and not plan.request.keep_shards and not (out.exists() and any(out.iterdir())):
        with writer_lock(out):  # the merge branch takes it inside
            if out.exists() and any(out.iterdir()):
                raise DatasetExistsError(f"{out}: another run wrote it meanwhile; choose another --out")
            if out.exists():
                out.rmdir()
            out.parent.mkdir(parents=True, exist_ok=True)
            roots[0].rename(out)  # one shard: it already is the dataset (same filesystem, atomic)
    else:
        merge_shards(roots, out)
    failures = [f for r in ordered for f in r.failures]
    report = ConversionReport(
        out=plan.request.out,
        episodes=sum(r.episodes for r in ordered),
        frames=sum(r.frames for r in ordered),
        failures=failures,
        shards_done=sum(not r.skipped for r in ordered),
        shards_skipped=sum(r.skipped for r in ordered),
        seconds=seconds,
    )
    atomic_write_text(
        plan.request.out / "meta" / "robopipe" / "conversion.json", report.model_dump_json(indent=2)
    )
    if not plan.request.keep_shards:
        shutil.rmtree(plan.work_dir, ignore_errors=True)
    return report


@dataclass(frozen=True)
class ShardOutcome:
    """One shard after the run: its result, or the error that stopped it (the other shards carry on)."""

    index: int
    result: ShardResult | None
    error: str | None = None


def exchange_url(plan: ConversionPlan, index: int) -> str:
    """Where a worker leaves a finished shard when nothing but object storage is shared."""
    return f"{_exchange_root(plan)}/shard-{index:05d}"


def _exchange_root(plan: ConversionPlan) -> str:
    return f"{(plan.request.publish_to or '').rstrip('/')}.shards"


class ShardMarker(BaseModel):
    """The remote completion marker ``<publish_to>.shards/shard-XXXXX.done.json``: uploaded after the
    shard's files, so a marker means a complete shard of the conversion with this plan fingerprint."""

    model_config = _FROZEN

    fingerprint: str
    result: ShardResult


MAX_MARKER_BYTES = 1 << 20  # a marker lists at most a shard's failed episodes


def _refuse_published(url: str) -> None:
    from robopipe.storage import INFO, filesystem

    fs, root = filesystem(url)
    fs.invalidate_cache()
    if fs.exists(f"{root.rstrip('/')}/{INFO}"):
        raise DatasetExistsError(f"{url}: a dataset is already published there; choose another --publish-to")


def remote_markers(plan: ConversionPlan) -> dict[int, ShardResult]:
    """Shard index -> result of every shard completed in ``<publish_to>.shards`` (marked ``skipped``).

    Raises ConversionError when a marker belongs to another conversion (like a local work dir of another
    plan); an unreadable or oversized marker only means that shard is converted again.
    """
    from robopipe.storage import filesystem

    url = _exchange_root(plan)
    fs, root = filesystem(url)
    fs.invalidate_cache()  # workers (other processes) wrote there
    try:
        listing = fs.ls(root, detail=True)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise TransientError(f"{url}: cannot list the shard exchange ({type(exc).__name__})") from exc
    wanted = {f"shard-{s.index:05d}.done.json": s.index for s in plan.shards}
    found: dict[int, ShardResult] = {}
    for meta in listing:
        name = str(meta.get("name", "")).rstrip("/").rsplit("/", 1)[-1]
        index = wanted.get(name)
        if index is None:
            continue
        result = _remote_marker(fs, f"{root.rstrip('/')}/{name}", plan, index)
        if result is not None:
            found[index] = result
    return found


def _remote_marker(fs: Any, path: str, plan: ConversionPlan, index: int) -> ShardResult | None:
    """The result in the marker at ``path`` (``skipped``), None when absent or unreadable; a marker of another
    plan raises ConversionError."""
    try:
        raw = fs.cat_file(path, start=0, end=MAX_MARKER_BYTES + 1)
        if len(raw) > MAX_MARKER_BYTES:
            raise ValueError("oversized")
        marker = ShardMarker.model_validate_json(raw)
    except FileNotFoundError:
        return None
    except ValueError:
        log.warning("%s: unreadable completion marker; the shard will be redone", path)
        return None
    except OSError as exc:
        raise TransientError(f"{path}: cannot read ({type(exc).__name__})") from exc
    if marker.fingerprint != plan.fingerprint():
        raise ConversionError(
            f"{_exchange_root(plan)}: holds shards of a different conversion (other source, mapping, fps, "
            "shards or encoder). Delete that prefix or publish to another URL"
        )
    if marker.result.index != index:
        log.warning("%s: marker of shard %d; the shard will be redone", path, marker.result.index)
        return None
    return marker.result.model_copy(update={"skipped": True})


def convert_unit(plan: ConversionPlan, index: int) -> ShardResult:
    """Unit of work: one shard (or its completion marker).

    With ``publish_to`` the worker converts into its own scratch folder, uploads the finished shard to
    :func:`exchange_url` and then its :class:`ShardMarker` (the commit point), so workers need no path in
    common with the client or with each other, and a re-run (or a retry of a lost worker's unit) skips it.
    """
    if plan.request.publish_to is None:
        return convert_shard(plan, index)
    from robopipe.storage import filesystem, scratch_dir, upload_tree

    url = exchange_url(plan, index)
    fs, root = filesystem(url)
    fs.invalidate_cache()
    done = _remote_marker(fs, f"{root}.done.json", plan, index)
    if done is not None:
        return done
    local = plan.model_copy(update={"work_dir": scratch_dir() / "convert" / plan.fingerprint()})
    local.work_dir.mkdir(parents=True, exist_ok=True)
    local.marker(index).unlink(missing_ok=True)  # a marker here is a leftover, not a published shard
    result = convert_shard(local, index)
    if fs.exists(root):  # the partial upload of an attempt that died before its marker
        fs.rm(root, recursive=True)
    upload_tree(local.shard_root(index), url)
    marker = ShardMarker(fingerprint=plan.fingerprint(), result=result)
    fs.pipe_file(f"{root}.done.json", marker.model_dump_json(indent=2).encode())  # the commit point
    shutil.rmtree(local.shard_root(index), ignore_errors=True)
    local.marker(index).unlink(missing_ok=True)
    return result


def _fetch_shards(plan: ConversionPlan, outcomes: list[ShardOutcome]) -> list[ShardOutcome]:
    """Download the shards in object storage (this run's and earlier runs') into the client's work folder."""
    from robopipe.storage import materialize
    from robopipe.storage.urls import STAMP

    fetched = []
    for o in outcomes:
        if o.result is not None and o.result.episodes > 0:
            root = plan.shard_root(o.index)
            if root.exists():
                shutil.rmtree(root)
            got = materialize(exchange_url(plan, o.index), into=root)  # file:// URLs: the folder itself
            (got / STAMP).unlink(missing_ok=True)  # not part of the dataset
            o = ShardOutcome(o.index, o.result.model_copy(update={"root": got}), o.error)
        fetched.append(o)
    return fetched


def run_conversion(
    request: ConvertRequest,
    executor: Executor | None = None,
    *,
    plan: ConversionPlan | None = None,
    on_shard: Callable[[ShardResult], None] | None = None,
    before_merge: Callable[[ConversionPlan, list[ShardOutcome]], None] | None = None,
) -> ConversionReport:
    """The convert recipe: every unfinished shard on ``executor`` (default: serial), then the merge.

    A failed shard does not stop the others; ``before_merge(plan, outcomes)`` sees every shard (e.g. to
    validate them); then any failed shard raises :class:`ConversionError` before anything is merged, so a
    re-run converts only what is missing.
    """
    t0 = time.perf_counter()
    executor = executor or SerialExecutor()
    plan = plan or plan_conversion(request, executor.workers)
    todo = prepare_work_dir(plan)
    log.info("%d shards, %d to do, on %s", len(plan.shards), len(todo), executor.name)
    outcomes: dict[int, ShardOutcome] = {}
    remote = remote_markers(plan) if request.publish_to is not None else {}
    for s in plan.shards:
        r = (remote.get(s.index) or read_marker(plan, s.index)) if s.index not in todo else None
        if r is not None:
            outcomes[s.index] = ShardOutcome(s.index, r)
            if on_shard is not None:
                on_shard(r)
    sizes = [plan.shards[i].stop - plan.shards[i].start for i in todo]
    with executor.map(convert_unit, plan, todo, weights=sizes, label="convert-shard") as stream:
        for done in stream:
            index = todo[done.index]
            if done.error is not None:
                outcomes[index] = ShardOutcome(index, None, f"{type(done.error).__name__}: {done.error}")
                continue
            outcomes[index] = ShardOutcome(index, done.value)
            if on_shard is not None and done.value is not None:
                on_shard(done.value)
    ordered = [outcomes[i] for i in sorted(outcomes)]
    if request.publish_to is not None:
        ordered = _fetch_shards(plan, ordered)
    if before_merge is not None:
        before_merge(plan, ordered)
    bad = [o for o in ordered if o.result is None]
    if bad:
        raise ConversionError(
            f"{len(bad)} of {len(ordered)} shards failed ("
            + "; ".join(f"shard {o.index}: {o.error}" for o in bad[:5])
            + "); the finished shards are kept: fix the cause and re-run to convert only the rest"
        )
    report = finish(plan, [o.result for o in ordered if o.result is not None], time.perf_counter() - t0)
    if request.publish_to is not None:
        from robopipe.storage import INFO, filesystem, publish_tree

        publish_tree(request.out, request.publish_to)
        fs, target = filesystem(request.publish_to)
        fs.invalidate_cache()  # workers wrote there: this process's listings are stale
        if not fs.exists(f"{target.rstrip('/')}/{INFO}"):  # the published dataset is the commit point
            raise TransientError(f"{request.publish_to}: {INFO} missing after publishing; re-run to resume")
        fs, prefix = filesystem(_exchange_root(plan))
        if fs.exists(prefix):
            fs.rm(prefix, recursive=True)
    return report
