"""Findings, the rule catalogue, the validation report and the request model (core layer).

Every rule reports :class:`Finding` values into a :class:`FindingCollector`; nothing stops at the first
problem. The collector caps the number of findings kept per code (a broken million-row file must not
produce a million findings) and counts what it dropped, so the report stays readable and complete.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

log = logging.getLogger(__name__)


class Severity(StrEnum):
    """How bad a finding is: only ``error`` makes a dataset invalid."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    """One entry of the rule catalogue: stable code, short name, default severity and the usual fix."""

    code: str
    name: str
    severity: Severity
    fix: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        # meta/info.json
        Rule("RP101", "info-schema", _E, "edit meta/info.json so it matches the LeRobot v3.0 schema"),
        Rule("RP102", "info-version", _E, "convert the dataset: robopipe convert v21 ROOT --out NEW_ROOT"),
        Rule(
            "RP103", "info-total-episodes", _E, "set info.json total_episodes to the number of episodes rows"
        ),
        Rule("RP104", "info-total-frames", _E, "set info.json total_frames to the number of data rows"),
        Rule(
            "RP105",
            "info-total-tasks",
            _E,
            "set info.json total_tasks to the number of rows of meta/tasks.parquet",
        ),
        Rule(
            "RP106",
            "info-path-template",
            _E,
            "use data_path/video_path templates with {chunk_index}, {file_index} (and {video_key})",
        ),
        Rule(
            "RP107",
            "info-default-features",
            _E,
            "declare timestamp float32, frame_index/episode_index/index/task_index int64, shape [1]",
        ),
        Rule("RP108", "info-feature-names", _W, "give camera features names ['height', 'width', 'channels']"),
        Rule(
            "RP109",
            "path-escape",
            _E,
            "keep every path inside the root: relative templates without '..', bounded {chunk_index:03d}-style "
            "specs, safe feature keys, no symlinks leaving the dataset",
        ),
        Rule(
            "RP110",
            "info-v3-additions",
            _E,
            "fix the feature's encoder/depth settings, language feature names or tools as LeRobot 0.6.1 writes them",
        ),
        # meta/episodes, meta/tasks
        Rule(
            "RP201",
            "episodes-unreadable",
            _E,
            "rewrite meta/episodes from the data files (robopipe stats / re-export)",
        ),
        Rule("RP202", "episodes-columns", _E, "write every column LeRobot reads (see the format note §4)"),
        Rule(
            "RP203", "episodes-order", _E, "sort the episodes rows by episode_index; row i must be episode i"
        ),
        Rule("RP204", "episodes-ranges", _E, "make dataset_from/to_index contiguous and to - from == length"),
        Rule(
            "RP205", "tasks-unreadable", _E, "rewrite meta/tasks.parquet with pandas (index = task strings)"
        ),
        Rule(
            "RP206",
            "tasks-format",
            _E,
            "write tasks via pandas: index = task string, column task_index = row position",
        ),
        Rule(
            "RP207",
            "episode-tasks-unknown",
            _E,
            "every task of an episode must be a row of meta/tasks.parquet",
        ),
        # the writer's state (robopipe.validate.rules_writer)
        Rule("RP211", "writer-pending", _E, "stop the writer if it still runs, then: robopipe repair ROOT"),
        Rule(
            "RP212",
            "writer-active",
            _W,
            "wait for the writer (named in the message) to finish, then validate",
        ),
        Rule(
            "RP213",
            "writer-conflict",
            _W,
            "episodes in .staging-conflicts/ are not part of the dataset; inspect and delete them",
        ),
        # data/*.parquet
        Rule(
            "RP301",
            "data-unreadable",
            _E,
            "re-export the file; an interrupted write leaves no parquet footer",
        ),
        Rule("RP302", "data-file-missing", _E, "restore the data file or drop the episodes that point at it"),
        Rule(
            "RP303",
            "data-file-unreferenced",
            _W,
            "delete the stray file or add its episodes to meta/episodes",
        ),
        Rule("RP304", "data-columns", _E, "data columns must equal the non-video features exactly"),
        Rule("RP305", "data-dtype", _E, "write the column with the declared dtype and shape"),
        Rule("RP306", "data-index", _E, "rewrite `index` as the global row position (files in sorted order)"),
        Rule(
            "RP307",
            "data-episode-rows",
            _E,
            "keep each episode contiguous in the data file its metadata names",
        ),
        Rule("RP308", "data-frame-index", _E, "frame_index must run 0..length-1 inside each episode"),
        Rule("RP309", "data-timestamp", _E, "write timestamp = frame_index / fps"),
        Rule("RP310", "data-task-index", _E, "task_index must be a row of meta/tasks.parquet"),
        Rule("RP311", "data-non-finite", _E, "drop or repair the frames with NaN/Inf values"),
        Rule("RP312", "data-bounds", _E, "check the robot calibration or clip the values to the limits"),
        Rule(
            "RP313",
            "data-language",
            _E,
            "rewrite the language rows as LeRobot 0.6.1's annotation writer does",
        ),
        # videos
        Rule("RP401", "video-folder-missing", _E, "restore videos/<key>/ or remove the camera feature"),
        Rule("RP402", "video-file-missing", _E, "restore the mp4 the episodes metadata points at"),
        Rule(
            "RP403", "video-unreadable", _E, "re-encode the episode's video; the file is truncated or corrupt"
        ),
        Rule(
            "RP404",
            "video-frame-count",
            _E,
            "episode length and video frames must agree; re-encode the episode",
        ),
        Rule(
            "RP405",
            "video-timestamps",
            _E,
            "pts must be k/fps and from/to_timestamp must match the episode length",
        ),
        Rule(
            "RP406",
            "video-codec",
            _E,
            "update features[key].info or re-encode with the declared codec/resolution",
        ),
        Rule("RP407", "video-frozen", _W, "check the camera: consecutive frames are identical"),
        Rule(
            "RP408", "video-extra-frames", _W, "frames not covered by any episode; re-export the video file"
        ),
        # meta/stats.json and per-episode stats
        Rule("RP501", "stats-missing", _W, "compute stats: robopipe stats ROOT"),
        Rule("RP502", "stats-unreadable", _E, "recompute stats: robopipe stats ROOT"),
        Rule("RP503", "stats-feature", _E, "recompute stats: robopipe stats ROOT"),
        Rule("RP504", "stats-shape", _E, "recompute stats: robopipe stats ROOT"),
        Rule("RP505", "stats-global-vs-episodes", _E, "recompute stats.json from the per-episode stats"),
        Rule("RP506", "stats-episode-vs-data", _E, "recompute the per-episode stats from the data"),
        Rule("RP507", "stats-non-finite", _E, "recompute stats after repairing NaN/Inf values"),
        # Great Expectations
        Rule("RP601", "gx-expectation", _E, "see the Data Docs page of the file for the failing values"),
        Rule(
            "RP602",
            "gx-user-expectation",
            _E,
            "see the Data Docs page; the expectation comes from your suite",
        ),
        Rule("RP603", "gx-run-error", _E, "fix the suite JSON or the column it names"),
    ]
}


class Finding(BaseModel):
    """One problem (or note) found in a dataset, with where it is, what was expected and how to fix it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity = Field(description="error | warning | info; only errors make the dataset invalid")
    code: str = Field(description="stable rule code, e.g. RP104")
    rule: str = Field(description="rule name, e.g. info-total-frames")
    message: str = Field(description="what is wrong, in one sentence")
    file: str | None = Field(default=None, description="file relative to the dataset root")
    episode: int | None = Field(default=None, description="episode index")
    frame: int | None = Field(
        default=None, description="frame_index inside the episode (first offending one)"
    )
    feature: str | None = Field(default=None, description="feature key (or flattened column)")
    expected: str | None = Field(default=None, description="expected value")
    actual: str | None = Field(default=None, description="actual value")
    fix: str | None = Field(default=None, description="how to fix it")
    count: int = Field(default=1, ge=1, description="how many rows/frames/items this finding stands for")

    def where(self) -> str:
        """Compact location, e.g. ``data/chunk-000/file-000.parquet ep 3 frame 7 [action]``."""
        parts = [self.file or ""]
        if self.episode is not None:
            parts.append(f"ep {self.episode}")
        if self.frame is not None:
            parts.append(f"frame {self.frame}")
        if self.feature:
            parts.append(f"[{self.feature}]")
        return " ".join(p for p in parts if p) or "dataset"


