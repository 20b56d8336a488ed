"""The quality stage: plan per-file units, compute signals unit by unit, combine, store (core layer).

Same units as the stats recompute (:func:`robopipe.stats.recompute.plan_recompute`: one per data file,
one per (camera, mp4 file)), so the work grows with files, not episodes; each mp4 is decoded once.
:func:`run_quality_unit` is a module-level function of small picklable arguments: any executor (serial,
threads, Dask) can map it. :func:`finish_quality` joins the unit results per episode, adds the
dataset-level signals (length outliers, near-duplicates, z-scores), scores and writes the results.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import CorruptFileError, FormatError
from robopipe.execution import Executor, SerialExecutor
from robopipe.format import layout
from robopipe.format.features import FeatureSpec
from robopipe.format.info import load_info
from robopipe.format.lock import writer_lock
from robopipe.format.reader import column_to_numpy
from robopipe.quality.camera import camera_findings, decode_file_stats
from robopipe.quality.config import QualityConfig, load_config
from robopipe.quality.dataset import duplicate_findings, length_findings, zscore_findings
from robopipe.quality.models import LEVELS, EpisodeQuality, Finding, QualityReport
from robopipe.quality.numeric import NumericResult, Scales, numeric_signals
from robopipe.quality.runs import resample
from robopipe.quality.store import write_episodes, write_frames, write_summary
from robopipe.stats.io import load_stats_json
from robopipe.stats.recompute import plan_recompute
from robopipe.stats.units import Unit

log = logging.getLogger(__name__)
INDEX_COLUMNS = frozenset({"timestamp", "frame_index", "episode_index", "index", "task_index"})


@dataclass(frozen=True)
class QualityPlan:
    """Everything a unit needs (small and picklable)."""

    root: Path
    fps: int
    features: dict[str, FeatureSpec]
    units: tuple[Unit, ...]
    scales: Scales
    config: QualityConfig
    num_frames: int
    staging: Path = field(default=Path())


@dataclass(frozen=True)
class UnitResult:
    uid: int
    numeric: dict[int, NumericResult]
    camera: dict[int, np.ndarray]  # episode -> (n, 3) luma, contrast, change
    key: str | None


def _names(spec: FeatureSpec) -> list[str]:
    names: Any = spec.names
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    return [str(n) for n in names] if isinstance(names, list) else []


def _quality_keys(features: Mapping[str, FeatureSpec]) -> list[str]:
    return [k for k, f in features.items() if f.is_numeric and k not in INDEX_COLUMNS and len(f.shape) <= 1]


def _scales(root: Path, features: Mapping[str, FeatureSpec], units: Sequence[Unit]) -> Scales:
    keys = _quality_keys(features)
    stats = load_stats_json(root) or {}
    mins: dict[str, np.ndarray] = {}
    maxs: dict[str, np.ndarray] = {}
    missing = []
    for k in keys:
        st = stats.get(k, {})
        size = int(np.prod(features[k].shape or (1,)))
        if "min" in st and "max" in st and np.asarray(st["min"]).size == size:
            mins[k] = np.asarray(st["min"], np.float64).ravel()
            maxs[k] = np.asarray(st["max"], np.float64).ravel()
        else:
            missing.append(k)
    if missing:  # no (usable) stats.json: one extra read of those columns
        log.info("%s: no stats.json ranges for %s; reading them from the data", root, missing)
        for u in units:
            if u.kind != "data":
                continue
            cols = _read_columns(root / u.path, features, missing)[0]
            for k, v in cols.items():
                lo, hi = v.min(axis=0), v.max(axis=0)
                mins[k] = np.minimum(mins[k], lo) if k in mins else lo
                maxs[k] = np.maximum(maxs[k], hi) if k in maxs else hi
    return Scales(mins, maxs, {k: _names(features[k]) for k in keys})


def plan_quality(root: Path, config: QualityConfig) -> QualityPlan:
    """Units and dataset ranges of a dataset (reads metadata and, without stats.json, the numeric columns)."""
    root = Path(root)
    sp = plan_recompute(root, images=True)
    info = load_info(root)
    staging = layout.new_staging_dir(root, "quality")
    return QualityPlan(
        root,
        info.fps,
        dict(sp.features),
        sp.units,
        _scales(root, sp.features, sp.units),
        config,
        sp.num_frames,
        staging,
    )


def _read_columns(
    path: Path, features: Mapping[str, FeatureSpec], keys: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray | None, np.ndarray]:
    try:
        names = pq.read_schema(path).names
        wanted = [k for k in keys if k in names]
        table = pq.read_table(
            path, columns=[*wanted, *(c for c in ("timestamp", "episode_index") if c in names)]
        )
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(f"{path}: unreadable data file ({exc})") from exc
    if "episode_index" not in table.column_names:
        raise FormatError(f"{path}: no episode_index column")
    cols = {}
    for k in wanted:
        try:
            v = column_to_numpy(table[k], features[k]).astype(np.float64, copy=False)
        except (ValueError, TypeError, pa.ArrowException) as exc:
            raise FormatError(
                f"{path}: column {k!r} is not {features[k].dtype} {list(features[k].shape)} as info.json says ({exc})"
            ) from exc
        cols[k] = v.reshape(len(v), int(np.prod(features[k].shape or (1,))))
    ts = None
    if "timestamp" in table.column_names:
        try:
            ts = np.asarray(table["timestamp"].to_numpy(), np.float64)
        except (ValueError, TypeError, pa.ArrowException) as exc:
            raise FormatError(f"{path}: column 'timestamp' is not numeric ({exc})") from exc
    return cols, ts, table["episode_index"].to_numpy()


def run_quality_unit(plan: QualityPlan, unit: Unit) -> int:
    """Signals of every episode of one unit's file, staged under ``plan.staging``; returns the unit id.

    Results stay on disk (a few floats per frame), so no executor ships per-frame arrays around.
    """
    stage_unit(plan.staging, unit_signals(plan, unit))
    return unit.uid


def unit_signals(plan: QualityPlan, unit: Unit) -> UnitResult:
    """Signals of every episode of one unit's file."""
    path = plan.root / unit.path
    step = plan.config.camera.subsample
    if unit.kind == "video":
        spans = [(e.index, e.length, e.from_ts) for e in unit.episodes]
        return UnitResult(unit.uid, {}, decode_file_stats(path, spans, plan.fps, step), unit.key)
    cols, ts, ep = _read_columns(path, plan.features, _quality_keys(plan.features))
    starts = np.flatnonzero(np.concatenate(([True], ep[1:] != ep[:-1]))) if len(ep) else np.zeros(0, np.int64)
    bounds = dict(zip(ep[starts].tolist(), zip(starts.tolist(), [*starts[1:].tolist(), len(ep)])))
    out: dict[int, NumericResult] = {}
    for span in unit.episodes:
        if span.index not in bounds:
            raise FormatError(f"{path}: episode {span.index} has no rows (meta/episodes says it is here)")
        a, b = bounds[span.index]
        if b - a != span.length:
            raise FormatError(
                f"{path}: episode {span.index} has {b - a} rows, meta/episodes says {span.length}"
            )
        out[span.index] = numeric_signals(
            {k: v[a:b] for k, v in cols.items()},
            None if ts is None else ts[a:b],
            plan.fps,
            plan.scales,
            plan.config,
        )
    return UnitResult(unit.uid, out, {}, None)


