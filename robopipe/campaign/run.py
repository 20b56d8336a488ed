"""The campaign recipe: port every dataset not done yet (convert -> validation gate -> publish), resumably.

The ledger (``<state_dir>/ledger/<name>.json``) holds each dataset's last outcome. A dataset whose ledger
says *published* with the same entry fingerprint is skipped on a re-run; anything else (invalid, failed,
interrupted, or a changed entry) is ported again from a clean work folder.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robopipe.campaign.models import CampaignReport, Catalog, CatalogEntry, DatasetOutcome, Status
from robopipe.execution import Executor, SerialExecutor
from robopipe.format.atomic import atomic_write_text

log = logging.getLogger(__name__)
MAX_FINDINGS = 20
V21 = "lerobot-v2.1"

PortFn = Callable[[Catalog, CatalogEntry], DatasetOutcome]


class Ledger:
    """One JSON file per dataset under ``<state_dir>/ledger``, replaced atomically."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "ledger"

    def path(self, entry: CatalogEntry) -> Path:
        return self.dir / f"{entry.name}.json"

    def read(self, entry: CatalogEntry) -> DatasetOutcome | None:
        p = self.path(entry)
        if not p.is_file():
            return None
        try:
            return DatasetOutcome.model_validate_json(p.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("%s: unreadable ledger entry; the dataset will be ported again", p)
            return None

    def write(self, outcome: DatasetOutcome) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / f"{outcome.name}.json", outcome.model_dump_json(indent=2))

    def done(self, entry: CatalogEntry) -> DatasetOutcome | None:
        """The earlier outcome when ``entry`` (unchanged) was already published."""
        old = self.read(entry)
        if old is not None and old.status == "published" and old.fingerprint == entry.fingerprint():
            return old
        return None


def _convert(catalog: Catalog, entry: CatalogEntry, out: Path, work: Path, executor: Executor) -> None:
    source = catalog.source_path(entry)
    if entry.format == V21:
        from robopipe.convert.v21 import V21ConvertRequest, convert_v21

        convert_v21(V21ConvertRequest(src=source if "://" in source else Path(source), out=out))
        return
    from robopipe.convert.engine import ConvertRequest, EncoderOptions, run_conversion
    from robopipe.convert.source import SourceSpec

    mapping = entry.mapping
    if mapping is not None and (catalog.base_dir / mapping).is_file():
        mapping = str(catalog.base_dir / mapping)
    request = ConvertRequest(
        source=SourceSpec(kind=entry.format, path=source, split=entry.split, options=entry.options),
        out=out,
        mapping=mapping,
        fps=entry.fps,
        robot_type=entry.robot_type,
        work_dir=work / "shards",
        encoder=EncoderOptions(codec=catalog.codec),
    )
    report = run_conversion(request, executor)
    if report.failures:
        raise_failures = "; ".join(f"episode {f['index']}: {f['error']}" for f in report.failures[:3])
        from robopipe.errors import ConversionError

        raise ConversionError(
            f"{len(report.failures)} source episode(s) could not be converted: {raise_failures}"
        )


def port_dataset(catalog: Catalog, entry: CatalogEntry, executor: Executor | None = None) -> DatasetOutcome:
    """Port one dataset: convert into its work folder, validate, publish when valid; record the outcome.

    Problems of the dataset (unreadable source, conversion error, validation errors) become the outcome,
    never an exception, so the other datasets of the campaign carry on.
    """
    from robopipe.format.info import load_info
    from robopipe.publish import PublishRequest, publish
    from robopipe.validate import ValidateRequest, validate

    t0 = time.perf_counter()

    def outcome_of(status: Status, **fields: Any) -> DatasetOutcome:
        return DatasetOutcome(
            name=entry.name,
            repo_id=entry.repo_id,
            tag=entry.tag,
            fingerprint=entry.fingerprint(),
            status=status,
            seconds=round(time.perf_counter() - t0, 3),
            **fields,
        )

    work = catalog.work_dir(entry)
    out = work / "dataset"
    if work.exists():  # an earlier attempt that was not published: start clean (the source may be fixed)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        _convert(catalog, entry, out, work, executor or SerialExecutor())
        info = load_info(out)
        counts: dict[str, Any] = {"episodes": info.total_episodes, "frames": info.total_frames}
        report = validate(ValidateRequest(root=str(out), gx=catalog.gx))
        errors = [f for f in report.findings if f.severity == "error"]
        if errors:
            findings = [f"{f.code}: {f.message}" for f in errors[:MAX_FINDINGS]]
            outcome = outcome_of("invalid", **counts, findings=findings)
        else:
            request = PublishRequest(
                root=out, repo_id=entry.repo_id, tag=entry.tag, target="local", registry=catalog.registry
            )
            published = publish(request)
            outcome = outcome_of("published", **counts, commit=published.commit)
            shutil.rmtree(work, ignore_errors=True)  # the snapshot lives in the registry now
    except Exception as exc:  # the dataset's failure is its outcome (recorded, reported), not the campaign's
        outcome = outcome_of("failed", error=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    Ledger(catalog.state_dir).write(outcome)
    log.info("campaign %s: %s %s", catalog.name, entry.name, outcome.status)
    return outcome


def run_campaign(
    catalog: Catalog,
    executor: Executor | None = None,
    *,
    port: PortFn = port_dataset,
    on_done: Callable[[DatasetOutcome], None] | None = None,
) -> CampaignReport:
    """The campaign recipe: datasets already published are skipped, the others are ported on ``executor``
    (at most its workers at once); returns every outcome in catalogue order."""
    ledger = Ledger(catalog.state_dir)
    outcomes: dict[str, DatasetOutcome] = {}
    todo: list[CatalogEntry] = []
    for entry in catalog.datasets:
        old = ledger.done(entry)
        if old is None:
            todo.append(entry)
        else:
            outcomes[entry.name] = old.model_copy(update={"status": "skipped", "seconds": 0.0})
    log.info("campaign %s: %d datasets, %d to port", catalog.name, len(catalog.datasets), len(todo))
    with (executor or SerialExecutor()).map(port, catalog, todo, label="port-dataset") as stream:
        for done in stream:
            outcome = done.result()
            outcomes[outcome.name] = outcome
            if on_done is not None:
                on_done(outcome)
    return CampaignReport(name=catalog.name, datasets=[outcomes[e.name] for e in catalog.datasets])
