"""The campaign flow: one subflow per dataset, a summary table artifact, failed run when a dataset is not
published, and a re-run that ports only what is left."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

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
    assert [d.status for d in report.datasets] == ["skipped", "published"]
    assert _subflow_names(state.state_details.flow_run_id) == ["port-one", "port-two"]


def test_campaign_concurrency_is_a_prefect_limit_that_serializes_the_subflows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """max_concurrent 1: the server's limit has 1 slot and no two datasets are ever ported at once, although
    the flow's pool starts all three together: each port waits a moment for a peer to join it (one always
    would without the limit), counting how many are in flight; the subflows' recorded states agree."""
    from prefect.client.orchestration import get_client

    import flows.campaign
    from flows.campaign import CampaignRequest, campaign_flow

    real = flows.campaign.port_dataset
    cond = threading.Condition()
    inflight, peak = [0], [0]

    def watched(catalog: Any, entry: Any) -> Any:
        with cond:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
            cond.notify_all()
            cond.wait_for(lambda: inflight[0] > 1, timeout=3)  # an unbounded pool brings a peer here
        try:
            return real(catalog, entry)
        finally:
            with cond:
                inflight[0] -= 1

    monkeypatch.setattr(flows.campaign, "port_dataset", watched)
    make_aloha(tmp_path / "aloha", episodes=1)
    (tmp_path / "aloha.yaml").write_text(ALOHA_MAPPING)
    entry = {"format": "hdf5", "mapping": "aloha.yaml", "source": "aloha"}
    datasets = [{"name": n, "repo_id": f"lab/{n}", **entry} for n in ("a", "b", "c")]
    catalog = tmp_path / "c.yaml"
    catalog.write_text(yaml.safe_dump({"name": "serial", "codec": "h264", "datasets": datasets}))

    state = campaign_flow(CampaignRequest(catalog=catalog, max_concurrent=1), return_state=True)
    assert state.is_completed()
    assert [d.status for d in state.result().datasets] == ["published"] * 3
    assert peak[0] == 1
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("robopipe-campaign-serial")
    assert limit.limit == 1 and limit.active and limit.active_slots == 0  # every slot given back
    runs = _subflow_runs(state.state_details.flow_run_id)
    assert sorted(r.name for r in runs) == ["port-a", "port-b", "port-c"]
    spans = sorted((r.start_time, r.end_time) for r in runs)
    assert all(s is not None and e is not None for s, e in spans)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans)), spans

    # a re-run with another bound updates the limit on the server
    campaign_flow(CampaignRequest(catalog=catalog, max_concurrent=2))
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("robopipe-campaign-serial").limit == 2


def _rows(artifact: object) -> list[dict[str, object]]:
    import json

    data = artifact.data  # type: ignore[attr-defined]
    return json.loads(data) if isinstance(data, str) else data


def _subflow_names(parent_id: object) -> list[str]:
    return sorted(r.name for r in _subflow_runs(parent_id))


def _subflow_runs(parent_id: object) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        return list(
            client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
                )
            )
        )


def test_demo_campaign_publishes_its_two_toy_datasets(tmp_path: Path) -> None:
    from flows.demo import write_campaign
    from robopipe.campaign import load_catalog, run_campaign

    report = run_campaign(load_catalog(write_campaign(tmp_path)))
    assert [(d.name, d.status, d.episodes) for d in report.datasets] == [
        ("toy-hdf5-0", "published", 2),
        ("toy-hdf5-1", "published", 2),
    ]
    assert (tmp_path / "registry").is_dir()
