"""Depth maps without LeRobot: quantiser properties, writer -> reader round trip, stats units, merge guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robopipe.edit import MergeRequest, merge
from robopipe.errors import FormatError, FrameError, SchemaMismatchError
from robopipe.format import depth
from robopipe.format.info import load_info
from robopipe.format.reader import DatasetReader
from robopipe.format.writer import DatasetWriter
from robopipe.stats import load_stats_json
from robopipe.validate import validate_dataset
from tests.fixtures.datasets import depth_features

H, W = 24, 32
CAM = ["height", "width", "channels"]


def _write(root: Path, frames: list[np.ndarray], images: list[np.ndarray], **depth_info: object) -> Path:
    feats = depth_features(H, W, video="depth", image="depth_png")
    feats["observation.images.depth"]["info"].update(depth_info)
    with DatasetWriter.create(root, fps=10, features=feats) as w:
        for i, (d, im) in enumerate(zip(frames, images, strict=True)):
            w.add_frame(
                {
                    "observation.state": np.array([i], np.float32),
                    "observation.images.depth": d,
                    "observation.images.depth_png": im,
                },
                task="t",
            )
            if i == len(frames) // 2:
                w.save_episode()
        w.save_episode()
    return root


def test_quantiser_is_monotone_and_close() -> None:
    mm = np.arange(10, 10001, 7, dtype=np.uint16)[None, :]
    for log in (True, False):
        cfg = depth.DepthEncoderConfig(use_log=log)
        codes = depth.quantize(mm, cfg)
        assert codes.dtype == np.uint16 and codes.max() <= depth.DEPTH_QMAX
        assert np.all(np.diff(codes[0].astype(int)) >= 0)
        back = depth.dequantize(codes, cfg).astype(float)
        # one 12-bit step: linear 10 m / 4095 ~ 2.4 mm; log steps grow with depth (< 0.2 % + 1 mm here)
        tol = 2.5 if not log else 0.002 * mm.astype(float) + 1.0
        assert np.all(np.abs(back - mm) <= tol)
    with pytest.raises(ValueError, match="depth_min"):
        depth.DepthEncoderConfig(depth_min=2.0, depth_max=1.0)
    with pytest.raises(FormatError, match="shift"):
        depth.DepthEncoderConfig.from_info({"video.depth_min": 0.0, "video.shift": 0.0})


def test_writer_reader_round_trip_and_stats(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(200, 5000, (H, W, 1)).astype(np.uint16) for _ in range(7)]
    images = [rng.integers(0, 65535, (H, W)).astype(np.uint16) for _ in range(7)]
    root = _write(tmp_path / "ds", frames, images, **{"video.use_log": False})
    info = load_info(root).features["observation.images.depth"].info
    assert info is not None and info["video.pix_fmt"] == "gray12le" and info["video.use_log"] is False
    assert info["depth_unit"] == "mm" and info["is_depth_map"] is True and "video.is_depth_map" not in info
    cfg = depth.DepthEncoderConfig(use_log=False)
    r = DatasetReader(root)
    got = [f for e in range(r.num_episodes) for f in r.iter_video_frames("observation.images.depth", e)]
    assert len(got) == 7
    for g, d in zip(got, frames, strict=True):
        assert g.dtype == np.uint16 and g.shape == (H, W, 1)
        np.testing.assert_array_equal(g[:, :, 0], depth.dequantize(depth.quantize(d, cfg), cfg))
    np.testing.assert_array_equal(r.decode_image("observation.images.depth_png", 1, 0)[:, :, 0], images[4])
    stats = load_stats_json(root)
    assert stats is not None
    img = stats["observation.images.depth_png"]
    assert img["max"].shape == (1, 1, 1) and float(img["max"].max()) > 255  # stored unit, not / 255
    assert float(stats["observation.images.depth"]["min"].min()) >= 150
    assert validate_dataset(root, gx=False, full_decode=True).valid


def test_depth_frames_are_checked(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"\(height, width, 1\)"):
        DatasetWriter.create(
            tmp_path / "x",
            fps=10,
            features={
                "d": {"dtype": "video", "shape": [H, W, 3], "names": CAM, "info": {"is_depth_map": True}}
            },
        )
    ok = np.zeros((H, W, 1), np.uint16)
    with pytest.raises(FrameError, match="uint16"):
        _write(tmp_path / "y", [ok.astype(np.uint8)], [ok])


def test_merge_refuses_different_quantisers(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frames = [rng.integers(200, 5000, (H, W, 1)).astype(np.uint16) for _ in range(3)]
    a = _write(tmp_path / "a", frames, [f[:, :, 0] for f in frames])
    b = _write(tmp_path / "b", frames, [f[:, :, 0] for f in frames], **{"video.use_log": False})
    with pytest.raises(SchemaMismatchError, match=r"video\.use_log"):
        merge(MergeRequest(out=tmp_path / "m", roots=[a, b]))
    merge(MergeRequest(out=tmp_path / "m2", roots=[a, a]))
    assert DatasetReader(tmp_path / "m2").num_episodes == 4


def test_legacy_depth_marker_is_read() -> None:
    from robopipe.format.features import FeatureSpec

    legacy = FeatureSpec(dtype="video", shape=(H, W, 1), info={"video.is_depth_map": True})
    assert legacy.is_depth_map
    assert not FeatureSpec(dtype="video", shape=(H, W, 3), info={"video.is_depth_map": False}).is_depth_map
    assert FeatureSpec.model_validate(
        {"dtype": "video", "shape": [H, W, 1], "video_info": {"video.is_depth_map": True}}
    ).is_depth_map


def test_float_metre_depth(tmp_path: Path) -> None:
    """depth_unit 'm': float32 frames, quantised from metres (0.6.1's rule for float input), stats in metres."""
    rng = np.random.default_rng(4)
    frames = [rng.uniform(0.2, 6.0, (H, W, 1)).astype(np.float32) for _ in range(5)]
    feats = {
        "observation.images.depth": {
            "dtype": "video",
            "shape": [H, W, 1],
            "names": CAM,
            "info": {"is_depth_map": True, "depth_unit": "m"},
        },
        "observation.images.depth_tiff": {
            "dtype": "image",
            "shape": [H, W, 1],
            "names": CAM,
            "info": {"is_depth_map": True, "depth_unit": "m"},
        },
    }
    root = tmp_path / "m"
    with DatasetWriter.create(root, fps=10, features=feats) as w:
        for d in frames:
            w.add_frame(
                {"observation.images.depth": d, "observation.images.depth_tiff": d.astype(np.float64)},
                task="t",
            )
        w.save_episode()
        with pytest.raises(FrameError, match="float32 depth frames in metres"):
            w.add_frame(
                {
                    "observation.images.depth": frames[0].astype(np.uint16),
                    "observation.images.depth_tiff": frames[0],
                },
                task="t",
            )
    cfg = depth.DepthEncoderConfig()
    r = DatasetReader(root)
    got = list(r.iter_video_frames("observation.images.depth", 0))
    for g, d in zip(got, frames, strict=True):
        assert g.dtype == np.float32
        np.testing.assert_array_equal(g[:, :, 0], depth.dequantize(depth.quantize(d, cfg), cfg, "m"))
    np.testing.assert_array_equal(r.decode_image("observation.images.depth_tiff", 0, 3), frames[3])
    stats = load_stats_json(root)
    assert stats is not None
    st = stats["observation.images.depth_tiff"]
    assert st["max"].shape == (1, 1, 1) and st["count"].tolist() == [5]
    np.testing.assert_allclose(st["max"].item(), max(f.max() for f in frames), rtol=1e-6)
    np.testing.assert_allclose(st["mean"].item(), np.mean(np.stack(frames), dtype=np.float64), rtol=1e-5)
    assert validate_dataset(root, gx=False, full_decode=True).valid
    # recomputing from the stored files gives the writer's image stats back (TIFF is lossless)
    from robopipe.stats.recompute import StatsRequest, recompute_stats

    recompute_stats(StatsRequest(root=root))
    again = load_stats_json(root)
    assert again is not None
    for s in ("min", "max", "mean", "std", "q50"):
        np.testing.assert_allclose(again["observation.images.depth_tiff"][s], st[s], rtol=1e-9)
    np.testing.assert_allclose(again["observation.images.depth"]["mean"], st["mean"], rtol=2e-3)
