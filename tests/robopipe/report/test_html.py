"""The one-page HTML report: self-contained, every section present, the dataset untouched."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from robopipe.format.writer import DatasetWriter
from robopipe.report import build_report
from robopipe.report.plots import feature_distribution
from robopipe.validate import validate_dataset
from tests.fixtures.datasets import default_features, episode_columns, make_dataset
from tests.robopipe.validate.test_engine import tree_digest


def _timed_dataset(root: Path) -> Path:
    feats = default_features({"front": (48, 64)})
    with DatasetWriter.create(root, fps=10, features=feats, robot_type="so101") as w:
        for e, n in enumerate([6, 9, 7]):
            w.add_episode(
                episode_columns(feats, n, e),
                task="pick",
                metadata={
                    "timing/achieved_fps": 9.9 - 0.1 * e,
                    "timing/jitter_p99_ms": 1.5 + e,
                    "timing/late_frames": e,
                },
            )
    return root


def test_report_is_self_contained_with_all_sections(tmp_path: Path) -> None:
    root = _timed_dataset(tmp_path / "ds")
    before = tree_digest(root)
    validation = validate_dataset(root, gx=False)
    page = build_report(root, tmp_path / "out", validation=validation, thumbnails=3)
    html = page.read_text()
    assert page == tmp_path / "out/report.html"
    for section in (
        "Features",
        "Validation",
        "Episode lengths",
        "Tasks",
        "Feature distributions",
        "Recording timing",
        "Cameras",
    ):
        assert f"<h2>{section}</h2>" in html, section
    assert "timing/jitter_p99_ms" in html and "every rule passed" in html
    # histogram + 2 vectors + timestamp + camera stats + timing + 3 thumbnails
    assert len(re.findall(r"src='data:image/png;base64,", html)) >= 9
    assert not re.search(r"""src=['"](https?:|/|file:)""", html)  # nothing external is loaded
    # the only links point into the local viewer (robopipe view)
    assert all(h.startswith("http://127.0.0.1:8765/") for h in re.findall(r"""href=['"]([^'"]+)""", html))
    assert "run <code>robopipe quality" in html
    assert "ep 2, frame 3" in html
    assert tree_digest(root) == before


def test_report_lists_findings(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", frames=[5, 5], cameras={"front": (48, 64)})
    (root / "videos/observation.images.front/chunk-000/file-000.mp4").unlink()
    validation = validate_dataset(root, gx=False)
    html = build_report(root, tmp_path / "out", validation=validation).read_text()
    assert "RP402" in html and "video-file-missing" in html and "badge error" in html
    assert "ep 0: " in html  # the thumbnail strip says why there is no frame


def test_report_for_image_dataset_without_stats(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", frames=[4], camera_dtype="image")
    (root / "meta/stats.json").unlink()
    html = build_report(root, tmp_path / "out").read_text()
    assert "no meta/stats.json" in html and "ep 0, frame 2" in html


def test_feature_distribution_without_quantiles() -> None:
    stats = {"mean": np.zeros(3), "std": np.ones(3), "min": -np.ones(3), "max": np.ones(3)}
    assert feature_distribution("x", stats, ["a", "b", "c"]).startswith("data:image/png;base64,")
    assert feature_distribution("x", {}, None) is None


def test_report_quality_section_links_suspects_into_the_viewer(tmp_path: Path) -> None:
    from robopipe.quality import compute_quality
    from tests.fixtures.defects import DEFECTS, make_defect_dataset

    root = make_defect_dataset(tmp_path / "ds")
    compute_quality(root)
    html = build_report(root, tmp_path / "out", thumbnails=0, viewer_url="http://127.0.0.1:9000").read_text()
    assert "<h2>Quality</h2>" in html and "quality score /100" in html
    linked = sorted(int(x) for x in re.findall(r"href='http://127\.0\.0\.1:9000/#episode=(\d+)'", html))
    assert linked == sorted(DEFECTS)
    assert "frozen_camera [frames 10-29]" in html


def _capture(monkeypatch: pytest.MonkeyPatch) -> list:
    from robopipe.report import plots

    figs: list = []
    monkeypatch.setattr(plots, "to_data_uri", lambda fig, dpi=110: figs.append(fig) or "data:")
    return figs


def test_episode_axes_have_integer_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    from robopipe.report import plots

    figs = _capture(monkeypatch)
    plots.timing_plot(np.array([0, 1, 2]), {"timing/late_frames": np.array([0.0, 3.0, 1.0])})
    plots.quality_scores(np.array([0, 1]), np.array([1.0, 0.5]), [None, "error"])
    for fig in figs:
        ax = fig.axes[-1]
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_joint_names_do_not_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    from robopipe.report import plots

    figs = _capture(monkeypatch)
    names = [
        "shoulder_pan.pos",
        "shoulder_lift.pos",
        "elbow_flex.pos",
        "wrist_flex.pos",
        "wrist_roll.pos",
        "gripper.pos",
    ]
    stats = {"mean": np.zeros(6), "std": np.ones(6), "min": -np.ones(6), "max": np.ones(6)}
    plots.feature_distribution("observation.state", stats, names)
    fig = figs[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = ax.get_xticklabels()
    rot = labels[0].get_rotation()
    xs = ax.transData.transform([(i, 0) for i in range(6)])[:, 0]
    spacing = float(np.min(np.diff(xs)))
    height = labels[0].get_fontsize() * fig.dpi / 72
    if rot == 0:  # flat labels must fit side by side
        boxes = [lb.get_window_extent() for lb in labels]
        assert all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes))
    else:  # slanted labels are parallel lines: their distance across the text must exceed its height
        assert spacing * np.sin(np.radians(rot)) > 1.2 * height
    legend = ax.get_legend().get_window_extent()
    assert legend.y0 >= ax.get_window_extent().y1 - 1  # legend above the axes, not over the labels
