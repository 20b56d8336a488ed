"""The one-page HTML report: self-contained, every section present, the dataset untouched."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

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
    assert not re.search(r"""(src|href)=['"](https?:|/|file:)""", html)  # nothing external
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
