"""Artifacts of the flows: run tables, validation/stats summaries, links, progress.

Keys hold only lowercase letters, digits and dashes (Prefect's rule); :func:`artifact_key` makes one from
any name. Cells are plain JSON values; reports are summarised, never dumped with arrays.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from robopipe.publish import PublishResult
    from robopipe.stats.recompute import StatsReport
    from robopipe.validate import ValidationReport


def artifact_key(*parts: str) -> str:
    """``artifact_key("Validate", "my_ds")`` -> ``"validate-my-ds"``."""
    text = "-".join(p for p in parts if p)
    key = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return key[:100] or "robopipe"


def run_table(key: str, rows: list[dict[str, Any]], description: str) -> None:
    """The per-run table (one row per episode / shard / stage)."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=[{k: _cell(v) for k, v in r.items()} for r in rows], key=key, description=description
    )


def validation_summary(report: ValidationReport, key: str) -> None:
    """Markdown summary of a validation report, plus a link to the GX Data Docs when written."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    ds = report.dataset
    lines = [
        f"# Validation of `{report.root}`: {'VALID' if report.valid else 'INVALID'}",
        "",
        f"episodes {ds.total_episodes}, frames {ds.total_frames}, fps {ds.fps}, "
        f"frames checked {report.frames_checked}",
        "",
        "| severity | findings |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in report.counts.items()],
    ]
    findings = report.findings[:20]
    if findings:
        lines += ["", "| severity | code | where | message |", "|---|---|---|---|"]
        for f in findings:
            where = " ".join(
                str(x) for x in (f.file, f.feature, f"ep {f.episode}" if f.episode is not None else None) if x
            )
            lines.append(f"| {f.severity.value} | {f.code} | {where} | {f.message.replace('|', '/')} |")
    create_markdown_artifact(markdown="\n".join(lines), key=key, description="validation summary")
    docs = report.gx.data_docs if report.gx else None
    if docs:
        create_link_artifact(
            link=Path(docs).resolve().as_uri(), link_text="GX Data Docs", key=f"{key}-data-docs"
        )


def stats_summary(report: StatsReport, key: str) -> None:
    """Markdown summary of a stats recompute."""
    from prefect.artifacts import create_markdown_artifact

    md = (
        f"# Statistics of `{report.root}`\n\n"
        f"episodes {report.episodes}, frames {report.frames}, data files {report.data_files}, "
        f"video files {report.video_files}, {report.seconds} s on {report.executor}\n\n"
        f"recomputed: {', '.join(report.features)}\n\nkept: {', '.join(report.kept_features) or '-'}\n"
    )
    create_markdown_artifact(markdown=md, key=key, description="stats summary")


def publish_link(result: PublishResult, key: str) -> None:
    """A link to the published repository / tag."""
    from prefect.artifacts import create_link_artifact

    location = result.location
    link = location if "://" in location else Path(location).resolve().as_uri()
    tags = ", ".join(result.tags)
    create_link_artifact(
        link=link,
        link_text=f"{result.repo_id} @ {tags or result.commit}",
        key=key,
        description="published",
    )


class Progress:
    """A progress artifact updated in place (0..100 %)."""

    def __init__(self, key: str, total: int, description: str) -> None:
        from prefect.artifacts import create_progress_artifact

        self.total = max(total, 1)
        self.done = 0
        self.id: Any = create_progress_artifact(progress=0.0, key=key, description=description)

    def advance(self, n: int = 1) -> None:
        from prefect.artifacts import update_progress_artifact

        self.done += n
        update_progress_artifact(artifact_id=self.id, progress=min(100.0, 100.0 * self.done / self.total))


def _cell(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)
