"""Typed results of the quality pass: findings, per-episode quality, the dataset report (core layer)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["error", "warning", "info"]
LEVELS: tuple[Level, ...] = ("error", "warning", "info")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finding(_Frozen):
    """One suspect thing in one episode, with the frames it covers when it has a place in time."""

    kind: str = Field(description="signal name, e.g. 'frozen_camera', 'idle', 'spike'")
    level: Level
    message: str
    start: int | None = Field(default=None, description="first frame (episode frame_index)")
    end: int | None = Field(default=None, description="last frame, inclusive")
    key: str | None = Field(default=None, description="camera or feature the finding is about")


class EpisodeQuality(_Frozen):
    """Signals and findings of one episode; ``score`` is 1 for a clean episode, 0 for a useless one."""

    episode_index: int
    length: int
    score: float
    level: Level | None = Field(description="worst finding level (None: clean)")
    signals: dict[str, float] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)


class QualityReport(_Frozen):
    """What ``robopipe quality`` prints: suspects ranked worst first, and an overall score (0-100)."""

    root: Path
    episodes: int
    frames: int
    score: float = Field(description="mean episode score x 100")
    counts: dict[str, int] = Field(description="episodes whose worst finding is error / warning / info")
    suspects: list[EpisodeQuality] = Field(description="episodes with a warning or error, worst first")
    seconds: float
    config: str = Field(description="'defaults' or the --config path")

    @property
    def has_errors(self) -> bool:
        return self.counts.get("error", 0) > 0


class QualityRequest(_Frozen):
    """Parameters of ``robopipe quality`` and of the quality flow/stage."""

    root: Path = Field(description="dataset root (the folder holding meta/info.json)")
    config: Path | None = Field(
        default=None, description="YAML of thresholds overriding the packaged defaults"
    )
