"""Per-episode signals of the numeric columns: idle, gripper, saturation, spikes, jerk, lag, gaps (core).

Everything is scaled by the dataset range of each dimension (``meta/stats.json`` max - min), so one
threshold fits joints in degrees, radians or motor counts alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from robopipe.quality.config import QualityConfig
from robopipe.quality.models import Finding, Level
from robopipe.quality.runs import resample, robust_scale, runs

STATE_KEY = "observation.state"
ACTION_KEY = "action"


@dataclass(frozen=True)
class Scales:
    """Dataset-wide per-dimension minimum, maximum and range (floored) of each numeric feature."""

    mins: Mapping[str, np.ndarray]
    maxs: Mapping[str, np.ndarray]
    names: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def range(self, key: str) -> np.ndarray:
        r = np.asarray(self.maxs[key], np.float64) - np.asarray(self.mins[key], np.float64)
        return np.maximum(r, 1e-6)

    def name(self, key: str, dim: int) -> str:
        names = self.names.get(key) or []
        return str(names[dim]) if dim < len(names) else f"{key}[{dim}]"


@dataclass
class NumericResult:
    """Numeric signals of one episode; per-frame arrays are kept for the camera checks and the viewer."""

    signals: dict[str, float]
    findings: list[Finding]
    frame_signals: dict[str, np.ndarray]  # name -> (n,) float32
    means: dict[str, np.ndarray]  # feature -> per-dim episode mean (z-scores)
    signature: np.ndarray  # resampled, range-normalised trajectory


def _motion(x: np.ndarray, rng: np.ndarray) -> np.ndarray:
    """Largest per-dim change to the previous frame, as a fraction of the dim's range; frame 0 copies 1."""
    if len(x) < 2:
        return np.zeros(len(x), np.float32)
    d = np.abs(np.diff(x, axis=0)) / rng
    m = d.max(axis=1)
    return np.concatenate((m[:1], m)).astype(np.float32)


def _spikes(x: np.ndarray, rng: np.ndarray, cfg: QualityConfig) -> list[tuple[int, int, int]]:
    """``(start, end, dim)`` of out-and-back jumps: a frame far off both neighbours.

    A spike is a large change followed by a comparable change back (a step or a fast smooth move is
    not), whose curvature (second difference) is ``spikes.mad_k`` robust deviations above the
    episode's usual curvature and at least ``spikes.min_fraction`` of the dimension's range.
    """
    if len(x) < 3:
        return []
    d = np.diff(x, axis=0)  # d[t] = x[t+1] - x[t]
    up, down = d[:-1], d[1:]  # around frame t+1
    big = cfg.spikes.min_fraction * rng
    small, large = np.minimum(np.abs(up), np.abs(down)), np.maximum(np.abs(up), np.abs(down))
    hit = (np.sign(up) == -np.sign(down)) & (small > big) & (small >= 0.5 * large)
    dims = np.flatnonzero(hit.any(axis=0))
    if not len(dims):  # the usual case: no candidate, no median to compute
        return []
    curv = down[:, dims] - up[:, dims]
    hit[:, dims] &= np.abs(curv) > cfg.spikes.mad_k * robust_scale(curv, axis=0)
    out = []
    for dim in np.flatnonzero(hit.any(axis=0)):
        for a, b in runs(hit[:, dim]):
            out.append((a + 1, b + 1, int(dim)))
    return out


