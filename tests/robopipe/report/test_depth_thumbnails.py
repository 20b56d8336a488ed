"""Report thumbnails of depth cameras (video and 16-bit PNG images): colour-mapped distances, not clipped RGB."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from robopipe.format.writer import DatasetWriter
from robopipe.report.thumbnails import camera_thumbnails, depth_preview
from robopipe.validate.context import load_context
from robopipe.validate.findings import FindingCollector
from tests.fixtures.datasets import depth_features

H, W = 24, 32


def _ramp() -> np.ndarray:
    """Near (400 mm) on the left to far (4 m) on the right."""
    return np.tile(np.linspace(400, 4000, W).astype(np.uint16), (H, 1))[:, :, None]


def test_depth_preview_maps_near_to_blue_far_to_red_and_no_reading_to_black() -> None:
    d = _ramp()
    d[0, 0] = 0
    rgb = depth_preview(d)
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
    assert rgb[5, 1, 2] > rgb[5, 1, 0] and rgb[5, -2, 0] > rgb[5, -2, 2]
    assert rgb[0, 0].tolist() == [0, 0, 0]
    assert depth_preview(np.zeros((H, W), np.uint16)).max() == 0


def test_report_thumbnails_of_depth_video_and_images(tmp_path: Path) -> None:
    feats = depth_features(H, W, video="depth", image="depth_png")
    root = tmp_path / "ds"
    with DatasetWriter.create(root, fps=10, features=feats) as w:
        for i in range(6):
            d = _ramp()
            w.add_frame(
                {
                    "observation.state": np.array([i], np.float32),
                    "observation.images.depth": d,
                    "observation.images.depth_png": d,
                },
                task="t",
            )
        w.save_episode()
    ctx = load_context(root, FindingCollector())
    for key in ("observation.images.depth", "observation.images.depth_png"):
        (thumb,) = camera_thumbnails(ctx, key, 1)
        assert thumb.png is not None, thumb.error
        rgb = np.asarray(Image.open(io.BytesIO(thumb.png)).convert("RGB")).astype(int)
        left, right = rgb[:, 1].mean(axis=0), rgb[:, -2].mean(axis=0)
        assert left[2] > left[0] + 50 and right[0] > right[2] + 50, (
            key,
            left,
            right,
        )  # not a flat/clipped picture
