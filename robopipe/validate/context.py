"""Load what validation needs from a dataset, turning every loading problem into a finding (core layer).

Only a missing or unreadable ``meta/info.json`` raises (the root is not a dataset); everything else
(unreadable episodes/tasks/stats files, schema errors) is reported and the dependent rules are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from packaging.version import InvalidVersion, Version
from pydantic import ValidationError

from robopipe.errors import (
    DatasetNotFoundError,
    FormatError,
    PathTemplateError,
    UnsafePathError,
)
from robopipe.format import layout, safepath
from robopipe.format.columns import location_problem
from robopipe.format.features import DEFAULT_FEATURES, FeatureSpec
from robopipe.format.info import DatasetInfo, read_json_bounded, read_json_file
from robopipe.validate.findings import FindingCollector, Severity

log = logging.getLogger(__name__)


@dataclass
class DatasetContext:
    """Everything loaded once and shared by the rules."""

    root: Path
    raw_info: dict[str, Any]
    info: DatasetInfo | None = None
    episodes: pa.Table | None = None  # all episodes rows, in file order
    episodes_files: list[Path] = field(default_factory=list)
    tasks: list[str] | None = None
    stats: dict[str, dict[str, np.ndarray]] | None = None
    data_files: list[Path] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # derived arrays shared between rules

    def rel(self, path: Path) -> str:
        """Path relative to the root, for findings."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    @property
    def features(self) -> dict[str, FeatureSpec]:
        return dict(self.info.features) if self.info else {}

    def episode_column(self, name: str) -> np.ndarray | None:
        """One episodes column as numpy (None when absent or unreadable)."""
        if self.episodes is None or name not in self.episodes.column_names:
            return None
        col = self.episodes.column(name)
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            return None
        return col.to_numpy(zero_copy_only=False)

    def episode_stat(self, key: str, stat: str) -> np.ndarray | None:
        """``stats/<key>/<stat>`` of every episodes row as ``(n_episodes, k)`` (None if absent or ragged)."""
        cache_key = f"episode-stat:{key}:{stat}"
        if cache_key not in self.cache:
            name = f"stats/{key}/{stat}"
            val: np.ndarray | None = None
            if self.episodes is not None and name in self.episodes.column_names:
                col = self.episodes.column(name).combine_chunks()
                n = len(col)
                while (
                    pa.types.is_list(col.type)
                    or pa.types.is_large_list(col.type)
                    or pa.types.is_fixed_size_list(col.type)
                ):
                    col = col.flatten()
                flat = col.to_numpy(zero_copy_only=False).astype(np.float64)
                if n and flat.size % n == 0:
                    val = flat.reshape(n, -1)
            self.cache[cache_key] = val
        result: np.ndarray | None = self.cache[cache_key]
        return result


def safe_format(template: str, **kwargs: object) -> str | None:
    """The checked relative path of ``template`` formatted with ``kwargs``, or None when the template
    or a value is unusable (reported by RP106/RP109)."""
    keys = safepath.V30_VIDEO_KEYS if "video_key" in kwargs else safepath.V30_DATA_KEYS
    try:
        return safepath.format_path(template, keys, "path template", **kwargs)
    except (KeyError, IndexError, ValueError):
        return None


def confined(ctx: DatasetContext, rel: str, out: FindingCollector, **where: Any) -> Path | None:
    """``root/rel`` when it stays inside the root, else None after an RP109 finding."""
    try:
        return safepath.inside(ctx.root, rel)
    except UnsafePathError as exc:
        out.add("RP109", str(exc), file=rel, **where)
        return None


def _confined_files(root: Path, files: list[Path], out: FindingCollector) -> list[Path]:
    """``files`` without those whose real path leaves ``root`` (each reported as RP109)."""
    rels = [p.relative_to(root).as_posix() for p in files]
    bad = set(safepath.escaping_symlinks(root, rels))
    for rel in sorted(bad):
        out.add(
            "RP109",
            f"{rel} resolves outside the dataset root (a symlink leaves it); it was not read",
            file=rel,
            expected="inside the root",
            actual=str((root / rel).resolve()),
        )
    return [p for p, r in zip(files, rels, strict=True) if r not in bad]