def _lag_frames(a: np.ndarray, s: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Delay (frames) at which the state's velocity best follows the action's, and that correlation."""
    n = min(len(a), len(s))
    if n < 4 or max_lag < 1:
        return 0, 0.0
    va = np.diff(a[:n], axis=0)
    vs = np.diff(s[:n], axis=0)
    best, best_c = 0, -np.inf
    for lag in range(0, min(max_lag, len(va) - 2) + 1):
        x, y = va[: len(va) - lag].ravel(), vs[lag:].ravel()
        den = float(np.linalg.norm(x) * np.linalg.norm(y))
        c = float(x @ y) / den if den > 0 else -np.inf
        if c > best_c:
            best, best_c = lag, c
    return best, float(best_c)


def numeric_signals(
    columns: Mapping[str, np.ndarray],
    timestamps: np.ndarray | None,
    fps: int,
    scales: Scales,
    cfg: QualityConfig,
) -> NumericResult:
    """Signals of one episode from its numeric columns (``(n, d)`` float arrays keyed by feature)."""
    n = len(next(iter(columns.values()))) if columns else (len(timestamps) if timestamps is not None else 0)
    sig: dict[str, float] = {}
    fnd: list[Finding] = []
    per_frame: dict[str, np.ndarray] = {}
    cols = {
        k: np.asarray(v, np.float64).reshape(len(v), int(np.prod(np.shape(v)[1:])))
        for k, v in columns.items()
    }
    state, action = cols.get(STATE_KEY), cols.get(ACTION_KEY)
    motions = []
    for key, name in ((STATE_KEY, "motion.state"), (ACTION_KEY, "motion.action")):
        if key in cols and key in scales.mins:
            per_frame[name] = _motion(cols[key], scales.range(key))
            motions.append(per_frame[name])
    if motions and n:
        idle = np.all([m < cfg.idle.speed_fraction / fps for m in motions], axis=0)
        min_len = max(1, round(cfg.idle.min_seconds * fps))
        # frame t is still when it equals frame t-1: a hold of frames a..b is still at a+1..b
        stretches = [(max(0, a - 1), b) for a, b in runs(idle, min_len - 1)]
        sig["idle_fraction"] = float(sum(b - a + 1 for a, b in stretches) / n)
        level: Level = "warning" if sig["idle_fraction"] >= cfg.idle.warn_fraction else "info"
        for a, b in stretches:
            fnd.append(
                Finding(
                    kind="idle",
                    level=level,
                    message=f"robot idle for {(b - a + 1) / fps:.1f}s (state and action still)",
                    start=a,
                    end=b,
                )
            )
        held = np.zeros(n, bool)
        for a, b in stretches:
            held[a : b + 1] = True
        per_frame["idle"] = held.astype(np.float32)
    if state is not None and STATE_KEY in scales.mins and n:
        rng = scales.range(STATE_KEY)
        lo, hi = np.asarray(scales.mins[STATE_KEY]), np.asarray(scales.maxs[STATE_KEY])
        grip = [
            j for j in range(state.shape[1]) if cfg.gripper.name_contains in scales.name(STATE_KEY, j).lower()
        ]
        if grip:
            act = float(max((state[:, j].max() - state[:, j].min()) / rng[j] for j in grip))
            sig["gripper_activity"] = act
            if act < cfg.gripper.min_range_fraction:
                fnd.append(
                    Finding(
                        kind="gripper_unused",
                        level="warning",
                        message=f"gripper moved {act:.1%} of its range (never opened/closed?)",
                        key=STATE_KEY,
                    )
                )
        edge = cfg.saturation.edge_fraction * rng
        at_limit = (state <= lo + edge) | (state >= hi - edge)
        # Saturation = the joint is held at its limit while asked to go further: the action points
        # past the limit (teleop: the leader moves on, the follower cannot), or, without an action,
        # the reading does not change at all.
        if action is not None and action.shape == state.shape:
            at_limit &= ((state <= lo + edge) & (action < lo - edge)) | (
                (state >= hi - edge) & (action > hi + edge)
            )
        else:
            still = np.zeros_like(at_limit)
            still[1:] = np.diff(state, axis=0) == 0
            at_limit &= still
        if "idle" in per_frame:  # a robot at rest is reported as idle, not as saturated
            at_limit &= (per_frame["idle"] < 0.5)[:, None]
        min_len = max(1, round(cfg.saturation.min_seconds * fps))
        saturated = 0
        for j in range(state.shape[1]):
            if j in grip:  # a closed gripper sits at its limit by design
                continue
            for a, b in runs(at_limit[:, j], min_len):
                saturated += b - a + 1
                fnd.append(
                    Finding(
                        kind="saturation",
                        level="warning",
                        message=f"{scales.name(STATE_KEY, j)} pinned at its limit for {(b - a + 1) / fps:.1f}s",
                        start=a,
                        end=b,
                        key=STATE_KEY,
                    )
                )
        sig["saturation_fraction"] = saturated / n
    for key in (ACTION_KEY, STATE_KEY):
        if key not in cols or key not in scales.mins:
            continue
        x, rng = cols[key], scales.range(key)
        spikes = _spikes(x, rng, cfg)
        sig[f"spikes.{key}"] = float(len(spikes))
        for a, b, dim in spikes:
            fnd.append(
                Finding(
                    kind="spike",
                    level="warning",
                    message=f"{scales.name(key, dim)} ({key}) jumps and comes back",
                    start=a,
                    end=b,
                    key=key,
                )
            )
        if len(x) >= 4:
            sig[f"jerk.{key}"] = float(np.sqrt(np.mean((np.diff(x, n=3, axis=0) / rng) ** 2)))
    if state is not None and action is not None and state.shape == action.shape:
        frames, corr = _lag_frames(action, state, round(cfg.lag.max_seconds * fps))
        lag = frames / fps
        sig["lag_correlation"] = corr
        if corr >= cfg.lag.min_correlation:  # otherwise the state does not follow the action at all
            sig["lag_seconds"] = lag
        if corr >= cfg.lag.min_correlation and lag >= cfg.lag.warn_seconds:
            fnd.append(
                Finding(kind="lag", level="warning", message=f"state follows the action {lag:.2f}s late")
            )
    if timestamps is not None and len(timestamps) >= 2:
        dt = np.diff(np.asarray(timestamps, np.float64))
        gaps = np.flatnonzero(dt > cfg.timing.gap_factor / fps)
        dropped = int(np.round(dt[gaps] * fps).sum() - len(gaps)) if len(gaps) else 0
        sig["dropped_frames"] = float(dropped)
        for g in gaps:
            fnd.append(
                Finding(
                    kind="dropped_frames",
                    level="error",
                    message=f"timestamp jumps {dt[g]:.3f}s (~{round(dt[g] * fps) - 1} frame(s) missing)",
                    start=int(g),
                    end=int(g) + 1,
                )
            )
        back = np.flatnonzero(dt <= 0)
        if len(back):
            fnd.append(
                Finding(
                    kind="timestamps",
                    level="error",
                    message=f"timestamps do not increase at {len(back)} frame(s)",
                    start=int(back[0]),
                    end=int(back[-1]) + 1,
                )
            )
    means = {k: v.mean(axis=0) for k, v in cols.items() if n}
    parts = [
        (cols[k] - np.asarray(scales.mins[k])) / scales.range(k)
        for k in (STATE_KEY, ACTION_KEY)
        if k in cols and k in scales.mins
    ]
    signature = (
        resample(np.concatenate(parts, axis=1), cfg.duplicates.points).ravel()
        if parts and n
        else np.zeros(0, np.float64)
    )
    return NumericResult(sig, fnd, per_frame, means, signature)
