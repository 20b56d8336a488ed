"""One test per data-file rule: break a copy of a valid dataset, assert the exact finding."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from robopipe.errors import ConfigError
from robopipe.validate import Severity, ValidationReport, validate_dataset
from tests.robopipe.validate.helpers import DATA, EPISODES, codes, one, rewrite_parquet, set_column


def check(root: Path, **kwargs: object) -> ValidationReport:
    return validate_dataset(root, gx=False, **kwargs)  # type: ignore[arg-type]


def edit_column(root: Path, name: str, fn) -> None:
    def apply(t: pa.Table) -> pa.Table:
        values = t.column(name).to_numpy(zero_copy_only=False).copy()
        fn(values)
        return set_column(t, name, values)

    rewrite_parquet(root / DATA, apply)


def test_rp301_data_cut_footer(broken: Path) -> None:
    p = broken / DATA
    p.write_bytes(p.read_bytes()[:-100])
    report = check(broken)
    f = one(report, "RP301")
    assert f.file == DATA and "magic bytes not found in footer" in f.message
    assert "RP104" not in codes(report)  # total_frames is not judged when a file is unreadable


def test_rp302_data_file_missing(broken: Path) -> None:
    (broken / DATA).unlink()
    f = one(check(broken), "RP302")
    assert (f.file, f.count, f.episode) == (DATA, 3, 0)


def test_rp303_stray_data_file(broken: Path) -> None:
    stray = broken / "data/chunk-000/file-007.parquet"
    shutil.copy(broken / DATA, stray)
    f = one(check(broken), "RP303")
    assert f.file == "data/chunk-000/file-007.parquet" and f.severity is Severity.WARNING


def test_rp304_extra_column(broken: Path) -> None:
    rewrite_parquet(broken / DATA, lambda t: t.append_column("extra", pa.array(np.zeros(t.num_rows))))
    f = one(check(broken), "RP304")
    assert (f.feature, f.expected, f.actual) == ("extra", "no column", "double")


def test_rp304_missing_column(broken: Path) -> None:
    rewrite_parquet(broken / DATA, lambda t: t.drop_columns(["action"]))
    f = one(check(broken), "RP304")
    assert (f.feature, f.actual) == ("action", "missing")


def test_rp305_wrong_shape(broken: Path) -> None:
    def shrink(t: pa.Table) -> pa.Table:
        m = np.stack(t.column("action").to_numpy(zero_copy_only=False))[:, :5].astype(np.float32)
        arr = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), 5)
        return t.set_column(t.column_names.index("action"), "action", arr)

    rewrite_parquet(broken / DATA, shrink)
    f = one(check(broken), "RP305")
    assert f.feature == "action" and f.severity is Severity.ERROR
    assert f.expected == "float32 [6]" and "list size 5" in f.message


def test_rp305_castable_dtype_is_a_warning(broken: Path) -> None:
    rewrite_parquet(
        broken / DATA,
        lambda t: t.set_column(
            t.column_names.index("timestamp"), "timestamp", t.column("timestamp").cast(pa.float64())
        ),
    )
    report = check(broken)
    f = one(report, "RP305")
    assert (f.feature, f.severity, f.actual) == ("timestamp", Severity.WARNING, "double")
    assert report.valid


def test_rp306_index(broken: Path) -> None:
    edit_column(broken, "index", lambda v: v.__setitem__(slice(8, 17), v[8:17] + 100))
    f = one(check(broken), "RP306")
    assert (f.episode, f.frame, f.expected, f.actual, f.count) == (1, 0, "8", "108", 9)


def test_rp307_episode_rows_missing(broken: Path) -> None:
    edit_column(broken, "episode_index", lambda v: v.__setitem__(slice(17, 27), 1))  # episode 2's rows say 1
    report = check(broken)
    messages = {(f.episode, f.message) for f in report.by_code("RP307")}
    assert (2, "episode listed in meta/episodes has no rows in the data files") in messages
    assert (1, "episodes metadata dataset_to_index does not match the data rows") in messages


def test_rp308_frame_index(broken: Path) -> None:
    edit_column(broken, "frame_index", lambda v: v.__setitem__(3, 7))
    f = one(check(broken), "RP308")
    assert (f.episode, f.frame, f.expected, f.actual, f.count) == (0, 3, "3", "7", 1)


def test_rp309_timestamp(broken: Path) -> None:
    edit_column(broken, "timestamp", lambda v: v.__setitem__(8 + 2, v[8 + 2] + 0.01))
    f = one(check(broken), "RP309")
    assert (f.episode, f.frame, f.expected, f.actual) == (1, 2, "0.200000", "0.210000")


def test_rp310_task_index(broken: Path) -> None:
    edit_column(broken, "task_index", lambda v: v.__setitem__(slice(17, 19), 5))
    f = one(check(broken), "RP310")
    assert (f.episode, f.frame, f.expected, f.actual, f.count) == (2, 0, "0..1", "5", 2)


def test_rp311_nan(broken: Path) -> None:
    def put_nan(t: pa.Table) -> pa.Table:
        m = np.stack(t.column("action").to_numpy(zero_copy_only=False)).astype(np.float32)
        m[12, 4] = np.nan
        arr = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), 6)
        return t.set_column(t.column_names.index("action"), "action", arr)

    rewrite_parquet(broken / DATA, put_nan)
    report = check(broken)
    f = one(report, "RP311")
    assert (f.episode, f.frame, f.feature, f.actual) == (1, 4, "action", "[4]=nan")


def test_rp312_bounds(valid_root: Path, tmp_path: Path) -> None:
    bounds = tmp_path / "limits.yaml"
    bounds.write_text(
        "observation.state: {min: -10, max: [10, 10, 10, 10, 10, 0.5]}\nnot.a.feature: {max: 1}\n"
    )
    report = check(valid_root, bounds=bounds)
    state = [f for f in report.by_code("RP312") if f.feature == "observation.state"]
    assert {f.episode for f in state} == {0, 1, 2}
    assert all(f.actual.startswith("[5]=") for f in state)
    assert state[0].expected == "[5] in [-10, 0.5]"
    unknown = [f for f in report.by_code("RP312") if f.feature == "not.a.feature"]
    assert len(unknown) == 1 and unknown[0].severity is Severity.WARNING


def test_bounds_file_invalid(valid_root: Path, tmp_path: Path) -> None:
    bounds = tmp_path / "limits.yaml"
    bounds.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        check(valid_root, bounds=bounds)


def test_rp506_episode_stats_vs_data(broken: Path) -> None:
    rewrite_parquet(
        broken / EPISODES,
        lambda t: set_column(
            t, "stats/action/max", [[9.0] * 6, *t.column("stats/action/max").to_pylist()[1:]]
        ),
    )
    report = check(broken)
    f = [x for x in report.by_code("RP506") if x.message == "per-episode stats max differs from the data"]
    assert len(f) == 1 and (f[0].episode, f[0].feature) == (0, "action")
    assert f[0].actual == "[0]=9"
    glob = one(report, "RP505")  # and stats.json's max no longer equals the per-episode envelope
    assert glob.feature == "action"


def test_multi_file_dataset_is_valid(dataset_factory) -> None:
    root = dataset_factory(frames=[30, 30, 30, 30], cameras={}, data_files_size_in_mb=0.002)
    assert len(list((root / "data").glob("*/*.parquet"))) > 1
    report = check(root)
    assert report.findings == [], [f.model_dump() for f in report.findings]
