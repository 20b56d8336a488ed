"""Flow ``campaign``: the campaign recipe with one subflow per dataset, at most ``max_concurrent`` at once.

Each dataset is a ``port-dataset`` subflow run (named after the dataset) in a bounded pool of threads of the
flow process; its conversion shards run on that thread serially. A summary table artifact lists every
dataset (status, episodes, frames, time, findings); the ledger in the state folder makes re-runs resume.
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel, ConfigDict, Field

from flows import artifacts
from robopipe.campaign import Catalog, CatalogEntry, DatasetOutcome, load_catalog, port_dataset, run_campaign
from robopipe.errors import ValidationFailedError
from robopipe.execution import ThreadExecutor


class CampaignRequest(BaseModel):
    """A catalogue file and optional overrides of its state folder, registry and concurrency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog: Path = Field(
        description="catalogue YAML (datasets: name, format, source, mapping, repo_id, tag)"
    )
    state_dir: Path | None = Field(default=None, description="ledger and work folders (default: next to it)")
    registry: Path | None = Field(default=None, description="local registry to publish to")
    max_concurrent: int | None = Field(default=None, ge=1, le=64, description="datasets ported at once")


@flow(name="port-dataset", flow_run_name="port-{entry.name}")
def port_dataset_flow(catalog: Catalog, entry: CatalogEntry) -> DatasetOutcome:
    """One dataset of a campaign: convert, validation gate, publish (the core's ``port_dataset``)."""
    outcome = port_dataset(catalog, entry)
    get_run_logger().info("%s: %s", entry.name, outcome.status)
    return outcome


@flow(name="campaign")
def campaign_flow(request: CampaignRequest) -> dict[str, Any]:
    """Port a catalogue of datasets; returns the CampaignReport as a dict."""
    catalog = load_catalog(
        request.catalog,
        state_dir=request.state_dir,
        registry=request.registry,
        max_concurrent=request.max_concurrent,
    )
    parent = contextvars.copy_context()  # subflow runs in pool threads still belong to this flow run

    def subflow(cat: Catalog, entry: CatalogEntry) -> DatasetOutcome:
        result: DatasetOutcome = parent.copy().run(port_dataset_flow, cat, entry)
        return result

    with ThreadExecutor(catalog.max_concurrent) as executor:
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
    return report.model_dump(mode="json")
