"""Rules on the data parquet files, vectorised with pyarrow/numpy (core layer).

One pass over the files in LeRobot's read order (sorted paths): schema, global ``index``, episode
rows vs the episodes metadata, ``frame_index``, ``timestamp``, ``task_index``, NaN/Inf, bounds and the
per-episode stats (min/max/count) against the data. Per-row problems are grouped per episode: one
finding per (rule, episode) with the first offending frame and the number of rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.format.features import FeatureSpec, data_column_keys
from robopipe.format.layout import parse_chunk_file
from robopipe.validate.bounds import FeatureBounds
from robopipe.validate.columns import to_matrix, type_problem
from robopipe.validate.context import DatasetContext, safe_format
from robopipe.validate.findings import FindingCollector, Severity
from robopipe.validate.rows import per_episode
from robopipe.validate.rules_episode_stats import check_episode_stats
from robopipe.validate.rules_values import check_values

log = logging.getLogger(__name__)


@dataclass
class _EpisodeMeta:
    """Episodes-metadata columns indexed by episode_index."""

    pos: dict[int, int]
    chunk: np.ndarray | None
    file: np.ndarray | None
    start: np.ndarray | None
    stop: np.ndarray | None
    length: np.ndarray | None
    seen: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_ctx(cls, ctx: DatasetContext) -> _EpisodeMeta:
        idx = ctx.episode_column("episode_index")
        pos = {int(e): i for i, e in enumerate(idx)} if idx is not None else {}
        return cls(
            pos,
            ctx.episode_column("data/chunk_index"),
            ctx.episode_column("data/file_index"),
            ctx.episode_column("dataset_from_index"),
            ctx.episode_column("dataset_to_index"),
            ctx.episode_column("length"),
        )

    def rows_in(self, chunk: int, file: int) -> int:
        if self.chunk is None or self.file is None or self.length is None:
            return 0
        return int(self.length[(self.chunk == chunk) & (self.file == file)].sum())


def check_data(
    ctx: DatasetContext, out: FindingCollector, bounds: Mapping[str, FeatureBounds] | None, tolerance_s: float
) -> tuple[int | None, int]:
    """Run every data rule; returns (total data rows or None if a file was unreadable, rows checked)."""
    if ctx.info is None:
        return None, 0
    features = ctx.features
    expected_cols = data_column_keys(features)
    meta = _EpisodeMeta.from_ctx(ctx)
    _check_files_referenced(ctx, out, meta)
    bounds = dict(bounds or {})
    for key in list(bounds):
        spec = features.get(key)
        if spec is None or not spec.is_numeric:
            out.add(
                "RP312",
                f"bounds name {key!r}, which is not a numeric feature",
                feature=key,
                severity=Severity.WARNING,
                expected="a numeric feature",
                actual="unknown" if spec is None else spec.dtype,
            )
            bounds.pop(key)
    offset = 0
    total_ok = True
    checked = 0
    for path in ctx.data_files:
        rel = ctx.rel(path)
        try:
            cf = parse_chunk_file(path)
        except ValueError:
            cf = None
        try:
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
        except (OSError, pa.ArrowException) as exc:
            out.add(
                "RP301",
                f"data file unreadable: {exc}",
                file=rel,
                expected="a parquet file with footer",
                actual=type(exc).__name__,
            )
            total_ok = False
            offset += meta.rows_in(*cf) if cf else 0
            continue
        present = set(schema.names)
        for c in sorted(set(expected_cols) - present):
            out.add("RP304", f"column {c!r} is missing", file=rel, feature=c, expected=c, actual="missing")
        for c in sorted(present - set(expected_cols)):
            out.add(
                "RP304",
                f"column {c!r} is not a declared feature",
                file=rel,
                feature=c,
                expected="no column",
                actual=str(schema.field(c).type),
            )
        usable: dict[str, FeatureSpec] = {}
        for c in expected_cols:
            if c not in present:
                continue
            problem = type_problem(schema.field(c).type, features[c])
            if problem is not None:
                sev, msg = problem
                out.add(
                    "RP305",
                    msg,
                    file=rel,
                    feature=c,
                    severity=Severity(sev),
                    expected=f"{features[c].dtype} {list(features[c].shape)}",
                    actual=str(schema.field(c).type),
                )
                if sev == "error":
                    continue
            if features[c].is_numeric:
                usable[c] = features[c]
        try:
            table = pf.read(columns=list(usable))
        except (OSError, pa.ArrowException) as exc:
            out.add("RP301", f"data file unreadable: {exc}", file=rel, actual=type(exc).__name__)
            total_ok = False
            offset += pf.metadata.num_rows
            continue
        n = table.num_rows
        cols: dict[str, np.ndarray] = {}
        for c, spec in usable.items():
            m = to_matrix(table.column(c), spec)
            if m is None:
                out.add(
                    "RP305",
                    "list lengths differ from the declared shape",
                    file=rel,
                    feature=c,
                    expected=str(list(spec.shape)),
                    actual="ragged or wrong-size lists",
                )
                continue
            cols[c] = m
        _check_rows(ctx, out, rel, cf, offset, cols, meta, tolerance_s)
        check_values(ctx, out, rel, cols, bounds)
        offset += n
        checked += n
    for e, i in meta.pos.items():
        if e not in meta.seen and (meta.length is None or meta.length[i] > 0) and total_ok:
            out.add(
                "RP307",
                "episode listed in meta/episodes has no rows in the data files",
                episode=e,
                expected="rows",
                actual="none",
            )
    return (offset if total_ok else None), checked


def _check_files_referenced(ctx: DatasetContext, out: FindingCollector, meta: _EpisodeMeta) -> None:
    if ctx.info is None or meta.chunk is None or meta.file is None:
        return
    referenced: dict[Path, list[int]] = {}
    eps = list(meta.pos)
    for e, i in meta.pos.items():
        rel = safe_format(ctx.info.data_path, chunk_index=int(meta.chunk[i]), file_index=int(meta.file[i]))
        if rel is None:
            return  # RP106
        referenced.setdefault(ctx.root / rel, []).append(e)
    on_disk = set(ctx.data_files)
    for p, episodes in referenced.items():
        if p not in on_disk:
            out.add(
                "RP302",
                f"data file referenced by {len(episodes)} episode(s) does not exist",
                file=ctx.rel(p),
                episode=episodes[0],
                expected="file",
                actual="missing",
                count=len(episodes),
            )
    for p in sorted(on_disk - set(referenced)):
        if eps:
            out.add("RP303", "data file is not referenced by any episode", file=ctx.rel(p))


def _check_rows(
    ctx: DatasetContext,
    out: FindingCollector,
    rel: str,
    cf: tuple[int, int] | None,
    offset: int,
    cols: dict[str, np.ndarray],
    meta: _EpisodeMeta,
    tolerance_s: float,
) -> None:
    if "episode_index" not in cols:
        return
    ep = cols["episode_index"][:, 0].astype(np.int64)
    n = ep.size
    rowpos = np.arange(n)
    fi = cols["frame_index"][:, 0].astype(np.int64) if "frame_index" in cols else rowpos
    if "index" in cols:
        idx = cols["index"][:, 0].astype(np.int64)
        per_episode(
            out,
            "RP306",
            "index is not the global row position",
            idx != offset + rowpos,
            ep,
            fi,
            rel,
            lambda r: str(offset + r),
            lambda r: str(int(idx[r])),
            "index",
        )
    if n == 0:
        return
    boundary = np.flatnonzero(np.diff(ep) != 0) + 1
    starts = np.concatenate([[0], boundary])
    stops = np.concatenate([boundary, [n]])
    run_eps = ep[starts]
    for s, t, e in zip(starts, stops, run_eps):
        e = int(e)
        if e in meta.seen:
            out.add(
                "RP307",
                f"episode rows are not contiguous (also in {meta.seen[e]})",
                file=rel,
                episode=e,
                frame=int(fi[s]),
                expected="one contiguous block",
                actual=f"another block at row {offset + s}",
            )
            continue
        meta.seen[e] = rel
        i = meta.pos.get(e)
        if i is None:
            out.add(
                "RP307",
                "data rows of an episode missing from meta/episodes",
                file=rel,
                episode=e,
                expected="an episodes row",
                actual="none",
                count=int(t - s),
            )
            continue
        checks = [
            ("dataset_from_index", meta.start, offset + s),
            ("dataset_to_index", meta.stop, offset + t),
            ("length", meta.length, t - s),
        ]
        if cf is not None:
            checks += [("data/chunk_index", meta.chunk, cf[0]), ("data/file_index", meta.file, cf[1])]
        for name, arr, actual in checks:
            if arr is not None and int(arr[i]) != int(actual):
                out.add(
                    "RP307",
                    f"episodes metadata {name} does not match the data rows",
                    file=rel,
                    episode=e,
                    feature=name,
                    expected=str(int(actual)),
                    actual=str(int(arr[i])),
                )
    run_id = np.repeat(np.arange(starts.size), stops - starts)
    exp_fi = rowpos - starts[run_id]
    if "frame_index" in cols:
        per_episode(
            out,
            "RP308",
            "frame_index does not run 0..length-1",
            fi != exp_fi,
            ep,
            exp_fi,
            rel,
            lambda r: str(int(exp_fi[r])),
            lambda r: str(int(fi[r])),
            "frame_index",
        )
    fps = ctx.info.fps if ctx.info else 0
    if "timestamp" in cols and fps:
        ts = cols["timestamp"][:, 0].astype(np.float64)
        want = fi / fps
        bad = ~(np.abs(ts - want) <= tolerance_s)
        per_episode(
            out,
            "RP309",
            f"timestamp differs from frame_index/fps by more than {tolerance_s:g} s",
            bad,
            ep,
            fi,
            rel,
            lambda r: f"{want[r]:.6f}",
            lambda r: f"{ts[r]:.6f}",
            "timestamp",
        )
    if "task_index" in cols and ctx.tasks is not None:
        ti = cols["task_index"][:, 0].astype(np.int64)
        bad = (ti < 0) | (ti >= len(ctx.tasks))
        per_episode(
            out,
            "RP310",
            "task_index is not a row of meta/tasks.parquet",
            bad,
            ep,
            fi,
            rel,
            lambda r: f"0..{len(ctx.tasks or []) - 1}",
            lambda r: str(int(ti[r])),
            "task_index",
        )
    check_episode_stats(ctx, out, rel, cols, meta.pos, starts, stops, run_eps)
