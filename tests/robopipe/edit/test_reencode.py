"""Spans that do not start on a keyframe: only the head up to the next keyframe is re-encoded."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from robopipe.edit.packets import PacketCopier
from robopipe.edit.reencode import copy_spans, keyframe_indices
from robopipe.format.video import SegmentEncoder, VideoEncoderConfig, iter_frames
from tests.fixtures.datasets import synthetic_frame


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


@pytest.mark.parametrize(("codec", "info_codec"), [("libsvtav1", "av1"), ("h264", "h264")])
def test_non_keyframe_span_reencodes_only_the_head(tmp_path: Path, codec: str, info_codec: str) -> None:
    src = tmp_path / "src.mp4"
    enc = SegmentEncoder(src, 10, 64, 48, VideoEncoderConfig(codec=codec, g=4))  # type: ignore[arg-type]
    for i in range(20):
        enc.put(synthetic_frame(48, 64, 0, i))
    enc.close()
    keys = keyframe_indices(src, 10)
    assert 0 in keys and 5 not in keys
    nxt = min(k for k in keys if k > 5)
    out = tmp_path / "out.mp4"
    copier = PacketCopier(out, 10)
    info = {"video.codec": info_codec}
    assert copy_spans(copier, src, [(0, 3)], info) == 0
    assert (
        copy_spans(copier, src, [(5, 10), (16, 2)], info) == 1
    )  # the second span is copied after the fallback
    copier.close()
    got = list(iter_frames(out))
    want = list(iter_frames(src))
    order = [0, 1, 2, *range(5, 15), 16, 17]
    assert len(got) == len(order)
    for j, i in enumerate(order):
        diff = np.abs(got[j].astype(int) - want[i].astype(int)).max()
        if i < 5 or i >= nxt:
            assert diff == 0, (i, diff)  # stream-copied
        else:
            assert diff < 40, (i, diff)  # re-encoded head: close, not identical
    src_packets, out_packets = _packets(src), _packets(out)
    tail = 15 - nxt
    assert out_packets[-tail - 2 : -2] == src_packets[nxt:15]
    assert out_packets[-2:] == src_packets[16:18]
