"""Video I/O for LeRobotDataset v3.0 with PyAV (core layer).

* :class:`SegmentEncoder` streams numpy frames straight into an encoder in a background thread (bounded
  queue, so memory stays flat and capture never waits on encoding) and writes one mp4 *segment* per
  episode and camera. A fresh encoder per segment means every episode starts on a keyframe.
* :class:`VideoFileAppender` stream-copies segments (no decode, no re-encode) into one dataset video
  file, shifting pts so frame k of the file has pts exactly k/fps.
* :func:`decode_frames` decodes frames at given timestamps; :func:`probe_video` reads container facts.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Literal

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from robopipe.errors import CorruptFileError, FormatError
from robopipe.format import depth
from robopipe.format.depth import DepthEncoderConfig

log = logging.getLogger(__name__)

# SVT-AV1 prints a banner per encoder to stderr; keep errors only unless the user asked otherwise.
os.environ.setdefault("SVT_LOG", "1")
# Never call av.logging.set_level(): it installs a Python log callback that FFmpeg's codec threads
# call into, which deadlocks when the GIL holder waits on those threads (seen with SVT-AV1/x264).

CODEC_NAMES = {
    "libsvtav1": "av1",
    "av1": "av1",
    "h264": "h264",
    "libx264": "h264",
    "hevc": "hevc",
    "libx265": "hevc",
}


#: Encoder settings LeRobot 0.6.1 records per video feature (``VIDEO_ENCODER_INFO_KEYS``).
ENCODER_INFO_KEYS = (
    "video.g",
    "video.crf",
    "video.preset",
    "video.fast_decode",
    "video.video_backend",
    "video.extra_options",
)


def quiet_encoder(options: dict[str, str]) -> dict[str, str]:
    """``options`` with libx265's own console log (it prints ``x265 [info]`` lines straight to stderr,
    past FFmpeg's log level) limited to errors; a run-time setting, not recorded in ``info.json``."""
    if "x265-params" not in options:
        return options
    return {**options, "x265-params": options["x265-params"] + ":log-level=error"}


class VideoEncoderConfig(BaseModel):
    """Encoder settings. Defaults are LeRobot's: libsvtav1, crf 30, GOP 2, preset 12, yuv420p."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    codec: Literal["libsvtav1", "h264", "libx264", "hevc", "libx265"] = Field(
        default="libsvtav1", description="encoder: libsvtav1 (AV1, LeRobot's default) or h264/hevc"
    )
    crf: int = Field(default=30, ge=0, le=63, description="constant rate factor (lower = better quality)")
    g: int = Field(default=2, ge=1, description="GOP size; 2 makes random access cheap, as LeRobot does")
    preset: int | str | None = Field(default=None, description="speed preset (svtav1: 12; x264: 'veryfast')")
    pix_fmt: str = Field(default="yuv420p", description="pixel format of the encoded stream")
    threads: int | None = Field(default=None, description="encoder threads (None = encoder default)")
    queue_frames: int = Field(
        default=64, ge=1, description="frames buffered per camera before add_frame blocks"
    )

    def stream_options(self) -> dict[str, str]:
        opts = {"g": str(self.g), "crf": str(self.crf)}
        if self.codec == "libsvtav1":
            opts["preset"] = str(self.preset if self.preset is not None else 12)
            if self.threads:
                opts["svtav1-params"] = f"lp={self.threads}"
        else:
            opts["preset"] = str(self.preset if self.preset is not None else "veryfast")
            opts["bf"] = "0"  # no B-frames: decode order == presentation order, clean episode cuts
            # parameter sets in-band at every keyframe, so episodes from other encoders (stream-copied
            # robot-log video) can share a file: each episode decodes with its own SPS/PPS
            opts["x264-params" if self.codec in ("h264", "libx264") else "x265-params"] = "repeat-headers=1"
            if self.threads:
                opts["threads"] = str(self.threads)
        return opts

    @property
    def codec_name(self) -> str:
        """Canonical codec name as LeRobot records it in ``info`` (``av1``, ``h264``, ``hevc``)."""
        return CODEC_NAMES[self.codec]

    def info_keys(self) -> dict[str, Any]:
        """The encoder settings LeRobot 0.6.1 records under a video feature's ``info`` (``video.g``, ...)."""
        opts = self.stream_options()
        preset: int | str = opts["preset"]
        if self.codec == "libsvtav1":
            preset = int(preset)
        extra = {k: v for k, v in opts.items() if k not in ("g", "crf", "preset", "threads", "svtav1-params")}
        return {
            "video.g": self.g,
            "video.crf": self.crf,
            "video.preset": preset,
            "video.fast_decode": 0,
            "video.video_backend": "pyav",
            "video.extra_options": extra,
        }


