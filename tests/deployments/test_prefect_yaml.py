"""deployments/prefect.yaml: every entrypoint loads and its parameter defaults validate against the flow."""

from __future__ import annotations

from typing import Any

import pytest

from flows.serve import DEFAULT_FILE, load_entry_flow, read_deployments

DEPLOYMENTS = read_deployments(DEFAULT_FILE)


@pytest.mark.parametrize("entry", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_loads_and_parameters_validate(entry: dict[str, Any]) -> None:
    flow = load_entry_flow(entry["entrypoint"])
    params = flow.validate_parameters(entry["parameters"])
    assert set(params) == {"request"}
    assert entry["work_pool"]["name"] == "robopipe-local"
    for s in entry.get("schedules") or []:
        assert "cron" in s


def test_bad_parameters_are_rejected_before_a_run() -> None:
    from prefect.exceptions import ParameterTypeError

    entry = next(d for d in DEPLOYMENTS if d["name"] == "weekly-port")
    flow = load_entry_flow(entry["entrypoint"])
    bad = {"request": {**entry["parameters"]["request"], "execution": {"workers": 0}}}
    with pytest.raises(ParameterTypeError, match="workers"):
        flow.validate_parameters(bad)


def test_schedules_cover_nightly_check_and_weekly_port() -> None:
    crons = {d["name"]: [s["cron"] for s in d.get("schedules") or []] for d in DEPLOYMENTS}
    assert crons["nightly-check"] == ["0 3 * * *"]
    assert crons["weekly-port"] == ["0 4 * * 0"]
    code = [ln.split("#")[0].lower() for ln in DEFAULT_FILE.read_text().splitlines()]
    assert not [ln for ln in code if "token" in ln or "hf_" in ln]  # secrets never live in prefect.yaml
