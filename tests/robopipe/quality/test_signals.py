"""Signals on small arrays (no video): idle, spikes, gripper, lag, gaps, config, selection expressions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robopipe.errors import ConfigError
from robopipe.quality.config import load_config
from robopipe.quality.dataset import duplicate_findings, length_findings
from robopipe.quality.numeric import Scales, numeric_signals
from robopipe.quality.runs import runs
from robopipe.quality.select import Selector, read_selection

CFG = load_config()
NAMES = ["a", "b", "gripper"]


def _scales() -> Scales:
    lo, hi = np.array([-1.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.0])
    return Scales(
        {"observation.state": lo, "action": lo},
        {"observation.state": hi, "action": hi},
        {"observation.state": NAMES, "action": NAMES},
    )


def _motion(n: int = 200, fps: int = 20) -> np.ndarray:
    t = np.arange(n)[:, None] / fps
    x = 0.8 * np.sin(2 * np.pi * 0.5 * t + np.array([0.0, 1.0, 2.0]))
    x[:, 2] = 0.5 + 0.4 * np.sin(2 * np.pi * 0.3 * t[:, 0])
    return x


def test_runs_and_min_length() -> None:
    m = np.array([0, 1, 1, 0, 1, 1, 1, 0], bool)
    assert runs(m) == [(1, 2), (4, 6)]
    assert runs(m, 3) == [(4, 6)]
    assert runs(np.zeros(4, bool)) == []


def test_clean_motion_has_no_findings() -> None:
    x = _motion()
    r = numeric_signals({"observation.state": x, "action": x}, np.arange(200) / 20, 20, _scales(), CFG)
    assert [f for f in r.findings if f.level != "info"] == []
    assert r.signals["idle_fraction"] == 0.0
    assert r.signals["gripper_activity"] > 0.5


def test_idle_spike_gripper_gap_and_lag() -> None:
    x = _motion()
    x[50:120] = x[50]  # pause 70 frames = 3.5 s
    a = np.roll(x, -3, axis=0)  # state follows the action 3 frames late
    a[150, 1] += 0.9  # spike
    x[:, 2] = 0.5  # gripper never moves
    ts = np.arange(200) / 20
    ts[180:] += 0.25  # 5 frames missing after frame 179
    r = numeric_signals({"observation.state": x, "action": a}, ts, 20, _scales(), CFG)
    kinds = {f.kind: f for f in r.findings}
    assert (kinds["idle"].start, kinds["idle"].end) in {(50, 116), (50, 119)}
    assert (kinds["spike"].start, kinds["spike"].end) == (150, 150)
    assert "gripper_unused" in kinds
    assert (kinds["dropped_frames"].start, kinds["dropped_frames"].end) == (179, 180)
    assert r.signals["dropped_frames"] == 5
    assert r.signals["lag_seconds"] == pytest.approx(3 / 20)


def test_a_step_is_not_a_spike() -> None:
    x = _motion()
    x[100:, 0] += 0.5
    r = numeric_signals({"observation.state": x}, None, 20, _scales(), CFG)
    assert not [f for f in r.findings if f.kind == "spike"]


def test_length_outlier_and_duplicates() -> None:
    lengths = {i: 100 for i in range(8)} | {8: 400, 9: 5}
    out = length_findings(lengths, 20, CFG)
    assert out[8][1] and out[9][1] and not out[0][1]
    sig = {0: np.zeros(8), 1: np.ones(8), 2: np.zeros(8) + 1e-4}
    dups = duplicate_findings(sig, {0: 10, 1: 10, 2: 10}, CFG)
    assert list(dups) == [2] and "episode 0" in dups[2][0].message


def test_config_override_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "q.yaml"
    p.write_text("idle:\n  min_seconds: 5\n")
    assert (
        load_config(p).idle.min_seconds == 5 and load_config(p).idle.warn_fraction == CFG.idle.warn_fraction
    )
    p.write_text("idle:\n  nope: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        load_config(p)
    p.write_text("camera:\n  black_luma: -3\n")
    with pytest.raises(ConfigError, match=r"camera\.black_luma"):
        load_config(p)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_selector_evaluates_safely() -> None:
    s = Selector("quality.idle_fraction < 0.5 and success and not task in ['x', 'y']")
    assert s.names == {"quality.idle_fraction", "success", "task"}
    assert s.matches({"quality.idle_fraction": 0.1, "success": True, "task": "pick"})
    assert not s.matches({"quality.idle_fraction": 0.7, "success": True, "task": "pick"})
    assert not s.matches({"quality.idle_fraction": None, "success": True, "task": "pick"})
    assert Selector("-1 < x <= 2").matches({"x": 2}) and not Selector("-1 < x <= 2").matches({"x": 3})


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "x.__class__",  # attribute names are data names, but calls/subscripts are refused
        "open('f')",
        "x[0] > 1",
        "lambda: 1",
        "(y := 1)",
        "x + 1 > 2",
        "x if y else z",
        "1 > ",
    ],
)
def test_selector_refuses_code(text: str) -> None:
    if text == "x.__class__":
        assert Selector(text).matches({}) is False  # just an unknown (missing) name, never getattr
        return
    with pytest.raises(ConfigError):
        Selector(text)


def test_unknown_names_are_listed() -> None:
    with pytest.raises(ConfigError, match="unknown name"):
        Selector("foo > 1").check_names({"success"})


def test_read_selection(tmp_path: Path) -> None:
    p = tmp_path / "sel.json"
    p.write_text('{"episodes": [3, 1, 3]}')
    assert read_selection(p) == [1, 3]
    p.write_text("0, 2 5")
    assert read_selection(p) == [0, 2, 5]
    p.write_text('{"episodes": ["a"]}')
    with pytest.raises(ConfigError):
        read_selection(p)


def test_saturation_needs_an_action_past_the_limit() -> None:
    a = _motion()
    a[60:100, 0] = np.linspace(0.8, 1.6, 40)  # the leader pushes past the follower's limit (1.0)
    x = a.copy()
    x[:, 0] = np.minimum(x[:, 0], 0.999)  # the follower stops at its limit
    r = numeric_signals({"observation.state": x, "action": a}, None, 20, _scales(), CFG)
    sat = [f for f in r.findings if f.kind == "saturation"]
    assert (sat[0].start, sat[0].end) == (71, 99)  # from the frame the action passes limit + edge
    assert "a pinned" in sat[0].message
    near = _motion()
    near[:, 0] = 0.998 + 0.0001 * np.sin(np.arange(200))  # hugs the edge, action agrees: not saturated
    r = numeric_signals({"observation.state": near, "action": near}, None, 20, _scales(), CFG)
    assert not [f for f in r.findings if f.kind == "saturation"]


def test_no_lag_reported_when_state_does_not_follow_action() -> None:
    rng = np.random.default_rng(0)
    x, a = rng.normal(size=(200, 3)) * 0.1, rng.normal(size=(200, 3)) * 0.1
    r = numeric_signals({"observation.state": x, "action": a}, None, 20, _scales(), CFG)
    assert "lag_seconds" not in r.signals and r.signals["lag_correlation"] < 0.5
    assert not [f for f in r.findings if f.kind == "lag"]