_SENTINEL = object()
# Encoder threads are reused across segments: a fresh thread per episode makes glibc open new malloc
# arenas and the process grows for dozens of episodes. FIFO scheduling means an episode's encoders always
# start before a later episode's, so a full pool delays but never deadlocks.
_ENCODER_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="segment-encoder")


class SegmentEncoder:
    """Encode one camera's frames of one episode into ``path`` in a background thread.

    ``put(frame)`` returns as soon as the frame is queued (blocks only when ``queue_frames`` frames are
    waiting, so memory is bounded). ``close()`` waits for the encoder to drain and returns the number of
    frames written. An ``on_frame`` callback runs in the encoder thread (used for image statistics).
    """

    def __init__(
        self,
        path: Path,
        fps: int,
        width: int,
        height: int,
        config: VideoEncoderConfig | DepthEncoderConfig,
        on_frame: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.width = width
        self.height = height
        self.config = config
        self._on_frame = on_frame
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=config.queue_frames)
        self._error: BaseException | None = None
        self._count = 0
        self._done = _ENCODER_POOL.submit(self._run)

    def put(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise FormatError(f"video encoder for {self.path} failed: {self._error}") from self._error
        self._queue.put(frame)

    def close(self) -> int:
        """Flush the encoder and close the file; returns the number of frames encoded."""
        self._queue.put(_SENTINEL)
        self._done.result()
        if self._error is not None:
            raise FormatError(f"video encoder for {self.path} failed: {self._error}") from self._error
        return self._count

    def abort(self) -> None:
        """Stop without caring about the output (used when an episode is discarded)."""
        while True:  # drain so the thread can see the sentinel even if the queue is full
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_SENTINEL)
        self._done.result()
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        try:
            container = av.open(str(self.path), mode="w", format="mp4")
            try:
                stream: Any = container.add_stream(
                    self.config.codec, rate=self.fps, options=quiet_encoder(self.config.stream_options())
                )
                stream.width, stream.height, stream.pix_fmt = self.width, self.height, self.config.pix_fmt
                stream.codec_context.time_base = Fraction(1, self.fps)
                while True:
                    item = self._queue.get()
                    if item is _SENTINEL:
                        break
                    if self._error is not None:
                        continue
                    if isinstance(self.config, DepthEncoderConfig):  # 12-bit codes, as LeRobot 0.6.1
                        vf = av.VideoFrame.from_ndarray(
                            depth.quantize(item, self.config), format=self.config.pix_fmt
                        )
                    else:
                        vf = av.VideoFrame.from_ndarray(item, format="rgb24")
                    vf.pts = self._count
                    vf.time_base = Fraction(1, self.fps)
                    for packet in stream.encode(vf):
                        container.mux(packet)
                    if self._on_frame is not None:
                        self._on_frame(item)
                    self._count += 1
                for packet in stream.encode():
                    container.mux(packet)
            finally:
                container.close()
        except BaseException as exc:  # surfaced to the caller on the next put()/close()
            self._error = exc
            while True:  # unblock a producer waiting on a full queue
                try:
                    if self._queue.get_nowait() is _SENTINEL:
                        break
                except queue.Empty:
                    break


@dataclass(frozen=True)
class EncodedVideo:
    """Compressed packets of one camera for one episode, to be stream-copied instead of re-encoded.

    One packet per frame in presentation order (no B-frames), the first a keyframe, in Annex-B form with
    the parameter sets in-band at keyframes (as Foxglove CompressedVideo requires).
    """

    codec: str  # "h264" or "hevc" (LeRobot's names)
    packets: tuple[bytes, ...]
    keyframes: tuple[bool, ...]


def write_packets_mp4(path: Path, fps: int, video: EncodedVideo) -> None:
    """Mux ``video``'s packets into an mp4 at ``path``, frame k at pts k/fps (no decode, no encode)."""
    import io

    if not video.packets or not video.keyframes[0]:
        raise FormatError(f"{path}: stream copy needs packets that start on a keyframe")
    with av.open(io.BytesIO(video.packets[0]), format=video.codec) as inp:  # codec parameters + extradata
        template = inp.streams.video[0]
        with av.open(str(path), mode="w", format="mp4") as out:
            stream = out.add_stream_from_template(template, opaque=True)
            tb = Fraction(1, fps * 512)
            stream.time_base = tb
            for k, (data, key) in enumerate(zip(video.packets, video.keyframes)):
                packet = av.Packet(data)
                packet.stream = stream
                packet.time_base = tb
                packet.pts = packet.dts = k * 512
                packet.duration = 512
                packet.is_keyframe = key
                out.mux(packet)