class DatasetSummary(BaseModel):
    """The dataset facts the report header shows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    codebase_version: str | None = None
    robot_type: str | None = None
    fps: int | None = None
    total_episodes: int | None = None
    total_frames: int | None = None
    total_tasks: int | None = None
    features: dict[str, dict[str, Any]] = Field(default_factory=dict, description="key -> {dtype, shape}")
    video_keys: list[str] = Field(default_factory=list)
    data_files: int = 0
    video_files: int = 0


class GxSummary(BaseModel):
    """What the Great Expectations part did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    suites: list[str] = Field(default_factory=list, description="suite names run on every data file")
    files: int = Field(default=0, description="data files validated")
    evaluated: int = Field(default=0, description="expectation evaluations (all files)")
    failed: int = Field(default=0, description="failed expectation evaluations")
    data_docs: str | None = Field(default=None, description="path of the Data Docs index.html")
    runner: str = Field(
        default="serial", description="the executor's name: serial, threads(n), dask:ADDRESS, prefect"
    )


class ValidateRequest(BaseModel):
    """Parameters of one validation run; the CLI and the Prefect flow both take this model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: str = Field(description="dataset root (folder containing meta/, data/, videos/)")
    full_decode: bool = Field(
        default=False, description="decode every video frame instead of reading container metadata"
    )
    gx: bool = Field(default=True, description="run the Great Expectations suites on every data file")
    suites: list[str] = Field(default_factory=list, description="extra GX ExpectationSuite JSON files")
    bounds: str | None = Field(
        default=None, description="YAML {feature: {min: [...], max: [...]}} value limits"
    )
    report_dir: str | None = Field(default=None, description="write GX Data Docs (and report.json) here")
    tolerance_s: float = Field(default=1e-4, gt=0, description="timestamp tolerance in seconds (LeRobot's)")
    frozen_frames: int = Field(
        default=10, ge=2, description="identical consecutive frames that count as frozen"
    )
    frozen_max_diff: float = Field(
        default=0.5, ge=0, description="mean absolute pixel difference under which two frames are 'identical'"
    )
    max_findings_per_code: int = Field(
        default=100, ge=1, description="findings kept per code; the rest are counted"
    )


class ValidationReport(BaseModel):
    """Every finding of one run plus what was checked; ``valid`` is true when there is no error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: str
    dataset: DatasetSummary
    findings: list[Finding] = Field(default_factory=list)
    suppressed: dict[str, int] = Field(
        default_factory=dict, description="code -> findings dropped over the cap"
    )
    rules_run: list[str] = Field(default_factory=list, description="rule groups that ran")
    frames_checked: int = 0
    video_frames_checked: int = 0
    gx: GxSummary | None = None
    duration_s: float = 0.0
    request: ValidateRequest | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        """Accept the JSON this model dumps (it includes the computed ``counts`` and ``valid``)."""
        if isinstance(data, dict) and ("counts" in data or "valid" in data):
            data = {k: v for k, v in data.items() if k not in ("counts", "valid")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity, including suppressed ones (by their rule's severity)."""
        c: Counter[str] = Counter({s.value: 0 for s in Severity})
        for f in self.findings:
            c[f.severity.value] += 1
        for code, n in self.suppressed.items():
            c[RULES[code].severity.value if code in RULES else "error"] += n
        return dict(c)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def valid(self) -> bool:
        """True when no finding is an error."""
        return self.counts[Severity.ERROR.value] == 0

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


class FindingCollector:
    """Mutable sink the rules write into; turned into a frozen report at the end."""

    def __init__(self, max_per_code: int = 100) -> None:
        self.findings: list[Finding] = []
        self.suppressed: Counter[str] = Counter()
        self._per_code: Counter[str] = Counter()
        self.max_per_code = max_per_code

    def add(
        self,
        code: str,
        message: str,
        *,
        severity: Severity | None = None,
        rule: str | None = None,
        fix: str | None = None,
        file: str | None = None,
        episode: int | None = None,
        frame: int | None = None,
        feature: str | None = None,
        expected: Any = None,
        actual: Any = None,
        count: int = 1,
    ) -> None:
        """Record one finding; ``severity``/``rule``/``fix`` default to the catalogue entry of ``code``."""
        spec = RULES[code]
        if self._per_code[code] >= self.max_per_code:
            self.suppressed[code] += 1
            return
        self._per_code[code] += 1
        self.findings.append(
            Finding(
                severity=severity or spec.severity,
                code=code,
                rule=rule or spec.name,
                message=message,
                file=file,
                episode=None if episode is None else int(episode),
                frame=None if frame is None else int(frame),
                feature=feature,
                expected=None if expected is None else _text(expected),
                actual=None if actual is None else _text(actual),
                fix=fix if fix is not None else spec.fix,
                count=max(1, int(count)),
            )
        )

    def has(self, code: str) -> bool:
        return self._per_code[code] > 0 or self.suppressed[code] > 0


def _text(value: Any, limit: int = 300) -> str:
    s = value if isinstance(value, str) else repr(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."
