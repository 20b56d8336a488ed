"""Matplotlib (Agg) figures of the dataset report, returned as base64 PNG data URIs (core layer)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

_BLUE, _LIGHT, _RED, _GREY = "#2b6cb0", "#bee3f8", "#c53030", "#a0aec0"


def to_data_uri(fig: Figure, dpi: int = 110) -> str:
    """Render and close ``fig``; returns ``data:image/png;base64,...``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def episode_length_histogram(lengths: np.ndarray, fps: int) -> str:
    """Histogram of episode lengths (frames on the x axis, seconds on a secondary axis)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    lengths = np.asarray(lengths)
    bins = min(40, max(5, int(np.sqrt(max(lengths.size, 1))) * 2))
    ax.hist(lengths, bins=bins, color=_BLUE, edgecolor="white")
    ax.axvline(
        float(np.mean(lengths)), color=_RED, linestyle="--", linewidth=1, label=f"mean {np.mean(lengths):.0f}"
    )
    ax.set_xlabel("episode length (frames)")
    ax.set_ylabel("episodes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if fps:
        sec = ax.secondary_xaxis("top", functions=(_per_second(1 / fps), _per_second(float(fps))))
        sec.set_xlabel("seconds")
    ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return to_data_uri(fig)


def _per_second(scale: float) -> Any:
    return lambda v: np.asarray(v, dtype=np.float64) * scale


def feature_distribution(
    key: str, stats: Mapping[str, np.ndarray], names: Sequence[str] | None
) -> str | None:
    """Per-dimension min/max line, q01–q99 and q10–q90 bars, median tick, mean ± std point."""
    mean = stats.get("mean")
    if mean is None:
        return None
    d = np.asarray(mean, dtype=np.float64).reshape(-1).size
    if d == 0:
        return None

    def get(name: str) -> np.ndarray | None:
        v = stats.get(name)
        if v is None:
            return None
        a = np.asarray(v, dtype=np.float64).reshape(-1)
        return a if a.size == d else None

    x = np.arange(d)
    fig, ax = plt.subplots(figsize=(min(14, 2.5 + 0.7 * d), 3.4))
    lo, hi = get("min"), get("max")
    if lo is not None and hi is not None:
        ax.vlines(x, lo, hi, color=_GREY, linewidth=1, label="min–max")
        ax.scatter(np.concatenate([x, x]), np.concatenate([lo, hi]), marker="_", color=_GREY, s=60)
    q01, q99, q10, q90, q50 = get("q01"), get("q99"), get("q10"), get("q90"), get("q50")
    if q01 is not None and q99 is not None:
        ax.bar(x, q99 - q01, bottom=q01, width=0.55, color=_LIGHT, label="q01–q99")
    if q10 is not None and q90 is not None:
        ax.bar(x, q90 - q10, bottom=q10, width=0.55, color="#90cdf4", label="q10–q90")
    if q50 is not None:
        ax.scatter(x, q50, marker="_", color="black", s=250, linewidths=2, label="median", zorder=3)
    std = get("std")
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    ax.errorbar(
        x + 0.32,
        m,
        yerr=std if std is not None else None,
        fmt="o",
        color=_RED,
        markersize=4,
        capsize=3,
        label="mean ± std",
        zorder=4,
    )
    labels = [str(n) for n in names] if names is not None and len(names) == d else [str(i) for i in x]
    # Long joint names overlap when written flat (~0.06 in per character at 8 pt vs 0.7 in per dim):
    # slant them, anchored at the tick, and keep the legend above the axes, clear of the labels.
    slant = d > 6 or max(len(lb) for lb in labels) * 0.06 > 0.65
    ax.set_xticks(x, labels, fontsize=8)
    if slant:
        ax.tick_params(axis="x", labelrotation=35)
        for lb in ax.get_xticklabels():
            lb.set_horizontalalignment("right")
            lb.set_rotation_mode("anchor")
    ax.set_xlim(-0.6, d - 0.4)
    ax.set_title(key, fontsize=10, loc="left", pad=18)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        fontsize=7, frameon=False, ncol=5, loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2
    )
    return to_data_uri(fig)


def timing_plot(episodes: np.ndarray, columns: Mapping[str, np.ndarray]) -> str | None:
    """One small panel per ``timing/*`` column, value per episode."""
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    if not cols:
        return None
    n = len(cols)
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.9 * n), sharex=True, squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], cols.items()):
        ax.plot(episodes, values, marker="o", markersize=3, color=_BLUE, linewidth=1)
        finite = values[np.isfinite(values)]
        if finite.size:
            ax.axhline(float(np.median(finite)), color=_GREY, linestyle="--", linewidth=1)
        ax.set_ylabel(name.split("/", 1)[-1], fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("episode")
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))  # no episode 0.5
    fig.tight_layout()
    return to_data_uri(fig)


def quality_scores(episodes: np.ndarray, scores: np.ndarray, levels: Sequence[str | None]) -> str:
    """Quality score per episode, coloured by the worst finding level."""
    colors = {"error": _RED, "warning": "#dd6b20", "info": _BLUE, None: "#2f855a"}
    fig, ax = plt.subplots(figsize=(8, 2.2))
    ax.bar(episodes, scores, width=0.8, color=[colors.get(lv, _GREY) for lv in levels])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("episode")
    ax.set_ylabel("quality score")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    return to_data_uri(fig)
