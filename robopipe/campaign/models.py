"""The campaign catalogue (YAML) and the typed outcome of every dataset."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robopipe.errors import ConfigError, DatasetNotFoundError
from robopipe.publish.models import check_repo_id
from robopipe.publish.versioning import check_version_tag

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_CATALOG_BYTES = 1 << 20
MAX_DATASETS = 10_000

Status = Literal["published", "invalid", "failed", "skipped"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CatalogEntry(_Model):
    """One external dataset to port: where it is, how to read and map it, where it is published."""

    name: str = Field(description="short name: work folder and ledger key (letters, digits, . _ -)")
    format: str = Field(description="lerobot-v2.1, or a source reader kind: rlds, hdf5, folder, hook, …")
    source: str = Field(description="source path (relative paths: to the catalogue file)")
    mapping: str | None = Field(default=None, description="built-in mapping name or YAML file; None = infer")
    fps: int | None = Field(default=None, gt=0, description="output fps (overrides the mapping)")
    robot_type: str | None = Field(default=None, description="robot type (overrides the mapping)")
    split: str | None = Field(default=None, description="RLDS split(s)")
    options: dict[str, Any] = Field(default_factory=dict, description="format-specific reader options")
    repo_id: str = Field(description="ORG/NAME the result is published as")
    tag: str = Field(default="v1.0.0", description="version tag of the published snapshot")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v) or v in (".", ".."):
            raise ValueError(f"expected letters, digits, '.', '_' or '-' (at most 100), got {v!r}")
        return v

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str) -> str:
        return check_repo_id(v)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str) -> str:
        return check_version_tag(v)

    def fingerprint(self) -> str:
        """Changes when anything that shapes the result changes (a changed entry is ported again)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[
            :16
        ]


class Catalog(_Model):
    """A campaign: datasets and where their state, outputs and published snapshots go."""

    name: str = Field(description="campaign name")
    base_dir: Path = Field(description="relative source paths are resolved here (the catalogue's folder)")
    state_dir: Path = Field(description="ledger and work folders (default: <catalogue>.state next to it)")
    registry: Path = Field(description="local registry the datasets are published to")
    gx: bool = Field(default=False, description="run the Great Expectations suites in the validation gate")
    codec: Literal["libsvtav1", "h264", "hevc"] = Field(default="libsvtav1", description="video codec")
    max_concurrent: int = Field(default=2, ge=1, le=64, description="datasets ported at once")
    datasets: list[CatalogEntry] = Field(description="the datasets to port")

    @field_validator("datasets")
    @classmethod
    def _unique(cls, v: list[CatalogEntry]) -> list[CatalogEntry]:
        names = [e.name for e in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"dataset names must be unique, repeated: {dup}")
        if len(v) > MAX_DATASETS:
            raise ValueError(f"at most {MAX_DATASETS} datasets per catalogue, got {len(v)}")
        return v

    def source_path(self, entry: CatalogEntry) -> str:
        if "://" in entry.source or (entry.format == "hook" and ":" in entry.source):
            return entry.source
        p = Path(entry.source)
        return str(p if p.is_absolute() else self.base_dir / p)

    def work_dir(self, entry: CatalogEntry) -> Path:
        return self.state_dir / "work" / entry.name


def load_catalog(path: Path, **overrides: Any) -> Catalog:
    """Read a catalogue YAML; ``state_dir``/``registry`` default to siblings of the file.

    Raises DatasetNotFoundError (no such file) or ConfigError (unreadable, too large, invalid), one line each.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: no such catalogue file")
    if path.stat().st_size > MAX_CATALOG_BYTES:
        raise ConfigError(f"{path}: catalogue larger than {MAX_CATALOG_BYTES} bytes")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: unreadable catalogue ({' '.join(str(exc).split())})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'datasets', got {type(raw).__name__}")
    base = path.resolve().parent
    state = Path(raw.pop("state_dir", None) or path.with_name(path.stem + ".state"))
    data = {
        "name": raw.pop("name", path.stem),
        "base_dir": base,
        "state_dir": state if state.is_absolute() else base / state,
        **raw,
        **{k: v for k, v in overrides.items() if v is not None},
    }
    data.setdefault("registry", Path(data["state_dir"]) / "registry")
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from exc


class DatasetOutcome(_Model):
    """What happened to one dataset of a campaign (a row of the summary table)."""

    name: str
    status: Status
    repo_id: str
    tag: str
    episodes: int | None = None
    frames: int | None = None
    seconds: float = 0.0
    findings: list[str] = Field(default_factory=list, description="validation errors (code: message)")
    error: str | None = Field(default=None, description="why the port failed (one line)")
    commit: str | None = Field(default=None, description="commit of the published snapshot")
    fingerprint: str = ""


class CampaignReport(_Model):
    """Every dataset's outcome, in catalogue order."""

    name: str
    datasets: list[DatasetOutcome]

    def count(self, status: Status) -> int:
        return sum(d.status == status for d in self.datasets)

    @property
    def ok(self) -> bool:
        return all(d.status in ("published", "skipped") for d in self.datasets)
