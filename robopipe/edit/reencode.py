"""Append one episode span to an output video, re-encoding only what stream copy cannot do (core layer).

Every episode robopipe or LeRobot writes starts on a keyframe, so this is a plain stream copy. When
a span starts on a non-keyframe (a file cut by another tool), the frames from the span start up to
the next keyframe are decoded (the decoder starts at the previous keyframe) and re-encoded with the
stream's codec; the rest of the span is stream-copied. Only that head is affected.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robopipe.edit.packets import NotKeyframeError, PacketCopier
from robopipe.errors import FormatError
from robopipe.format.features import is_depth_info
from robopipe.format.video import SegmentEncoder, VideoEncoderConfig, iter_frames, open_video

log = logging.getLogger(__name__)

_ENCODERS = {"av1": "libsvtav1", "h264": "h264", "hevc": "hevc"}


def keyframe_indices(src: Path, fps: int) -> list[int]:
    """Frame numbers (pts * fps) of the keyframes of ``src`` (demux only, no decode)."""
    out = []
    with open_video(src) as (inp, stream):
        tb = stream.time_base
        if tb is None:
            raise FormatError(f"{src}: video stream has no time base")
        for packet in inp.demux(stream):
            if packet.size and packet.pts is not None and packet.is_keyframe:
                out.append(round(float(packet.pts * tb) * fps))
    return sorted(out)


def copy_spans(
    copier: PacketCopier, src: Path, spans: Sequence[tuple[int, int]], info: dict[str, Any] | None
) -> int:
    """Stream-copy ``(start, frames)`` spans of ``src``; returns how many needed a re-encoded head."""
    reencoded = 0
    rest = list(spans)
    while rest:
        try:
            copier.append_spans(src, rest)
            return reencoded
        except NotKeyframeError as exc:
            start, num = rest[exc.span_index]
            reencode_span(copier, src, start, num, info)
            reencoded += 1
            rest = rest[exc.span_index + 1 :]
    return reencoded


def reencode_span(copier: PacketCopier, src: Path, start: int, num: int, info: dict[str, Any] | None) -> None:
    """Append a span that starts on a non-keyframe: re-encode up to the next keyframe, copy the rest."""
    keys = keyframe_indices(src, copier.fps)
    nxt = next((k for k in keys if start < k < start + num), start + num)
    codec = str((info or {}).get("video.codec", "av1"))
    if is_depth_info(info):
        raise FormatError(
            f"{src}: frame {start} is not a keyframe and {codec} depth video cannot be re-encoded losslessly "
            "here; edit whole episodes (their spans start on keyframes)"
        )
    encoder = _ENCODERS.get(codec)
    if encoder is None:
        raise FormatError(
            f"{src}: frame {start} is not a keyframe and codec {codec!r} cannot be re-encoded here"
        )
    frames = list(iter_frames(src, start / copier.fps, nxt - start))
    if len(frames) != nxt - start:
        raise FormatError(f"{src}: decoded {len(frames)} frames from frame {start}, expected {nxt - start}")
    h, w = frames[0].shape[:2]
    log.warning(
        "%s: span at frame %d does not start on a keyframe; re-encoding %d frames", src, start, nxt - start
    )
    with tempfile.TemporaryDirectory(prefix="robopipe-reencode-") as tmpdir:
        seg = Path(tmpdir) / "head.mp4"
        enc = SegmentEncoder(seg, copier.fps, w, h, VideoEncoderConfig(codec=encoder))  # type: ignore[arg-type]
        for fr in frames:
            enc.put(fr)
        enc.close()
        copier.append(seg)
    if nxt < start + num:
        copier.append(src, nxt, start + num - nxt)
