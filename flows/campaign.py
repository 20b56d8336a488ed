"""Flow ``campaign``: the campaign recipe with one subflow per dataset, bounded by a Prefect concurrency limit.

Before the run the flow creates (or updates) the global concurrency limit ``robopipe-campaign-<name>`` with
the catalogue's ``max_concurrent`` slots; each dataset's ``port-dataset`` subflow runs only while holding
one slot, so the server governs the concurrency and the dashboard shows it (Concurrency -> Global; lowering
the limit there throttles a running campaign). The subflows start from a pool of threads of the flow
process that is as wide as the catalogue (at most :data:`MAX_POOL`); their conversion shards run serially.
A summary table artifact lists every dataset (status, episodes, frames, time, findings); the ledger in the
state folder makes re-runs resume. ``robopipe campaign`` without Prefect keeps a local bounded pool.
"""

from __future__ import annotations

import contextvars
from pathlib import Path

from prefect import flow, get_run_logger
from pydantic import BaseModel, ConfigDict, Field

from flows import artifacts
from robopipe.campaign import (
    CampaignReport,
    Catalog,
    CatalogEntry,
    DatasetOutcome,
    load_catalog,
    port_dataset,
    run_campaign,
)
from robopipe.errors import ValidationFailedError
from robopipe.execution import ThreadExecutor

MAX_POOL = 64  # threads waiting for a slot are cheap; more datasets queue in the executor
SLOT_LEASE_S = 300.0  # renewed while the dataset runs; a crashed flow frees its slot after this


class CampaignRequest(BaseModel):
    """A catalogue file and optional overrides of its state folder, registry and concurrency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog: Path = Field(
        description="catalogue YAML (datasets: name, format, source, mapping, repo_id, tag)"
    )
    state_dir: Path | None = Field(default=None, description="ledger and work folders (default: next to it)")
    registry: Path | None = Field(default=None, description="local registry to publish to")
    max_concurrent: int | None = Field(
        default=None, ge=1, le=64, description="datasets ported at once (the concurrency limit's slots)"
    )


def limit_name(catalog: Catalog) -> str:
    """The global concurrency limit of a campaign (one per campaign name)."""
    return f"robopipe-campaign-{catalog.name}"


def ensure_limit(name: str, slots: int) -> None:
    """Create the global concurrency limit ``name`` with ``slots``, or set an existing one to ``slots``."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, slots)


@flow(name="port-dataset", flow_run_name="port-{entry.name}")
def port_dataset_flow(catalog: Catalog, entry: CatalogEntry) -> DatasetOutcome:
    """One dataset of a campaign: convert, validation gate, publish (the core's ``port_dataset``)."""
    outcome = port_dataset(catalog, entry)
    get_run_logger().info("%s: %s", entry.name, outcome.status)
    return outcome


@flow(name="campaign")
def campaign_flow(request: CampaignRequest) -> CampaignReport:
    """Port a catalogue of datasets, at most ``max_concurrent`` at once (a Prefect concurrency limit)."""
    from prefect.concurrency.sync import concurrency

    catalog = load_catalog(
        request.catalog,
        state_dir=request.state_dir,
        registry=request.registry,
        max_concurrent=request.max_concurrent,
    )
    name = limit_name(catalog)
    ensure_limit(name, catalog.max_concurrent)
    parent = contextvars.copy_context()  # subflow runs in pool threads still belong to this flow run

    def subflow(cat: Catalog, entry: CatalogEntry) -> DatasetOutcome:
        # the slot is held around the whole subflow run: its Running..Completed lies inside it
        # strict: the limit must exist (it was just upserted); a failed lease renewal (an API blip during an
        # hours-long port) is logged by Prefect, not fatal to the port
        with concurrency(
            name, occupy=1, strict=True, lease_duration=SLOT_LEASE_S, raise_on_lease_renewal_failure=False
        ):
            result: DatasetOutcome = parent.copy().run(port_dataset_flow, cat, entry)
        return result

    with ThreadExecutor(max(1, min(len(catalog.datasets), MAX_POOL))) as executor:
        report = run_campaign(catalog, executor, port=subflow)
    artifacts.run_table(
        artifacts.artifact_key("campaign", catalog.name),
        [
            {
                "dataset": d.name,
                "status": d.status,
                "repo": f"{d.repo_id}@{d.tag}",
                "episodes": d.episodes,
                "frames": d.frames,
                "seconds": d.seconds,
                "findings": "; ".join(d.findings) or d.error or "",
            }
            for d in report.datasets
        ],
        f"campaign {catalog.name}: one row per dataset",
    )
    if not report.ok:  # the dashboard shows the run as failed; the table and the ledger say why
        bad = [f"{d.name} ({d.status})" for d in report.datasets if d.status in ("invalid", "failed")]
        raise ValidationFailedError(f"campaign {catalog.name}: not published: {', '.join(bad)}", report)
    get_run_logger().info("campaign %s: every dataset published", catalog.name)
    return report
