"""A porting campaign of three small sources (RLDS, HDF5, LeRobot v2.1), one broken on purpose.

The two good ones are published to the local registry, the broken one is reported with its findings and not
published; after fixing its source, a re-run ports only that one. Also: catalogue errors are one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from robopipe.campaign import Ledger, load_catalog, run_campaign
from robopipe.errors import ConfigError, DatasetNotFoundError, HubNotFoundError
from robopipe.execution import ThreadExecutor
from robopipe.publish import HistoryRequest, history
from tests.robopipe.convert.test_custom_sources import make_aloha
from tests.robopipe.convert.test_v21 import make_v21

ALOHA_MAPPING = (
    "fps: 50\nrobot_type: aloha\ncameras: {cam_high: observations/images/cam_high}\n"
    "state: [observations/qpos]\naction: [action]\ntask: {default: transfer the cube}\n"
)


def break_values(v21: Path) -> bytes:
    """Put a NaN into episode 1's actions (a classic broken export); returns the good bytes."""
    path = v21 / "data" / "chunk-000" / "episode_000001.parquet"
    good = path.read_bytes()
    t = pq.read_table(path)
    rows = t["action"].to_pylist()
    rows[2][1] = float("nan")
    pq.write_table(
        t.set_column(t.column_names.index("action"), "action", pa.array(rows, t["action"].type)), path
    )
    return good


def make_catalog(tmp_path: Path, rlds_root: Path) -> Path:
    make_aloha(tmp_path / "src" / "aloha", episodes=3)
    (tmp_path / "src" / "aloha.yaml").write_text(ALOHA_MAPPING)
    make_v21(tmp_path / "src" / "v21")
    catalog = {
        "name": "three",
        "codec": "h264",
        "max_concurrent": 2,
        "datasets": [
            {"name": "oxe", "format": "rlds", "source": str(rlds_root), "fps": 10, "repo_id": "lab/oxe"},
            {
                "name": "aloha",
                "format": "hdf5",
                "source": "src/aloha",
                "mapping": "src/aloha.yaml",
                "repo_id": "lab/aloha",
                "tag": "v0.2.0",
            },
            {"name": "so100", "format": "lerobot-v2.1", "source": "src/v21", "repo_id": "lab/so100"},
        ],
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def tags(registry: Path, repo_id: str) -> list[str]:
    return list(history(HistoryRequest(repo_id=repo_id, target="local", registry=registry)).tags)


@pytest.mark.slow
def test_campaign_publishes_the_good_reports_the_broken_and_resumes(
    rlds_factory: Any, tmp_path: Path
) -> None:
    path = make_catalog(tmp_path, rlds_factory("oxe").root)
    good = break_values(tmp_path / "src" / "v21")
    catalog = load_catalog(path)
    assert (
        catalog.state_dir == tmp_path / "campaign.state"
        and catalog.registry == catalog.state_dir / "registry"
    )

    with ThreadExecutor(catalog.max_concurrent) as executor:
        report = run_campaign(catalog, executor)
    status = {d.name: d for d in report.datasets}
    assert [d.name for d in report.datasets] == ["oxe", "aloha", "so100"]
    assert status["oxe"].status == "published" and status["oxe"].episodes == 6
    assert status["aloha"].status == "published" and status["aloha"].frames == 5 + 6 + 7
    broken = status["so100"]
    assert broken.status == "invalid" and broken.commit is None and not report.ok
    assert broken.findings and any("NaN" in f or "non-finite" in f for f in broken.findings), broken.findings
    assert "v1.0.0" in tags(catalog.registry, "lab/oxe") and "v0.2.0" in tags(catalog.registry, "lab/aloha")
    with pytest.raises(HubNotFoundError):  # the gate held: never published
        tags(catalog.registry, "lab/so100")
    assert Ledger(catalog.state_dir).read(catalog.datasets[2]).status == "invalid"  # type: ignore[union-attr]

    # fix the source; the re-run ports only the broken one
    (tmp_path / "src" / "v21" / "data" / "chunk-000" / "episode_000001.parquet").write_bytes(good)
    ported: list[str] = []
    report = run_campaign(load_catalog(path), on_done=lambda o: ported.append(o.name))
    assert ported == ["so100"] and report.ok
    assert [d.status for d in report.datasets] == ["skipped", "skipped", "published"]
    assert "v1.0.0" in tags(catalog.registry, "lab/so100")
    # nothing left to do
    assert [d.status for d in run_campaign(load_catalog(path)).datasets] == ["skipped"] * 3


def test_a_missing_source_fails_only_its_dataset(tmp_path: Path) -> None:
    make_aloha(tmp_path / "aloha", episodes=2)
    (tmp_path / "aloha.yaml").write_text(ALOHA_MAPPING)
    common = {"format": "hdf5", "mapping": "aloha.yaml"}
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        yaml.safe_dump(
            {
                "codec": "h264",
                "datasets": [
                    {"name": "gone", "source": "no-such-dir", "repo_id": "lab/gone", **common},
                    {"name": "ok", "source": "aloha", "repo_id": "lab/ok", **common},
                ],
            }
        )
    )
    report = run_campaign(load_catalog(catalog))
    gone, ok = report.datasets
    assert gone.status == "failed" and gone.error and "\n" not in gone.error
    assert ok.status == "published" and ok.episodes == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets: 3", "datasets"),
        ("[1, 2]", "expected a mapping"),
        ("datasets: [{name: '../x', format: hdf5, source: s, repo_id: a/b}]", "datasets.0.name"),
        ("datasets: [{name: a, format: hdf5, source: s, repo_id: a/b, tag: 'v1..0'}]", "datasets.0.tag"),
        (
            "datasets: [{name: a, format: hdf5, source: s, repo_id: a/b}, {name: a, format: rlds, source: t, repo_id: a/c}]",
            "repeated: ['a']",
        ),
        ("datasets: [{name: a, format: hdf5, source: s, repo_id: a/b, bogus: 1}]", "bogus"),
        (": : :", "unreadable catalogue"),
    ],
)
def test_bad_catalogues_are_one_line_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_catalog(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_catalogue_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="no such catalogue"):
        load_catalog(tmp_path / "nope.yaml")


def test_cli_reports_and_exits_1_then_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main

    make_aloha(tmp_path / "aloha", episodes=2)
    (tmp_path / "aloha.yaml").write_text(ALOHA_MAPPING)
    entry = {"name": "a", "format": "hdf5", "source": "aloha", "mapping": "aloha.yaml", "repo_id": "lab/a"}
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump({"codec": "h264", "datasets": [entry, {**entry, "name": "b", "source": "x"}]})
    )
    assert main(["campaign", str(path)]) == 1
    out = capsys.readouterr().out
    assert "a " in out and "published" in out and "failed" in out
    entry_b = {**entry, "name": "b", "repo_id": "lab/b"}
    path.write_text(yaml.safe_dump({"codec": "h264", "datasets": [entry, entry_b]}))
    assert main(["campaign", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["status"] for d in report["datasets"]] == ["skipped", "published"]
