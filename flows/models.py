"""Request and result models of the pipelines, composed of the core's own models.

The Prefect UI renders the requests as forms and the server validates them before a run starts; the CLI
builds the same models. The results are what the pipelines pass between flows and return.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from recording import RecordRequest
from robopipe.campaign.models import CampaignReport
from robopipe.convert.engine import ConversionReport, ConvertRequest
from robopipe.execution import Execution
from robopipe.publish.models import PublishResult, check_repo_id
from robopipe.publish.versioning import check_version_tag
from robopipe.quality.models import EpisodeQuality, QualityReport
from robopipe.stats.recompute import StatsReport

DATA_DIR_ENV = "ROBOPIPE_DATA_DIR"


def _absolute(path: Path) -> Path:
    """A relative path resolved against ``$ROBOPIPE_DATA_DIR``, else the run's working directory.

    Requests are validated when a run starts (CLI or flow run), so every stage (and every Dask worker,
    whatever its working directory) sees the same absolute path.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    base = os.environ.get(DATA_DIR_ENV)
    return (Path(base).expanduser() if base else Path.cwd()).absolute() / path


RunPath = Annotated[Path, AfterValidator(_absolute)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PublishStep(_Model):
    """Where a pipeline publishes its result (the dataset root is filled in by the pipeline)."""

    repo_id: str = Field(description="ORG/NAME of the dataset repository")
    tag: str | None = Field(
        default=None, description="version tag; default: the next patch version (v0.1.0 first)"
    )
    target: Literal["hub", "local"] | None = Field(
        default=None, description="'hub' or 'local'; default: hub when a Hub token is configured, else local"
    )
    registry: RunPath | None = Field(default=None, description="local registry directory (target 'local')")
    endpoint: str | None = Field(
        default=None, description="Hub endpoint URL (default $HF_ENDPOINT or huggingface.co)"
    )
    private: bool = Field(default=False, description="create the Hub repository as private")
    secret_block: str | None = Field(
        default=None, description="name of a Prefect Secret block holding the Hub token (else HF_TOKEN)"
    )

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str) -> str:
        return check_repo_id(v)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str | None) -> str | None:
        return None if v is None else check_version_tag(v)


class IngestRequest(_Model):
    """Record a session, validate it, compute stats, merge it into the master dataset, publish a new tag.

    Sessions are kept under ``sessions_dir``; a session is marked merged only once the new master is in
    place, so a re-run (with or without ``record``) merges every session left pending by a failed run.
    """

    record: RecordRequest | None = Field(
        default=None, description="the recording session; None: only merge sessions left pending"
    )
    master: RunPath = Field(description="root of the master dataset the sessions are merged into")
    sessions_dir: RunPath | None = Field(
        default=None, description="where sessions are recorded (default <master>.sessions)"
    )
    gx: bool = Field(default=True, description="run the Great Expectations suites during validation")
    images: bool = Field(default=True, description="recompute image/video statistics")
    report_dir: RunPath | None = Field(
        default=None, description="write validation reports (HTML, Data Docs) here"
    )
    publish: PublishStep | None = Field(
        default=None, description="publish the new master (None: do not publish)"
    )
    execution: Execution = Field(default_factory=Execution, description="Dask cluster for the stages")
    quality: bool = Field(default=True, description="quarantine episodes with bad quality signals")
    quarantine_level: Literal["error", "warning"] = Field(
        default="error", description="quality findings at this level or worse quarantine an episode"
    )
    quality_config: RunPath | None = Field(default=None, description="YAML of quality thresholds")

    def sessions(self) -> Path:
        return self.sessions_dir or self.master.with_name(self.master.name + ".sessions")