def stage_unit(staging: Path, r: UnitResult) -> None:
    """``unit-N.json`` (signals, findings, means) + ``unit-N.npz`` (per-frame arrays); no pickle.

    Per-frame arrays are concatenated over the unit's episodes (a handful of arrays per file, not a few
    per episode), with the episode lengths to split them again.
    """
    eps = sorted(r.numeric)
    cams = sorted(r.camera)
    names = sorted({n for nr in r.numeric.values() for n in nr.frame_signals})
    doc: dict[str, Any] = {"uid": r.uid, "key": r.key, "episodes": eps, "cameras": cams, "frames": names}
    doc["numeric"] = {
        str(ep): {
            "signals": r.numeric[ep].signals,
            "findings": [f.model_dump() for f in r.numeric[ep].findings],
            "means": {k: np.asarray(v, np.float64).tolist() for k, v in r.numeric[ep].means.items()},
        }
        for ep in eps
    }
    arrays: dict[str, np.ndarray] = {
        "lengths": np.array(
            [len(r.numeric[ep].frame_signals[names[0]]) if names else 0 for ep in eps], np.int64
        ),
        "cam_lengths": np.array([len(r.camera[ep]) for ep in cams], np.int64),
    }
    for name in names:
        arrays[f"f.{name}"] = np.concatenate([r.numeric[ep].frame_signals[name] for ep in eps])
    sigs = [r.numeric[ep].signature for ep in eps]
    arrays["sig_lengths"] = np.array([len(x) for x in sigs], np.int64)
    arrays["sig"] = np.concatenate(sigs) if sigs else np.zeros(0)
    arrays["cam"] = np.concatenate([r.camera[ep] for ep in cams]) if cams else np.zeros((0, 3), np.float32)
    base = Path(staging) / f"unit-{r.uid:06d}"
    tmp_npz = base.with_suffix(".npz.tmp")
    with open(tmp_npz, "wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    tmp_npz.replace(base.with_suffix(".npz"))
    tmp = base.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(base.with_suffix(".json"))


def _split(values: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(lengths)[:-1]) if len(lengths) else []


def read_staged_unit(staging: Path, uid: int) -> UnitResult:
    """What :func:`stage_unit` wrote for unit ``uid``."""
    base = Path(staging) / f"unit-{uid:06d}"
    doc = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    with np.load(base.with_suffix(".npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    eps: list[int] = doc["episodes"]
    frames = {n: _split(arrays[f"f.{n}"], arrays["lengths"]) for n in doc["frames"]}
    sigs = _split(arrays["sig"], arrays["sig_lengths"])
    numeric = {}
    for i, ep in enumerate(eps):
        d = doc["numeric"][str(ep)]
        numeric[ep] = NumericResult(
            signals=d["signals"],
            findings=[Finding.model_validate(f) for f in d["findings"]],
            frame_signals={n: frames[n][i] for n in doc["frames"]},
            means={k: np.asarray(v, np.float64) for k, v in d["means"].items()},
            signature=sigs[i],
        )
    camera = dict(zip(doc["cameras"], _split(arrays["cam"], arrays["cam_lengths"])))
    return UnitResult(doc["uid"], numeric, {int(k): v for k, v in camera.items()}, doc["key"])


def _episode_meta(root: Path) -> dict[int, dict[str, Any]]:
    wanted = ("episode_index", "length", "timing/late_frames", "timing/duplicated_frames")
    out: dict[int, dict[str, Any]] = {}
    for f in layout.sorted_files(root, layout.EPISODES_DIR, ".parquet"):
        try:
            names = pq.read_schema(f).names
            t = pq.read_table(f, columns=[c for c in wanted if c in names]).to_pylist()
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(f"{f}: unreadable episodes metadata ({exc})") from exc
        for row in t:
            out[int(row["episode_index"])] = row
    return out


def _timing_findings(meta: Mapping[str, Any], cfg: QualityConfig) -> tuple[dict[str, float], list[Finding]]:
    sig: dict[str, float] = {}
    fnd: list[Finding] = []
    n = max(1, int(meta.get("length") or 1))
    late = meta.get("timing/late_frames")
    if late is not None:
        sig["late_frames"] = float(late)
        if late / n > cfg.timing.late_warn_fraction:
            fnd.append(
                Finding(
                    kind="late_frames", level="warning", message=f"recorder was late on {late} of {n} frames"
                )
            )
    dup = meta.get("timing/duplicated_frames")
    if dup is not None:
        sig["recorder_duplicated_frames"] = float(dup)
    return sig, fnd


def score_of(findings: Sequence[Finding], cfg: QualityConfig) -> float:
    penalty = sum(getattr(cfg.score, f.level) for f in findings)
    return round(max(0.0, 1.0 - penalty), 4)


def worst_level(findings: Sequence[Finding]) -> Any:
    for lvl in LEVELS:
        if any(f.level == lvl for f in findings):
            return lvl
    return None


def finish_quality(
    plan: QualityPlan, results: Iterable[UnitResult], seconds: float, label: str
) -> QualityReport:
    """Join unit results per episode, add dataset-level signals, score, write ``meta/robopipe/quality``."""
    cfg, fps = plan.config, plan.fps
    numeric: dict[int, NumericResult] = {}
    cameras: dict[int, dict[str, np.ndarray]] = {}
    for r in results:
        numeric.update(r.numeric)
        for ep, arr in r.camera.items():
            cameras.setdefault(ep, {})[r.key or ""] = arr
    meta = _episode_meta(plan.root)
    episodes = sorted(meta)
    lengths = {e: int(meta[e]["length"]) for e in episodes}
    signatures: dict[int, np.ndarray] = {}
    per_episode: dict[int, tuple[dict[str, float], list[Finding]]] = {}
    frames: list[tuple[int, dict[str, np.ndarray]]] = []
    for e in episodes:
        nr = numeric.get(e)
        sig: dict[str, float] = dict(nr.signals) if nr else {}
        fnd: list[Finding] = list(nr.findings) if nr else []
        block: dict[str, np.ndarray] = dict(nr.frame_signals) if nr else {}
        idle = block.get("idle")
        parts = [nr.signature] if nr is not None and nr.signature.size else []
        for key in sorted(cameras.get(e, {})):
            arr = cameras[e][key]
            spec = plan.features.get(key)
            depth = spec is not None and spec.is_depth_map
            s, f = camera_findings(key, arr, None if idle is None else idle > 0.5, fps, cfg, depth=depth)
            sig.update(s)
            fnd.extend(f)
            short = key.removeprefix("observation.images.")
            block[f"luma.{short}"], block[f"contrast.{short}"], block[f"change.{short}"] = arr.T
            parts.append(resample(arr[:, :1] / 255.0, cfg.duplicates.points).ravel())
        s, f = _timing_findings(meta[e], cfg)
        sig.update(s)
        fnd.extend(f)
        signatures[e] = np.concatenate(parts) if parts else np.zeros(0)
        per_episode[e] = (sig, fnd)
        frames.append((e, block))
    lens = length_findings(lengths, fps, cfg)
    dups = duplicate_findings(signatures, lengths, cfg)
    ranges = {k: plan.scales.range(k) for k in plan.scales.mins}
    zs = zscore_findings(
        {e: numeric[e].means for e in episodes if e in numeric}, ranges, plan.scales.names, cfg
    )
    out: list[EpisodeQuality] = []
    for e in episodes:
        sig, fnd = per_episode[e]
        z, f = lens.get(e, (0.0, []))
        sig["length_z"] = z
        fnd.extend(f)
        fnd.extend(dups.get(e, []))
        if e in zs:
            sig["feature_z_max"] = zs[e][0]
            fnd.extend(zs[e][1])
        fnd.sort(key=lambda x: (LEVELS.index(x.level), x.start if x.start is not None else -1))
        out.append(
            EpisodeQuality(
                episode_index=e,
                length=lengths[e],
                score=score_of(fnd, cfg),
                level=worst_level(fnd),
                signals={k: round(float(v), 6) for k, v in sig.items()},
                findings=fnd,
            )
        )
    write_frames(plan.root, frames)
    write_episodes(plan.root, out)
    counts: dict[str, int] = {lvl: sum(q.level == lvl for q in out) for lvl in LEVELS}
    counts["clean"] = sum(q.level is None for q in out)
    score = round(100.0 * float(np.mean([q.score for q in out])) if out else 100.0, 2)
    suspects = sorted(
        (q for q in out if q.level in ("error", "warning")), key=lambda q: (q.score, q.episode_index)
    )
    report = QualityReport(
        root=plan.root,
        episodes=len(out),
        frames=sum(lengths.values()),
        score=score,
        counts=counts,
        suspects=suspects,
        seconds=round(seconds, 3),
        config=label,
    )
    write_summary(
        plan.root,
        {"score": score, "counts": counts, "episodes": len(out), "frames": report.frames, "config": label},
    )
    return report


def compute_quality(
    root: Path,
    config: QualityConfig | Path | str | None = None,
    *,
    executor: Executor | None = None,
) -> QualityReport:
    """The quality stage: units mapped on ``executor`` (default serial), then joined, scored and stored.

    Holds the root's writer lock (the results are written into ``meta/robopipe/quality``).
    """
    with writer_lock(root):
        return _compute_quality(root, config, executor or SerialExecutor())


def _compute_quality(
    root: Path, config: QualityConfig | Path | str | None, runner: Executor
) -> QualityReport:
    t0 = time.perf_counter()
    label = (
        "defaults" if config is None else str(config) if not isinstance(config, QualityConfig) else "custom"
    )
    cfg = config if isinstance(config, QualityConfig) else load_config(config)
    plan = plan_quality(Path(root), cfg)
    plan.staging.mkdir(parents=True, exist_ok=True)
    try:
        stream = runner.map(
            run_quality_unit, plan, list(plan.units), weights=[u.frames for u in plan.units], label="quality"
        )
        uids = stream.results()
        results = [read_staged_unit(plan.staging, uid) for uid in uids]
    finally:
        shutil.rmtree(plan.staging, ignore_errors=True)
    return finish_quality(plan, results, time.perf_counter() - t0, label)
