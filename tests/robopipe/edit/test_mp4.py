"""The byte-level mp4 path: parses what LeRobot/robopipe write, refuses what it cannot copy safely."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from robopipe.edit.mp4 import Unsupported, concat_spans, parse_mp4
from robopipe.format.video import SegmentEncoder, VideoEncoderConfig, iter_frames
from tests.fixtures.datasets import synthetic_frame


def _encode(path: Path, n: int, codec: str = "libsvtav1", episode: int = 0) -> Path:
    enc = SegmentEncoder(path, 10, 64, 48, VideoEncoderConfig(codec=codec))  # type: ignore[arg-type]
    for i in range(n):
        enc.put(synthetic_frame(48, 64, episode, i))
    enc.close()
    return path


def test_concat_spans_keeps_packets_and_timing(tmp_path: Path) -> None:
    a = parse_mp4(_encode(tmp_path / "a.mp4", 8))
    b = parse_mp4(_encode(tmp_path / "b.mp4", 6, episode=1))
    assert a.num_samples == 8 and a.sync[0] and a.timescale == a.delta * 10
    out = tmp_path / "out.mp4"
    assert concat_spans(out, [(a, 2, 4), (b, 0, 6)], 10) == 10
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        pk = [(float(p.pts * s.time_base), bytes(p)) for p in c.demux(s) if p.size]
    with av.open(str(a.path)) as c:
        src_a = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
    assert [t for t, _ in pk] == pytest.approx([k / 10 for k in range(10)])
    assert [b for _, b in pk[:4]] == src_a[2:6]
    assert len(list(iter_frames(out))) == 10
    with pytest.raises(Unsupported, match="not a keyframe"):
        concat_spans(tmp_path / "x.mp4", [(a, 1, 2)], 10)
    with pytest.raises(Unsupported, match="1/15"):
        concat_spans(tmp_path / "y.mp4", [(a, 0, 2)], 15)


def test_b_frames_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bf.mp4"
    with av.open(str(path), "w") as c:
        st = c.add_stream("libx264", rate=10, options={"bf": "2", "g": "8"})
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        st.codec_context.time_base = Fraction(1, 10)
        for i in range(12):
            f = av.VideoFrame.from_ndarray(synthetic_frame(48, 64, 0, i), format="rgb24")
            f.pts = i
            for p in st.encode(f):
                c.mux(p)
        for p in st.encode():
            c.mux(p)
    with pytest.raises(Unsupported):
        parse_mp4(path)
