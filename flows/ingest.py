"""Pipeline ``ingest``: record → validate → quality → stats → merge into the master dataset → publish a tag.

Sessions are recorded under ``<master>.sessions/``. Every session not yet merged (the new one and any
left pending by an earlier failed run) is validated; a session with errors in given episodes has those
episodes dropped (reported), a session broken as a whole is skipped (reported) and the rest go on.
Then the quality stage quarantines episodes with bad signals (frozen/black camera, duplicates, ...) into
``.quarantine/<session>`` (listed in the ``quarantine-<master>`` artifact) so they never reach the master.
A session gets its ``.merged`` marker only after the new master is in place, so a re-run resumes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows import artifacts
from flows.edit import edit_flow
from flows.merge import merge_flow
from flows.models import IngestRequest, IngestRow, IngestSummary, QuarantinedEpisode
from flows.publish_step import publish_step
from flows.quality import quarantine_session, reason_text
from flows.record import record_flow
from flows.runtime import dask_cluster, task_runner
from flows.stats import stats_flow
from flows.validate import validate_flow
from robopipe.edit import EditReport, EditRequest, MergeRequest
from robopipe.ingest import mark_merged, pending_sessions, repair_master
from robopipe.quality.models import QualityRequest
from robopipe.stats.recompute import StatsRequest
from robopipe.validate import ValidateRequest
from tasks.dataset import promote_master_task


@flow(name="ingest")
def ingest_flow(request: IngestRequest) -> IngestSummary:
    """Run the ingest pipeline; returns its summary (sessions, master size, published tag, quarantine)."""
    log = get_run_logger()
    sessions = request.sessions()
    sessions.mkdir(parents=True, exist_ok=True)
    repair_master(request.master)
    if request.record is not None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        root = request.record.root or sessions / f"session-{stamp}"
        record_flow(request.record.model_copy(update={"root": root, "resume": False}))
    rows: list[IngestRow] = []
    quarantined: list[QuarantinedEpisode] = []
    merged: EditReport | None = None
    with dask_cluster(request.execution) as address:
        runner = task_runner(address, request.execution.workers)
        for session in pending_sessions(sessions):
            rows.append(_check_session(session, request, runner, quarantined))
        good = [r for r in rows if r.status != "skipped"]
        if good:
            inputs = ([request.master] if request.master.exists() else []) + [r.root for r in good]
            staged = request.master.with_name(request.master.name + ".next")
            if staged.exists():
                import shutil

                shutil.rmtree(staged)  # left by an interrupted merge; never the master itself
            merged = merge_flow(MergeRequest(out=staged, roots=inputs))
            promote_master_task(staged, request.master)
            for s in {r.session for r in good}:
                mark_merged(s)
    published = (
        publish_step(request.master, request.publish) if good and request.publish is not None else None
    )
    summary = IngestSummary(
        sessions=rows,
        master=request.master,
        master_episodes=merged.outputs[0].episodes if merged else None,
        master_frames=merged.outputs[0].frames if merged else None,
        published=published,
        quarantined=quarantined if request.quality else None,
    )
    artifacts.run_table(
        artifacts.artifact_key("ingest", request.master.name),
        [r.model_dump(mode="json", exclude={"root"}) for r in rows],
        f"ingest into {request.master}: one row per session",
    )
    if request.quality:
        artifacts.run_table(
            artifacts.artifact_key("quarantine", request.master.name),
            [q.model_dump(mode="json") for q in quarantined],
            f"episodes quarantined by quality (level {request.quarantine_level} or worse) before merging "
            f"into {request.master}",
        )
    log.info("ingest: %d sessions merged, %d skipped", len(good), len(rows) - len(good))
    return summary


def _check_session(
    session: Path, request: IngestRequest, runner: Any, quarantined: list[QuarantinedEpisode]
) -> IngestRow:
    """Validate one session; drop episodes with errors (into ``.clean/<session>``); quarantine episodes
    with bad quality signals (into ``.quarantine/<session>``, listed in ``quarantined``); stats on the rest."""
    report_dir = str(request.report_dir / session.name) if request.report_dir else None
    report = validate_flow(ValidateRequest(root=str(session), gx=request.gx, report_dir=report_dir))
    ds = report.dataset
    row = IngestRow(
        session=session,
        root=session,
        status="ok",
        episodes=ds.total_episodes,
        frames=ds.total_frames,
        errors=report.counts["error"],
    )
    if not report.valid:
        errors = report.errors()
        bad = sorted({f.episode for f in errors if f.episode is not None})
        whole = [f for f in errors if f.episode is None]
        total = ds.total_episodes or 0
        if whole or not bad or len(bad) >= total:
            note = "; ".join(f"{f.code}: {f.message}" for f in (whole or errors)[:3])
            return row.model_copy(update={"status": "skipped", "note": note})
        clean = session.parent / ".clean" / session.name  # hidden: never listed as a session
        if clean.exists():
            import shutil

            shutil.rmtree(clean)
        edit_flow(EditRequest(operation="delete-episodes", root=session, out=clean, episodes=bad))
        row = row.model_copy(
            update={
                "root": clean,
                "status": "cleaned",
                "dropped_episodes": ",".join(map(str, bad)),
                "episodes": total - len(bad),
                "note": f"{len(bad)} episodes with errors dropped",
            }
        )
    if request.quality:
        row = _quality_gate(session, row, request, quarantined)
        if row.status == "skipped":
            return row
    stats_flow.with_options(task_runner=runner)(StatsRequest(root=row.root, images=request.images))
    return row


def _quality_gate(
    session: Path, row: IngestRow, request: IngestRequest, quarantined: list[QuarantinedEpisode]
) -> IngestRow:
    """Quality stage on the (validated) session: bad episodes go to ``.quarantine/<session>``; returns the
    session's row updated (the clean copy to merge, or skipped when every episode is bad)."""
    hidden = session.parent  # dot-folders are never listed as sessions
    gate = quarantine_session(
        row.root,
        hidden / ".quarantine" / session.name,
        hidden / ".quality-clean" / session.name,
        QualityRequest(root=row.root, config=request.quality_config),
        request.quarantine_level,
    )
    if not gate.quarantined:
        return row
    dropped = set(row.dropped())
    original = [e for e in range((row.episodes or 0) + len(dropped)) if e not in dropped]
    for ep, s in sorted(gate.quarantined.items()):
        quarantined.append(
            QuarantinedEpisode(
                session=session,
                episode=original[ep] if ep < len(original) else ep,
                level=s.level,
                score=s.score,
                reasons=reason_text(s),
                quarantine=hidden / ".quarantine" / session.name,
            )
        )
    n = len(gate.quarantined)
    if gate.root is None:
        return row.model_copy(
            update={"status": "skipped", "note": f"all {n} episodes quarantined by quality"}
        )
    note = "; ".join(x for x in (row.note, f"{n} episodes quarantined by quality") if x)
    return row.model_copy(
        update={"root": gate.root, "status": "cleaned", "episodes": (row.episodes or 0) - n, "note": note}
    )