class PortRequest(_Model):
    """Convert a source (RLDS, HDF5, folder) in parallel shards, validate them, merge, compute stats, publish.

    Finished shards carry a completion marker, so a re-run after an interruption skips them.
    """

    convert: ConvertRequest = Field(description="the conversion (source, output root, mapping, shards)")
    gx: bool = Field(default=True, description="run the Great Expectations suites on every shard")
    images: bool = Field(default=True, description="recompute image/video statistics of the merged output")
    report_dir: RunPath | None = Field(
        default=None, description="write the validation report of the output here"
    )
    publish: PublishStep | None = Field(default=None, description="publish the output (None: do not publish)")
    execution: Execution = Field(default_factory=Execution, description="Dask cluster for the shards")


class CheckRequest(_Model):
    """Validate a dataset and recompute its statistics (the nightly check of a dataset root)."""

    root: RunPath = Field(description="dataset root")
    gx: bool = Field(default=True, description="run the Great Expectations suites")
    images: bool = Field(default=True, description="recompute image/video statistics")
    report_dir: RunPath | None = Field(default=None, description="write the HTML report and Data Docs here")
    execution: Execution = Field(default_factory=Execution, description="Dask cluster for the stats")


# Results of the pipelines: typed summaries passed between flows and returned to the CLI and the dashboard.
# The CLI's ``--json`` prints ``model_dump(mode="json")``; optional parts a run did not reach are left out
# (not printed as null), as the pipelines always did.


class _Summary(_Model):
    """A result whose ``None`` top-level fields are absent from its JSON (stages the run did not reach)."""

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}


class StatsTotals(_Model):
    """The totals of a stats recompute a pipeline summary keeps (the full report is the stats flow's)."""

    episodes: int
    frames: int
    features: list[str] = Field(description="features whose stats were recomputed")

    @classmethod
    def of(cls, report: StatsReport) -> StatsTotals:
        return cls(episodes=report.episodes, frames=report.frames, features=report.features)


class PortSummary(_Summary):
    """What ``port`` did: the conversion, the stats of the merged output, the final check, the publish."""

    out: Path
    conversion: ConversionReport
    stats: StatsTotals
    valid: bool | None = Field(default=None, description="the merged output's validation (with report_dir)")
    published: PublishResult | None = None


class IngestRow(_Model):
    """One session of an ingest run: checked, cleaned (episodes dropped) or skipped, and why."""

    session: Path
    root: Path = Field(description="the dataset merged for this session (the session or a cleaned copy)")
    status: Literal["ok", "cleaned", "skipped"]
    episodes: int | None
    frames: int | None
    dropped_episodes: str = Field(default="", description="episodes dropped for validation errors, '1,4'")
    errors: int = Field(description="validation errors")
    note: str = ""

    def dropped(self) -> list[int]:
        return [int(x) for x in self.dropped_episodes.split(",") if x]


class QuarantinedEpisode(_Model):
    """One episode the quality stage set aside (in the session's numbering)."""

    session: Path
    episode: int
    level: str | None
    score: float
    reasons: str
    quarantine: Path = Field(description="the dataset holding the session's quarantined episodes")


class QualityGate(_Model):
    """The quality stage's decision on one session."""

    root: Path | None = Field(
        description="dataset to merge (the session or its clean copy); None: every episode is bad"
    )
    quarantined: dict[int, EpisodeQuality] = Field(description="suspects at the quarantine level, by episode")
    report: QualityReport


class IngestSummary(_Summary):
    """What ``ingest`` did: one row per pending session, the new master's size, the publish, the quarantine."""

    sessions: list[IngestRow]
    master: Path
    master_episodes: int | None = None
    master_frames: int | None = None
    published: PublishResult | None = None
    quarantined: list[QuarantinedEpisode] | None = Field(default=None, description="None: quality off")


class CheckSummary(_Model):
    """What ``check`` did: the validation verdict and the stats recompute."""

    valid: bool
    counts: dict[str, int] = Field(description="findings per severity")
    stats: StatsReport | None


class DemoResult(_Model):
    """What ``robopipe demo`` ran: the ingest and port pipelines and the campaign."""

    out: Path
    ingest: IngestSummary
    port: PortSummary | None = None
    port_skipped: str | None = Field(default=None, description="why the port part did not run")
    campaign: CampaignReport | None = None
