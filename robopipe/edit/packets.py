"""Fast stream copy of keyframe-aligned frame spans into one mp4 (core layer).

Same contract as :class:`robopipe.format.video.VideoFileAppender` (frame k of the output has pts
exactly k/fps; every span must start on a keyframe), tuned for edits that copy many spans from the
same source files: the source is opened once per run of spans, each span starts with a seek to its
keyframe instead of demuxing from the start of the file, and pts arithmetic is done in integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from robopipe.errors import CorruptFileError, FormatError
from robopipe.format.video import first_video_stream

_TICKS = 512  # output time base 1/(fps*512), as the dataset writer uses


class NotKeyframeError(FormatError):
    """A span does not start on a keyframe (stream copy impossible there); spans before it were copied."""

    def __init__(self, message: str, span_index: int = 0) -> None:
        super().__init__(message)
        self.span_index = span_index


class PacketCopier:
    """Write one mp4 from spans of source mp4s by stream copy."""

    def __init__(self, tmp_path: Path, fps: int) -> None:
        self.tmp_path = Path(tmp_path)
        self.fps = fps
        self.num_frames = 0
        self._container: Any = None
        self._stream: Any = None
        self._codec: tuple[str, int, int] | None = None
        self._tb = Fraction(1, fps * _TICKS)

    def _open_output(self, in_stream: Any, src: Path) -> None:
        cc = in_stream.codec_context
        key = (cc.name, cc.width, cc.height)
        if self._container is None:
            self.tmp_path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.tmp_path), mode="w", format="mp4")
            self._stream = self._container.add_stream_from_template(in_stream, opaque=True)
            self._stream.time_base = self._tb
            self._codec = key
        elif key != self._codec:
            raise FormatError(
                f"{src}: cannot append {key[0]} {key[1]}x{key[2]} to a {self._codec} video file "
                "(codec and resolution must match for stream copy)"
            )

    def append(self, src: Path, start_frame: int = 0, num_frames: int | None = None) -> tuple[int, int]:
        """Copy frames ``[start_frame, start_frame+num_frames)`` of ``src`` (``None``: to the end)."""
        first = self.num_frames
        self.append_spans(src, [(start_frame, num_frames)])
        return first, self.num_frames - first

    def append_spans(self, src: Path, spans: Sequence[tuple[int, int | None]]) -> None:
        """Copy several spans of one source file, in order, opening it once."""
        try:
            with av.open(str(src)) as inp:
                in_stream = first_video_stream(inp, src)
                self._open_output(in_stream, src)
                tb = in_stream.time_base
                if tb is None:
                    raise CorruptFileError(f"{src}: video stream has no time base")
                for j, (start, num) in enumerate(spans):
                    try:
                        self._copy_span(
                            inp, in_stream, src, int(tb.numerator), int(tb.denominator), start, num
                        )
                    except NotKeyframeError as exc:
                        exc.span_index = j
                        raise
        except av.error.FFmpegError as exc:
            raise CorruptFileError(f"{src}: unreadable video ({exc})") from exc

    def _copy_span(
        self, inp: Any, in_stream: Any, src: Path, tb_num: int, tb_den: int, start: int, num: int | None
    ) -> None:
        fps = self.fps
        if start > 0:
            # seek to the keyframe at or before the span start (pts in the stream's time base)
            inp.seek((start * tb_den) // (tb_num * fps), stream=in_stream, backward=True, any_frame=False)
        else:
            inp.seek(0, stream=in_stream, backward=True, any_frame=False)
        end = None if num is None else start + num
        first_out = self.num_frames
        copied = 0
        half = tb_den // 2
        for packet in inp.demux(in_stream):
            if packet.size == 0 or packet.pts is None:
                continue
            k = (packet.pts * tb_num * fps + half) // tb_den
            if k < start:
                continue
            if end is not None and k >= end:
                if num is None or copied >= num:
                    break
                continue  # reordered (B-frame) packet of a later frame, decoded before the span's last one
            if copied == 0 and (k != start or not packet.is_keyframe):
                raise NotKeyframeError(
                    f"{src}: frame {start} is not a keyframe; stream copy needs keyframe-aligned spans"
                )
            # decode delay of reordered streams (HEVC with B-frames, as LeRobot 0.6.1 writes depth): dts
            # keeps its offset below pts, so decode order and dts monotonicity carry over unchanged
            delay = 0 if packet.dts is None else ((packet.pts - packet.dts) * tb_num * fps * _TICKS) // tb_den
            packet.stream = self._stream
            packet.time_base = self._tb  # the muxer may have changed the stream's; rescaled on mux
            packet.pts = (first_out + k - start) * _TICKS
            packet.dts = packet.pts - delay
            packet.duration = _TICKS
            self._container.mux(packet)
            copied += 1
        if num is not None and copied != num:
            raise CorruptFileError(f"{src}: expected {num} frames from frame {start}, found {copied}")
        self.num_frames += copied

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
