"""One test per video rule: break a copy of a valid dataset, assert the exact finding."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from robopipe.format.video import VideoFileAppender
from robopipe.format.writer import DatasetWriter
from robopipe.validate import Severity, ValidationReport, validate_dataset
from tests.fixtures.datasets import default_features, synthetic_frame
from tests.robopipe.validate.helpers import (
    EPISODES,
    FPS,
    VIDEO,
    codes,
    edit_json,
    one,
    rewrite_parquet,
    set_column,
)

KEY = "observation.images.front"


def check(root: Path, **kwargs: object) -> ValidationReport:
    return validate_dataset(root, gx=False, **kwargs)  # type: ignore[arg-type]


def remux_without_last_packet(path: Path) -> None:
    """Stream-copy ``path`` minus its last frame (a dropped frame, container stays consistent)."""
    tmp = path.with_name("tmp.mp4")
    with av.open(str(path)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        src = inp.streams.video[0]
        dst = out.add_stream_from_template(src, opaque=True)
        packets = [p for p in inp.demux(src) if p.size]
        for p in packets[:-1]:
            p.stream = dst
            out.mux(p)
    tmp.replace(path)


def test_valid_full_decode_has_no_findings(valid_root: Path) -> None:
    report = check(valid_root, full_decode=True)
    assert report.findings == [], [f.model_dump() for f in report.findings]
    assert report.video_frames_checked == 27


def test_rp401_missing_camera_folder(broken: Path) -> None:
    shutil.rmtree(broken / "videos" / KEY)
    report = check(broken)
    f = one(report, "RP401")
    assert (f.file, f.feature, f.count) == (f"videos/{KEY}", KEY, 3)
    assert codes(report) == {"RP401"}


def test_rp402_missing_video_file(broken: Path) -> None:
    (broken / VIDEO).unlink()
    f = one(check(broken), "RP402")
    assert (f.file, f.count, f.actual) == (VIDEO, 3, "missing")


def test_rp403_truncated_mp4(broken: Path) -> None:
    p = broken / VIDEO
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    report = check(broken)
    f = one(report, "RP403")
    assert f.file == VIDEO and f.feature == KEY
    assert not report.valid


def test_rp403_truncated_mp4_full_decode(broken: Path) -> None:
    p = broken / VIDEO
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    assert "RP403" in codes(check(broken, full_decode=True))


def test_rp404_dropped_frame(broken: Path) -> None:
    remux_without_last_packet(broken / VIDEO)
    f = one(check(broken), "RP404")
    assert (f.episode, f.expected, f.actual, f.count) == (2, "10", "9", 1)


def test_rp405_to_timestamp(broken: Path) -> None:
    def shift(t):
        values = t.column(f"videos/{KEY}/to_timestamp").to_pylist()
        values[0] += 0.05
        return set_column(t, f"videos/{KEY}/to_timestamp", values)

    rewrite_parquet(broken / EPISODES, shift)
    f = one(check(broken), "RP405")
    assert (f.episode, f.expected, f.actual) == (0, "0.800000s (8 frames)", "0.850000s")


def test_rp405_from_timestamp_off_grid(broken: Path) -> None:
    def shift(t):
        for c in ("from_timestamp", "to_timestamp"):
            values = t.column(f"videos/{KEY}/{c}").to_pylist()
            values[1] += 0.03
            t = set_column(t, f"videos/{KEY}/{c}", values)
        return t

    rewrite_parquet(broken / EPISODES, shift)
    report = check(broken)
    f = [x for x in report.by_code("RP405") if x.message == "from_timestamp is not on a frame boundary"]
    assert len(f) == 1 and (f[0].episode, f[0].expected, f[0].actual) == (1, "0.800000", "0.830000")


def test_rp406_codec_mismatch(broken: Path) -> None:
    edit_json(broken / "meta/info.json", lambda d: d["features"][KEY]["info"].update({"video.codec": "hevc"}))
    f = one(check(broken), "RP406")
    assert (f.expected, f.actual, f.feature) == ("hevc", "av1", KEY)


def test_rp406_resolution_mismatch(broken: Path) -> None:
    def bigger(d):
        d["features"][KEY]["shape"] = [96, 128, 3]

    edit_json(broken / "meta/info.json", bigger)
    report = check(broken)
    assert {(f.expected, f.actual) for f in report.by_code("RP406")} == {("96", "48"), ("128", "64")}


def test_rp407_frozen_camera(tmp_path: Path) -> None:
    feats = default_features({"front": (48, 64)})
    rng = np.random.default_rng(0)
    with DatasetWriter.create(tmp_path / "ds", fps=FPS, features=feats) as w:
        frames = np.stack([synthetic_frame(48, 64, 0, i) for i in range(20)])
        frames[5:17] = frames[5]  # 12 identical frames
        w.add_episode(
            {
                "observation.state": rng.normal(size=(20, 6)).astype(np.float32),
                "action": rng.normal(size=(20, 6)).astype(np.float32),
                "observation.images.front": frames,
            },
            task="stare",
        )
    assert check(tmp_path / "ds").findings == []  # metadata mode does not decode
    report = check(tmp_path / "ds", full_decode=True)
    f = one(report, "RP407")
    assert (f.severity, f.episode, f.frame, f.count) == (Severity.WARNING, 0, 5, 12)
    assert report.valid


def test_rp408_extra_frames(broken: Path) -> None:
    p = broken / VIDEO
    tmp = p.with_name("doubled.mp4")
    app = VideoFileAppender(tmp, FPS)
    app.append(p)
    app.append(p)
    app.close()
    tmp.replace(p)
    f = one(check(broken), "RP408")
    assert (f.count, f.severity, f.actual) == (27, Severity.WARNING, "first at t=2.7000s")


def test_pts_not_on_frame_grid(broken: Path) -> None:
    """A file whose frames are at 2x the declared rate: pts and spans disagree with fps."""
    p = broken / VIDEO
    tmp = p.with_name("fast.mp4")
    with av.open(str(p)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        src = inp.streams.video[0]
        dst = out.add_stream_from_template(src, opaque=True)
        dst.time_base = Fraction(1, 2 * FPS * 512)
        for k, pkt in enumerate(q for q in inp.demux(src) if q.size):
            pkt.stream = dst
            pkt.time_base = dst.time_base
            pkt.pts = pkt.dts = k * 512
            pkt.duration = 512
            out.mux(pkt)
    tmp.replace(p)
    report = check(broken)
    assert {"RP405", "RP406"} <= codes(report)


def test_rp405_span_past_end_of_stream(broken: Path) -> None:
    def shift(t):
        for c in ("from_timestamp", "to_timestamp"):
            values = t.column(f"videos/{KEY}/{c}").to_pylist()
            values[2] += 1.0
            t = set_column(t, f"videos/{KEY}/{c}", values)
        return t

    rewrite_parquet(broken / EPISODES, shift)
    report = check(broken)
    past = [
        f for f in report.by_code("RP405") if f.message == "to_timestamp is past the end of the video stream"
    ]
    assert len(past) == 1 and (past[0].episode, past[0].actual) == (2, "3.700000s")
    assert one(report, "RP404").actual == "0"