def load_context(root: Path, out: FindingCollector) -> DatasetContext:
    """Read info (raises when the root is not a dataset), episodes, tasks and stats (findings otherwise)."""
    root = Path(root)
    path = root / layout.INFO_PATH
    if path.is_file():
        safepath.inside(root, layout.INFO_PATH, "info.json")
    if not path.is_file():
        raise DatasetNotFoundError(f"{root}: not a LeRobot dataset (missing {layout.INFO_PATH})")
    raw = read_json_file(path, "restore meta/info.json")
    ctx = DatasetContext(root=root, raw_info=raw)
    ctx.info = _typed_info(raw, out)
    ctx.data_files = _confined_files(
        root, sorted(p for p in (root / layout.DATA_DIR).glob("*/*.parquet") if p.is_file()), out
    )
    ctx.episodes_files = _confined_files(
        root, sorted(p for p in (root / layout.EPISODES_DIR).glob("*/*.parquet") if p.is_file()), out
    )
    ctx.episodes = _load_episodes(ctx, out)
    ctx.tasks = _load_tasks(ctx, out)
    ctx.stats = _load_stats(ctx, out)
    return ctx


def _typed_info(raw: dict[str, Any], out: FindingCollector) -> DatasetInfo | None:
    where = layout.INFO_PATH
    version = str(raw.get("codebase_version", ""))
    try:
        v = Version(version.lstrip("v"))
        if v.major != 3:
            out.add(
                "RP102",
                f"codebase_version {version!r} is not v3.x",
                file=where,
                expected="v3.x",
                actual=version,
            )
            return None
    except InvalidVersion:
        out.add(
            "RP102",
            f"codebase_version {version!r} is not a version string",
            file=where,
            expected="v3.0",
            actual=version,
        )
    for key in ("fps", "features", "data_path", "total_episodes", "total_frames", "total_tasks"):
        if key not in raw:
            out.add(
                "RP101",
                f"info.json has no {key!r}",
                file=where,
                feature=None,
                expected=f"key {key!r}",
                actual="missing",
            )
    unsafe = set()
    for key, keys in (("data_path", safepath.V30_DATA_KEYS), ("video_path", safepath.V30_VIDEO_KEYS)):
        template = raw.get(key)
        if template is None:
            continue
        try:
            safepath.check_template(template, keys, key)
        except UnsafePathError as exc:
            unsafe.add(key)
            code = "RP106" if isinstance(exc, PathTemplateError) else "RP109"
            out.add(code, str(exc), file=where, feature=key, actual=repr(template)[:200])
    try:
        info = DatasetInfo.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            if loc in unsafe:
                continue  # reported as RP109 above
            out.add(
                "RP101",
                f"info.json {loc}: {str(err['msg']).removeprefix('Value error, ')}",
                file=where,
                actual=None if isinstance(err.get("input"), dict) else repr(err.get("input"))[:200],
            )
        return None
    except FormatError as exc:
        out.add("RP101", f"info.json features: {exc}", file=where)
        return None
    for key, spec in DEFAULT_FEATURES.items():
        got = info.features.get(key)
        if got is None:
            out.add(
                "RP107",
                f"default feature {key!r} is not declared",
                file=where,
                feature=key,
                expected=f"{spec.dtype} {list(spec.shape)}",
                actual="missing",
            )
        elif got.dtype != spec.dtype or tuple(got.shape) != spec.shape:
            out.add(
                "RP107",
                f"default feature {key!r} has the wrong dtype/shape",
                file=where,
                feature=key,
                expected=f"{spec.dtype} {list(spec.shape)}",
                actual=f"{got.dtype} {list(got.shape)}",
            )
    for key, spec in info.features.items():
        if spec.is_visual:
            names = spec.names
            if not (isinstance(names, list) and len(names) == 3):
                out.add(
                    "RP108",
                    f"camera feature {key!r} has names {names!r}; training reads names[2]",
                    file=where,
                    feature=key,
                    expected="['height', 'width', 'channels']",
                    actual=repr(names),
                )
            if len(spec.shape) != 3:
                out.add(
                    "RP101",
                    f"camera feature {key!r} must have shape (H, W, C)",
                    file=where,
                    feature=key,
                    expected="(H, W, C)",
                    actual=str(list(spec.shape)),
                )
    return info


def _empty_severity(ctx: DatasetContext) -> Severity | None:
    """A dataset that declares no episodes may lack episodes/tasks files: warn instead of error."""
    return Severity.WARNING if ctx.raw_info.get("total_episodes") == 0 else None


