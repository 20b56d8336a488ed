"""The campaign flow: one subflow per dataset, a summary table artifact, failed run when a dataset is not
published, and a re-run that ports only what is left."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.flows.conftest import flow_run_artifacts
from tests.robopipe.campaign.test_campaign import ALOHA_MAPPING
from tests.robopipe.convert.test_custom_sources import make_aloha

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]


def test_campaign_flow_table_subflows_and_resume(tmp_path: Path) -> None:
    from flows.campaign import CampaignRequest, campaign_flow

    make_aloha(tmp_path / "aloha", episodes=2)
    (tmp_path / "aloha.yaml").write_text(ALOHA_MAPPING)
    entry = {"format": "hdf5", "mapping": "aloha.yaml", "source": "aloha"}
    datasets = [
        {"name": "one", "repo_id": "lab/one", **entry},
        {"name": "two", "repo_id": "lab/two", **entry},
    ]
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        yaml.safe_dump(
            {"name": "pair", "codec": "h264", "datasets": [datasets[0], {**datasets[1], "source": "missing"}]}
        )
    )

    state = campaign_flow(CampaignRequest(catalog=catalog), return_state=True)
    assert state.is_failed() and "two (failed)" in str(state.message)
    table = flow_run_artifacts(state.state_details.flow_run_id)["campaign-pair"]
    rows = {r["dataset"]: r for r in _rows(table)}
    assert rows["one"]["status"] == "published" and rows["one"]["episodes"] == 2
    assert rows["two"]["status"] == "failed" and rows["two"]["findings"]

    catalog.write_text(yaml.safe_dump({"name": "pair", "codec": "h264", "datasets": datasets}))
    report = campaign_flow(CampaignRequest(catalog=catalog))
    assert [d["status"] for d in report["datasets"]] == ["skipped", "published"]
    assert _subflow_names(state.state_details.flow_run_id) == ["port-one", "port-two"]


def _rows(artifact: object) -> list[dict[str, object]]:
    import json

    data = artifact.data  # type: ignore[attr-defined]
    return json.loads(data) if isinstance(data, str) else data


def _subflow_names(parent_id: object) -> list[str]:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async def read() -> list[str]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
                )
            )
            return sorted(r.name for r in runs)

    return asyncio.run(read())


def test_demo_campaign_publishes_its_two_toy_datasets(tmp_path: Path) -> None:
    from flows.demo import write_campaign
    from robopipe.campaign import load_catalog, run_campaign

    report = run_campaign(load_catalog(write_campaign(tmp_path)))
    assert [(d.name, d.status, d.episodes) for d in report.datasets] == [
        ("toy-hdf5-0", "published", 2),
        ("toy-hdf5-1", "published", 2),
    ]
    assert (tmp_path / "registry").is_dir()
