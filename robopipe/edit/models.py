"""Request and report models of the merge/edit commands (core layer).

The CLI and the Prefect flows build the same models, so both validate identically.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robopipe.errors import ConfigError, UnsafePathError
from robopipe.format import safepath

EditOperation = Literal["delete-episodes", "split", "remove-feature", "rename-feature", "set-task"]


def parse_renames(items: list[str] | None) -> dict[str, str]:
    """``["old=new", ...]`` -> ``{"old": "new"}``; raises :class:`ConfigError` on a malformed item."""
    out: dict[str, str] = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(
                f"--rename {item!r}: expected OLD=NEW (e.g. observation.images.top=observation.images.front)"
            )
        out[old.strip()] = new.strip()
    return out


def parse_episode_list(text: str) -> list[int]:
    """``"0-7,9 12"`` -> ``[0..7, 9, 12]`` (ranges inclusive)."""
    out: list[int] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            raise ConfigError(f"episode list {text!r}: {part!r} is neither N nor A-B")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a:
            raise ConfigError(f"episode list {text!r}: range {part!r} is descending")
        out.extend(range(a, b + 1))
    return out


def parse_splits(text: str) -> dict[str, float | list[int]]:
    """``"train=0.8,val=0.2"`` or ``"train=0-7,val=8,9"`` -> ``{name: fraction | episodes}``."""
    out: dict[str, float | list[int]] = {}
    # a part without "=" continues the previous split's episode list ("val=8,9")
    current: str | None = None
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, sep, value = part.partition("=")
        if sep:
            current = name.strip()
            if not current or current in out:
                raise ConfigError(f"--splits {text!r}: empty or repeated split name {current!r}")
            safepath.check_component(current, "split name")
            value = value.strip()
            if re.fullmatch(r"\d*\.\d*", value) and value != ".":  # a fraction has a dot: 0.8, 1.0
                out[current] = float(value)
            else:
                out[current] = parse_episode_list(value)
        else:
            if current is None or not isinstance(out[current], list):
                raise ConfigError(f"--splits {text!r}: {part!r} does not belong to an episode-list split")
            lst = out[current]
            assert isinstance(lst, list)  # narrowed above; for mypy
            lst.extend(parse_episode_list(part))
    if not out:
        raise ConfigError(f"--splits {text!r}: no splits given (e.g. train=0.8,val=0.2)")
    return out


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SizeLimits(_Base):
    """Output file size limits; ``None`` takes the first input's values (LeRobot's behaviour)."""

    data_files_size_in_mb: float | None = Field(
        default=None, gt=0, description="data parquet rollover size (MB)"
    )
    video_files_size_in_mb: float | None = Field(default=None, gt=0, description="mp4 rollover size (MB)")
    chunks_size: int | None = Field(default=None, gt=0, description="files per chunk directory")


class MergeRequest(_Base):
    """Merge N datasets into one new dataset (stream copy of videos, no frame re-read)."""

    out: Path = Field(description="output dataset root (must not exist)")
    roots: list[Path] = Field(min_length=1, description="input dataset roots, in output order")
    repo_id: str | None = Field(default=None, description="label recorded in the log/report only")
    rename: dict[str, str] = Field(
        default_factory=dict, description="feature renames old -> new, applied to every input"
    )
    limits: SizeLimits = Field(default_factory=SizeLimits, description="output file size limits")

    @field_validator("rename")
    @classmethod
    def _safe_renames(cls, v: dict[str, str]) -> dict[str, str]:
        safepath.check_names(v.values(), "new feature name")
        return v

    @model_validator(mode="after")
    def _distinct(self) -> MergeRequest:
        safepath.check_disjoint(self.out, self.roots, "merge output")
        return self


class EditRequest(_Base):
    """One single-dataset edit: delete episodes, split, remove/rename features or set tasks."""

    operation: EditOperation = Field(description="what to do")
    root: Path = Field(description="input dataset root (never modified unless in_place)")
    out: Path | None = Field(
        default=None, description="output root (split: directory receiving one root per split)"
    )
    in_place: bool = Field(default=False, description="replace root (a backup is kept until success)")
    episodes: list[int] | None = Field(
        default=None, description="episodes to delete / to retask (None = all for set-task)"
    )
    splits: dict[str, float | list[int]] | None = Field(
        default=None, description="split name -> fraction or episodes"
    )
    features: list[str] = Field(default_factory=list, description="features to remove")
    rename: dict[str, str] = Field(default_factory=dict, description="feature renames old -> new")
    task: str | None = Field(default=None, description="new task string (set-task)")
    limits: SizeLimits = Field(default_factory=SizeLimits, description="output file size limits")

    @field_validator("episodes")
    @classmethod
    def _episodes(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(e < 0 for e in v):
            raise ValueError(f"episode indices must be >= 0, got {v}")
        return v

    @field_validator("splits")
    @classmethod
    def _safe_split_names(cls, v: dict[str, float | list[int]] | None) -> dict[str, float | list[int]] | None:
        safepath.check_names(v or {}, "split name")
        return v

    @field_validator("rename")
    @classmethod
    def _safe_renames(cls, v: dict[str, str]) -> dict[str, str]:
        safepath.check_names(v.values(), "new feature name")
        return v

    @model_validator(mode="after")
    def _outputs_apart(self) -> EditRequest:
        if self.out is None:
            return self
        if self.operation == "split":
            # <out>/<name> per split: the folder may hold the input beside the splits, never inside them
            for name in self.splits or {}:
                safepath.check_disjoint(self.out / name, [self.root], f"split output {name!r}")
            if Path(self.out).resolve().is_relative_to(Path(self.root).resolve()):
                raise UnsafePathError(f"--out-dir {self.out} is inside the input {self.root}")
        else:
            safepath.check_disjoint(self.out, [self.root], f"{self.operation} output")
        return self

    @model_validator(mode="after")
    def _check(self) -> EditRequest:
        op = self.operation
        if self.in_place and op == "split":
            raise ValueError("split writes new roots; --in-place does not apply")
        if not self.in_place and self.out is None:
            raise ValueError(f"{op}: give --out (or --out-dir for split), or --in-place")
        if self.in_place and self.out is not None:
            raise ValueError("give either --out or --in-place, not both")
        if op == "delete-episodes" and not self.episodes:
            raise ValueError("delete-episodes needs --episodes")
        if op == "split" and not self.splits:
            raise ValueError("split needs --splits (e.g. train=0.8,val=0.2)")
        if op == "remove-feature" and not self.features:
            raise ValueError("remove-feature needs --feature")
        if op == "rename-feature" and not self.rename:
            raise ValueError("rename-feature needs --rename old=new")
        if op == "set-task" and not self.task:
            raise ValueError("set-task needs --task")
        return self


class OutputSummary(_Base):
    """One dataset written by an edit."""

    root: Path
    episodes: int
    frames: int
    tasks: int
    data_files: int
    video_files: int
    bytes: int
    stats_source: Literal["sketches", "episode-stats", "none"] = Field(
        description="sketches: exact merge of robopipe sketches; episode-stats: LeRobot count-weighted aggregation"
    )


class EditReport(_Base):
    """What a merge/edit produced."""

    operation: str
    inputs: list[Path]
    outputs: list[OutputSummary]
    seconds: float
    reencoded_spans: int = Field(
        default=0, description="video spans re-encoded because they did not start on a keyframe"
    )
