"""Great Expectations: suite generation, per-file runs, findings, user suites and Data Docs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from robopipe.errors import ConfigError
from robopipe.format.info import load_info
from robopipe.validate import Severity, validate_dataset
from robopipe.validate.gx_suite import TS_STEP, build_feature_suite, flatten_frame, load_user_suite
from tests.robopipe.validate.helpers import DATA, one, rewrite_parquet


def test_suite_generated_from_features(valid_root: Path) -> None:
    info = load_info(valid_root)
    suite = build_feature_suite(info.features, total_tasks=2, total_episodes=3)
    kinds = [(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]]
    columns = suite["expectations"][0]["kwargs"]["column_set"]
    assert suite["expectations"][0]["type"] == "expect_table_columns_to_match_set"
    assert [f"action_{i}" for i in range(6)] == [c for c in columns if c.startswith("action")]
    assert "observation.images.front" not in columns and TS_STEP in columns
    assert ("expect_column_values_to_be_of_type", "observation.state_5") in kinds
    assert ("expect_column_values_to_not_be_null", "timestamp") in kinds
    sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    assert sets == {"task_index": [0, 1], "episode_index": [0, 1, 2]}
    unique = [e for e in suite["expectations"] if e["type"] == "expect_compound_columns_to_be_unique"]
    assert unique[0]["kwargs"]["column_list"] == ["episode_index", "frame_index"]


def test_flatten_frame(valid_root: Path) -> None:
    df = flatten_frame(valid_root / DATA, load_info(valid_root).features)
    assert len(df) == 27 and "action_5" in df.columns and df["action_0"].dtype == np.float32
    assert df[TS_STEP].isna().sum() == 3  # first frame of each episode


def test_valid_dataset_gx_and_data_docs(valid_root: Path, tmp_path: Path) -> None:
    report = validate_dataset(valid_root, report_dir=tmp_path / "rep", full_decode=True)
    assert report.findings == [], [f.model_dump() for f in report.findings]
    assert report.gx is not None and report.gx.failed == 0 and report.gx.evaluated > 50
    assert report.gx.data_docs == str(tmp_path / "rep/data_docs/index.html")
    assert (tmp_path / "rep/data_docs/index.html").is_file()
    assert json.loads((tmp_path / "rep/report.json").read_text())["valid"] is True


def _set_action(t: pa.Table, row: int, dim: int, value: float) -> pa.Table:
    m = np.stack(t.column("action").to_numpy(zero_copy_only=False)).astype(np.float32)
    m[row, dim] = value
    arr = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), 6)
    return t.set_column(t.column_names.index("action"), "action", arr)


def test_rp601_value_outside_stats_range(broken: Path) -> None:
    rewrite_parquet(broken / DATA, lambda t: _set_action(t, 12, 2, 50.0))
    report = validate_dataset(broken)
    gx = [f for f in report.by_code("RP601") if f.feature == "action_2"]
    assert len(gx) == 1
    f = gx[0]
    assert (f.episode, f.frame, f.file, f.severity) == (1, 4, DATA, Severity.ERROR)
    assert "expect_column_values_to_be_between" in f.message and f.actual.startswith(
        "1 of 27 rows unexpected"
    )


def test_rp601_timestamps_not_increasing(broken: Path) -> None:
    def swap(t: pa.Table) -> pa.Table:
        ts = t.column("timestamp").to_numpy().copy()
        ts[[3, 4]] = ts[[4, 3]]
        return t.set_column(t.column_names.index("timestamp"), "timestamp", pa.array(ts))

    rewrite_parquet(broken / DATA, swap)
    report = validate_dataset(broken)
    f = [x for x in report.by_code("RP601") if x.feature == TS_STEP]
    assert len(f) == 1 and (f[0].episode, f[0].frame) == (0, 4)
    assert "RP309" in report.codes()


def test_rp602_user_suite_with_severity(valid_root: Path, tmp_path: Path) -> None:
    suite = {
        "name": "project_rules",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "severity": "warning",
                "kwargs": {"column": "observation.state_0", "min_value": -0.1, "max_value": 0.1},
            },
            {"type": "expect_column_max_to_be_between", "kwargs": {"column": "frame_index", "max_value": 20}},
        ],
    }
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite))
    report = validate_dataset(valid_root, suites=[path])
    f = one(report, "RP602")
    assert (f.severity, f.feature, f.file) == (Severity.WARNING, "observation.state_0", DATA)
    assert f.message == "project_rules: expect_column_values_to_be_between failed"
    assert (
        report.valid and report.gx is not None and report.gx.suites == ["robopipe_features", "project_rules"]
    )


def test_rp603_user_suite_names_missing_column(valid_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(
        json.dumps(
            {
                "name": "bad",
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}}
                ],
            }
        )
    )
    report = validate_dataset(valid_root, suites=[path])
    f = one(report, "RP603")
    assert f.feature == "no_such_column" and "bad: expect_column_values_to_not_be_null raised" in f.message


def test_invalid_suite_file(tmp_path: Path, valid_root: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(
        json.dumps({"name": "x", "expectations": [{"type": "expect_nothing_at_all", "kwargs": {}}]})
    )
    with pytest.raises(ConfigError, match="not a valid GX expectation suite"):
        validate_dataset(valid_root, suites=[path])
    path.write_text("[]")
    with pytest.raises(ConfigError, match="ExpectationSuite JSON"):
        load_user_suite(path)


def test_range_checks_run_on_widened_columns_and_dtype_checks_on_stored_ones(valid_root: Path) -> None:
    """GX's range check is vectorised only for float64/int64; the stored dtype is still what the type check sees."""
    import pandas as pd

    from robopipe.validate.gx_suite import _widened, run_gx_file

    df = flatten_frame(valid_root / DATA, load_info(valid_root).features)
    wide = _widened(df)
    assert wide["action_0"].dtype == np.float64 and df["action_0"].dtype == np.float32
    assert (wide["action_0"].to_numpy() == df["action_0"].to_numpy()).all()  # exact widening
    plain = pd.DataFrame({"x": np.zeros(3, np.float64), "i": np.arange(3, dtype=np.int64)})
    assert _widened(plain) is plain
    features = {k: json.loads(v.model_dump_json()) for k, v in load_info(valid_root).features.items()}
    suite = {
        "name": "t",
        "expectations": [
            {
                "type": "expect_column_values_to_be_of_type",
                "kwargs": {"column": "action_0", "type_": "float64"},
            },
            {
                "type": "expect_column_values_to_be_of_type",
                "kwargs": {"column": "action_1", "type_": "float32"},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "action_2", "min_value": 99.0},
            },
        ],
    }
    (res,) = run_gx_file(str(valid_root / DATA), DATA, features, [suite])["results"]
    by_kind = [(r["expectation_config"]["kwargs"].get("type_"), r["success"]) for r in res["results"]]
    assert sorted(by_kind, key=str) == sorted([("float64", False), ("float32", True), (None, False)], key=str)
    assert res["statistics"]["evaluated_expectations"] == 3 and res["success"] is False


def test_progress_counts_every_expectation_and_changes_no_result(valid_root: Path) -> None:
    seen: list[tuple[int, int]] = []
    plain = validate_dataset(valid_root)
    watched = validate_dataset(valid_root, progress=lambda d, t: seen.append((d, t)))
    assert plain.gx is not None and watched.gx is not None
    assert (watched.gx.evaluated, watched.gx.failed) == (plain.gx.evaluated, plain.gx.failed)
    assert watched.findings == plain.findings
    assert len(seen) > 1 and seen[-1] == (plain.gx.evaluated, plain.gx.evaluated)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
