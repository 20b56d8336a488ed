"""One test per stats rule: break a copy of a valid dataset's stats, assert the exact finding."""

from __future__ import annotations

from pathlib import Path

from robopipe.validate import Severity, ValidationReport, validate_dataset
from tests.robopipe.validate.helpers import edit_json, one

STATS = "meta/stats.json"


def check(root: Path) -> ValidationReport:
    return validate_dataset(root, gx=False)


def test_rp501_stats_missing_is_a_warning(broken: Path) -> None:
    (broken / STATS).unlink()
    report = check(broken)
    f = one(report, "RP501")
    assert f.severity is Severity.WARNING and report.valid


def test_rp502_stats_unreadable(broken: Path) -> None:
    (broken / STATS).write_text("[1, 2")
    f = one(check(broken), "RP502")
    assert f.file == STATS


def test_rp503_feature_missing(broken: Path) -> None:
    edit_json(broken / STATS, lambda d: d.pop("action"))
    f = one(check(broken), "RP503")
    assert (f.feature, f.actual) == ("action", "missing")


def test_rp503_quantiles_missing_is_info(broken: Path) -> None:
    def drop_q(d):
        for q in ("q01", "q10", "q50", "q90", "q99"):
            d["action"].pop(q)

    edit_json(broken / STATS, drop_q)
    report = check(broken)
    f = one(report, "RP503")
    assert (f.severity, f.feature) == (Severity.INFO, "action") and report.valid


def test_rp504_wrong_shape(broken: Path) -> None:
    edit_json(broken / STATS, lambda d: d["observation.state"].update(mean=[0.0, 0.0, 0.0]))
    f = one(check(broken), "RP504")
    assert (f.feature, f.expected, f.actual) == ("observation.state", "(6,)", "(3,)")


def test_rp504_image_stats_shape(broken: Path) -> None:
    edit_json(broken / STATS, lambda d: d["observation.images.front"].update(std=[0.1, 0.1, 0.1]))
    f = one(check(broken), "RP504")
    assert (f.feature, f.expected, f.actual) == ("observation.images.front", "(3, 1, 1)", "(3,)")


def test_rp505_global_vs_episodes(broken: Path) -> None:
    def bump(d):
        d["action"]["max"][2] += 1.0
        d["action"]["count"] = [99]

    edit_json(broken / STATS, bump)
    report = check(broken)
    by_msg = {f.message: f for f in report.by_code("RP505")}
    count = by_msg["stats.json count disagrees with the per-episode stats"]
    assert (count.feature, count.expected, count.actual) == ("action", "[0]=27 (from 3 episodes)", "[0]=99")
    mx = by_msg["stats.json max disagrees with the per-episode stats"]
    assert mx.feature == "action" and mx.expected.startswith("[2]=")


def test_rp507_nan_in_stats(broken: Path) -> None:
    edit_json(broken / STATS, lambda d: d["action"].update(std=[float("nan")] * 6))
    f = one(check(broken), "RP507")
    assert (f.feature, f.expected) == ("action", "finite")