def _load_episodes(ctx: DatasetContext, out: FindingCollector) -> pa.Table | None:
    if not ctx.episodes_files:
        out.add(
            "RP201",
            f"no episodes metadata under {layout.EPISODES_DIR}/",
            severity=_empty_severity(ctx),
            file=layout.EPISODES_DIR,
            expected="meta/episodes/chunk-XXX/file-YYY.parquet",
            actual="none",
        )
        return None
    tables = []
    for f in ctx.episodes_files:
        try:
            tables.append(pq.read_table(f))
        except (OSError, pa.ArrowException) as exc:
            out.add("RP201", f"episodes file unreadable: {exc}", file=ctx.rel(f))
    if not tables or len(tables) != len(ctx.episodes_files):
        return None  # positional row->episode mapping is lost if a file is missing
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        out.add("RP201", f"episodes files have incompatible schemas: {exc}", file=layout.EPISODES_DIR)
        return None
    return _integer_columns_only(table, out)


def _integer_columns_only(table: pa.Table, out: FindingCollector) -> pa.Table:
    """Drop index/location columns that are not integers without nulls (each reported as RP202).

    The rules index arrays and files with these values; a NaN or a null would otherwise stop them.
    """
    for name in list(table.column_names):
        problem = location_problem(name, table[name])
        if problem is None:
            continue
        out.add(
            "RP202",
            f"episodes column {name!r} {problem}",
            file=layout.EPISODES_DIR,
            expected="integers without nulls / finite timestamps",
            actual=str(table[name].type),
        )
        table = table.drop_columns([name])
    return table


def _load_tasks(ctx: DatasetContext, out: FindingCollector) -> list[str] | None:
    path = ctx.root / layout.TASKS_PATH
    rel = layout.TASKS_PATH
    if path.is_file() and confined(ctx, rel, out) is None:
        return None
    if not path.is_file():
        out.add(
            "RP205",
            "meta/tasks.parquet is missing (LeRobot cannot load the dataset)",
            severity=_empty_severity(ctx),
            file=rel,
            expected="file",
            actual="missing",
        )
        return None
    try:
        schema_meta = pq.read_schema(path).metadata or {}
        df = pd.read_parquet(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        out.add("RP205", f"tasks file unreadable: {exc}", file=rel)
        return None
    if "task_index" not in df.columns:
        out.add(
            "RP206",
            "tasks.parquet has no task_index column",
            file=rel,
            expected="task_index",
            actual=str(list(df.columns)),
        )
        return None
    if "task" in df.columns:
        df = df.set_index("task")
        out.add(
            "RP206",
            "task strings are a plain column: LeRobot reads integer tasks unless pandas index metadata names it",
            file=rel,
            expected="pandas index 'task' (schema metadata b'pandas')",
            actual="column 'task' without index metadata",
        )
    elif b"pandas" not in schema_meta or isinstance(df.index, pd.RangeIndex):
        out.add(
            "RP206",
            "tasks.parquet carries no task strings (index is a RangeIndex)",
            file=rel,
            expected="index = task strings",
            actual=type(df.index).__name__,
        )
        return None
    ti = df["task_index"].to_numpy()
    if not np.array_equal(ti, np.arange(len(df))):
        bad = int(np.flatnonzero(ti != np.arange(len(df)))[0]) if len(ti) == len(df) else 0
        out.add(
            "RP206",
            "task_index must equal the row position",
            file=rel,
            expected=str(bad),
            actual=str(ti[bad]),
            count=int(np.sum(ti != np.arange(len(df)))),
        )
    tasks = [str(t) for t in df.index]
    if len(set(tasks)) != len(tasks):
        out.add(
            "RP206",
            "duplicate task strings",
            file=rel,
            expected="unique",
            actual=str(len(tasks) - len(set(tasks))),
        )
    return tasks


def _load_stats(ctx: DatasetContext, out: FindingCollector) -> dict[str, dict[str, np.ndarray]] | None:
    path = ctx.root / layout.STATS_PATH
    if path.is_file() and confined(ctx, layout.STATS_PATH, out) is None:
        return None
    if not path.is_file():
        out.add(
            "RP501",
            "meta/stats.json is missing (normalisation at training time needs it)",
            file=layout.STATS_PATH,
            expected="file",
            actual="missing",
        )
        return None
    try:
        raw = read_json_bounded(path)
        if not isinstance(raw, dict):
            raise ValueError(f"expected an object, got {type(raw).__name__}")
        return {
            str(feat): {str(stat): np.asarray(v, dtype=np.float64) for stat, v in fs.items()}
            for feat, fs in raw.items()
        }
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        out.add("RP502", f"stats.json unreadable: {exc}", file=layout.STATS_PATH)
        return None