class PacketSegmentWriter:
    """Stands in for :class:`SegmentEncoder` when an episode's camera is stream-copied: ``put`` only feeds
    the image statistics (the frames are the decoded source packets, i.e. exactly what the file holds) and
    ``close`` muxes the packets."""

    def __init__(
        self, path: Path, fps: int, video: EncodedVideo, on_frame: Callable[[np.ndarray], None] | None = None
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.video = video
        self._on_frame = on_frame
        self._count = 0

    def put(self, frame: np.ndarray) -> None:
        if self._on_frame is not None:
            self._on_frame(frame)
        self._count += 1

    def close(self) -> int:
        if self._count != len(self.video.packets):
            raise FormatError(
                f"{self.path}: {self._count} frames for {len(self.video.packets)} stream-copied packets"
            )
        write_packets_mp4(self.path, self.fps, self.video)
        return self._count

    def abort(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SegmentPackets:
    """Packets of one keyframe-aligned span of a video file, ready to be stream-copied."""

    path: Path
    start_frame: int  # first frame (in the source file) of the span
    num_frames: int


class VideoFileAppender:
    """Build one dataset mp4 by stream-copying spans of source mp4s, one after the other.

    Frame k of the output has pts k/fps. Each appended span must start on a keyframe (true for every
    episode robopipe or LeRobot wrote). The output is written to ``tmp_path`` and renamed by the caller.
    """

    def __init__(self, tmp_path: Path, fps: int) -> None:
        self.tmp_path = Path(tmp_path)
        self.fps = fps
        self.num_frames = 0
        self.bytes_written = 0  # packet payload so far (the muxer buffers, so the file size lags)
        self._container: Any = None
        self._stream: Any = None
        self._codec: tuple[str, int, int] | None = None

    @property
    def size_bytes(self) -> int:
        return self.bytes_written

    def append(self, src: Path, start_frame: int = 0, num_frames: int | None = None) -> tuple[int, int]:
        """Copy frames ``[start_frame, start_frame+num_frames)`` of ``src``; returns (first, count) in the output."""
        first = self.num_frames
        copied = 0
        with av.open(str(src)) as inp:
            in_stream = first_video_stream(inp, src)
            cc = in_stream.codec_context
            key = (cc.name, cc.width, cc.height)
            if self._container is None:
                self.tmp_path.parent.mkdir(parents=True, exist_ok=True)
                self._container = av.open(str(self.tmp_path), mode="w", format="mp4")
                self._stream = self._container.add_stream_from_template(in_stream, opaque=True)
                self._stream.time_base = Fraction(1, self.fps * 512)
                self._codec = key
            elif key != self._codec:
                raise FormatError(
                    f"{src}: cannot append {key[0]} {key[1]}x{key[2]} to a {self._codec} video file "
                    "(codec and resolution must match)"
                )
            tb = _time_base(in_stream)
            for packet in inp.demux(in_stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                k = round(float(packet.pts * tb) * self.fps)
                if k < start_frame:
                    continue
                if num_frames is not None and k >= start_frame + num_frames:
                    break
                if copied == 0 and not packet.is_keyframe:
                    raise FormatError(
                        f"{src}: frame {start_frame} is not a keyframe; stream copy needs keyframe-aligned spans"
                    )
                out_k = first + (k - start_frame)
                packet.stream = self._stream
                packet.time_base = Fraction(1, self.fps * 512)
                packet.pts = packet.dts = out_k * 512
                packet.duration = 512
                self.bytes_written += packet.size
                self._container.mux(packet)
                copied += 1
        if num_frames is not None and copied != num_frames:
            raise CorruptFileError(
                f"{src}: expected {num_frames} frames from frame {start_frame}, found {copied}"
            )
        self.num_frames += copied
        return first, copied

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()


def first_video_stream(container: Any, path: Path | str) -> Any:
    """The first video stream of an opened container, or :class:`CorruptFileError` naming the file.

    A truncated mp4 can list a stream without codec parameters; decoding it crashes PyAV (SIGSEGV),
    so it is refused here.
    """
    if not container.streams.video:
        raise CorruptFileError(f"{path}: no video stream (truncated or not a video); re-encode it")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise CorruptFileError(
            f"{path}: video stream without codec parameters (truncated file); re-encode it"
        )
    return stream


VideoSource = Path | str | IO[bytes]  # a local path, or a seekable file object (a remote mp4 read by ranges)


def source_name(path: VideoSource) -> str:
    """How errors name a video source (a remote file object carries its credential-free URL as ``label``)."""
    if isinstance(path, str | Path):
        return str(path)
    return str(getattr(path, "label", None) or getattr(path, "name", "video"))


@contextmanager
def open_video(path: VideoSource) -> Iterator[tuple[Any, Any]]:
    """``(container, first video stream)`` of ``path``; decode errors become :class:`CorruptFileError`
    naming the file (a truncated or garbage mp4 is the user's input, not a crash)."""
    local = isinstance(path, str | Path)
    name = source_name(path)
    try:
        with av.open(str(path) if local else path) as container:
            yield container, first_video_stream(container, name)
    except av.error.FFmpegError as exc:
        raise CorruptFileError(f"{name}: unreadable video ({exc.strerror or exc}); re-encode it") from exc


def rgb24(frame: Any) -> np.ndarray:
    """A decoded frame as HxWx3 uint8 RGB (the default conversion)."""
    return np.asarray(frame.to_ndarray(format="rgb24"))


def decode_frames(
    path: VideoSource,
    timestamps: Sequence[float],
    tolerance_s: float = 1e-4,
    convert: Callable[[Any], np.ndarray] = rgb24,
) -> np.ndarray:
    """Decode the frames at ``timestamps`` (seconds in the file), ``(N, H, W, 3)`` uint8 RGB unless ``convert``."""
    wanted = sorted(set(float(t) for t in timestamps))
    found: dict[float, np.ndarray] = {}
    with open_video(path) as (container, stream):
        tb = _time_base(stream)
        i = 0
        while i < len(wanted):
            target = wanted[i]
            container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                t = float(frame.pts * tb)
                while i < len(wanted) and wanted[i] < t - tolerance_s:
                    raise CorruptFileError(
                        f"{source_name(path)}: no frame at t={wanted[i]:.6f}s (next frame at {t:.6f}s)"
                    )
                if i < len(wanted) and abs(t - wanted[i]) <= tolerance_s:
                    found[wanted[i]] = convert(frame)
                    i += 1
                    if i < len(wanted) and wanted[i] - t > 1.0:
                        break  # far jump: seek again
                if i >= len(wanted):
                    break
            else:
                if i < len(wanted):
                    raise CorruptFileError(
                        f"{source_name(path)}: no frame at t={wanted[i]:.6f}s (end of stream)"
                    )
    return np.stack([found[float(t)] for t in timestamps]) if timestamps else np.zeros((0, 0, 0, 3), np.uint8)


def iter_frames(
    path: VideoSource,
    start_s: float = 0.0,
    num_frames: int | None = None,
    convert: Callable[[Any], np.ndarray] = rgb24,
) -> Iterator[np.ndarray]:
    """Decode consecutive frames from ``start_s`` (one episode's span of a file), HxWx3 uint8 unless ``convert``."""
    with open_video(path) as (container, stream):
        tb = _time_base(stream)
        container.seek(int(start_s / tb), stream=stream, backward=True, any_frame=False)
        n = 0
        for frame in container.decode(stream):
            if float(frame.pts * tb) < start_s - 1e-4:
                continue
            yield convert(frame)
            n += 1
            if num_frames is not None and n >= num_frames:
                return


@dataclass(frozen=True)
class VideoProbe:
    """Container facts of one mp4 (no decoding)."""

    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: float
    num_frames: int
    duration_s: float
    has_audio: bool

    def lerobot_info(self) -> dict[str, Any]:
        """The stream facts LeRobot writes in a video feature's ``info`` (0.6.1's top-level ``is_depth_map``)."""
        channels = 1 if self.pix_fmt.startswith(("gray", "mono")) else 4 if "a" in self.pix_fmt[:4] else 3
        return {
            "video.height": self.height,
            "video.width": self.width,
            "video.codec": self.codec,
            "video.pix_fmt": self.pix_fmt,
            "is_depth_map": False,
            "video.fps": round(self.fps),
            "video.channels": channels,
            "has_audio": self.has_audio,
        }


def probe_video(path: Path) -> VideoProbe:
    """Read codec, size, fps and frame count of ``path`` from container metadata and packet pts."""
    try:
        with av.open(str(path)) as container:
            stream: Any = first_video_stream(container, path)
            cc = stream.codec_context
            count = 0
            last_pts = None
            for packet in container.demux(stream):
                if packet.size and packet.pts is not None:
                    count += 1
                    last_pts = packet.pts if last_pts is None else max(last_pts, packet.pts)
            fps = float(stream.average_rate or stream.base_rate or 0)
            duration = (
                float(stream.duration * stream.time_base) if stream.duration else count / fps if fps else 0.0
            )
            return VideoProbe(
                codec=cc.name if cc.name != "libdav1d" else "av1",
                width=cc.width,
                height=cc.height,
                pix_fmt=cc.pix_fmt or "",
                fps=fps,
                num_frames=count,
                duration_s=duration,
                has_audio=bool(container.streams.audio),
            )
    except av.error.FFmpegError as exc:
        raise CorruptFileError(f"{path}: unreadable video: {exc}") from exc
    raise CorruptFileError(f"{path}: unreadable video")  # only reached if the container swallowed an error


def _time_base(stream: Any) -> Fraction:
    tb = stream.time_base
    if tb is None:
        raise CorruptFileError(f"stream {stream} has no time base")
    return Fraction(tb)
