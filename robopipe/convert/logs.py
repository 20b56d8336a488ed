"""Robot logs (ROS 1/2 bags, MCAP) as a :class:`SourceReader`: episodes, time alignment, tasks (core layer).

A backend (:mod:`robopipe.convert.ros` on rosbags, :mod:`robopipe.convert.mcap_source` on ``mcap``) opens
one log file and yields ``(topic, log time, plain message)``; this module does the rest once for all:

* **episodes** - one file per episode (``cut: file``), or cut from a long log by an event topic
  (``std_msgs/Bool`` true..false, or a ``String`` annotation: non-empty text starts an episode and becomes
  its task, empty/``stop``/``end`` ends it), by silences longer than ``gap_s``, or by ``ranges`` of seconds
  from the log start. Cutting uses the log clock; a shard is a range of these episodes (files or time spans).
* **alignment** - every source key is resampled onto ``t0 + k / fps`` by header stamp or log time
  (``time:``) with ``nearest``/``previous``/``linear`` per key (:mod:`robopipe.convert.align`). The
  episode spans the time every used key has data; a grid point farther than ``max_skew_s`` from its
  sample is a gap: the episode fails (``on_gap: error``) or is kept with the gaps recorded
  (``on_gap: report``). The measured skew per key is written to the episode metadata.
* **task** - from a topic (the last text at or before the episode start, else the first in it), a
  metadata record (MCAP metadata / ROS 2 custom data), a file-name pattern, the event text, or the mapping.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robopipe.convert.align import Interp, align, make_grid
from robopipe.convert.mapping import CameraSpec, ConversionMapping, TaskSpec, VectorPart, VectorSpec
from robopipe.convert.messages import (
    VideoDecoder,
    VideoPacket,
    extract,
    has_parameter_sets,
    stamp_ns,
    type_name,
)
from robopipe.convert.source import (
    EpisodeFailure,
    SourceDescription,
    SourceEpisode,
    SourceField,
    encoded_image_shape,
)
from robopipe.errors import ConversionError, MappingError
from robopipe.format.video import EncodedVideo

log = logging.getLogger(__name__)

NS = 1_000_000_000
_STOP_WORDS = {"", "stop", "end", "idle", "done", "false"}


class LogOptions(BaseModel):
    """Reader options of a log source (``SourceSpec.options``, or the mapping's ``source:`` section)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fps: int | None = Field(default=None, gt=0, description="grid rate (set from the plan's fps)")
    time: Literal["header", "log"] = Field(
        default="header", description="align by header stamp (log time when a message has none) or log time"
    )
    cut: Literal["file", "event", "gap", "ranges"] = Field(default="file", description="how episodes are cut")
    event_topic: str | None = Field(default=None, description="cut: event - Bool or String topic")
    event_field: str = Field(default="data", description="cut: event - field of the event message")
    gap_s: float = Field(
        default=1.0, gt=0, description="cut: gap - a silence longer than this ends an episode"
    )
    gap_topics: list[str] | None = Field(default=None, description="cut: gap - topics watched (default all)")
    ranges: list[tuple[float, float]] = Field(
        default_factory=list, description="cut: ranges - (start, end) seconds from the log start"
    )
    interpolation: dict[str, Interp] = Field(
        default_factory=dict,
        description="source key or topic -> nearest|previous|linear (default: linear for float vectors, "
        "nearest for images, previous otherwise)",
    )
    max_skew_s: float | None = Field(
        default=None, gt=0, description="largest allowed distance to a source sample (default 1/fps)"
    )
    max_skew: dict[str, float] = Field(default_factory=dict, description="per key/topic max skew (s)")
    on_gap: Literal["error", "report"] = Field(
        default="error", description="a gap fails the episode or is recorded"
    )
    task_topic: str | None = Field(default=None, description="String topic holding the task")
    task_metadata: str | None = Field(default=None, description="metadata key ('record/key' or 'key')")
    task_pattern: str | None = Field(
        default=None, description="regex on the file name; group 'task' (or 1), '_' becomes ' '"
    )
    topics: list[str] | None = Field(default=None, description="read only these topics")
    joint_order: dict[str, list[str]] = Field(
        default_factory=dict, description="JointState topic -> joint names in output order"
    )
    video_preroll_s: float = Field(
        default=10.0, ge=0, description="seconds of video read before a cut episode to reach a keyframe"
    )
    keys: list[str] | None = Field(default=None, description="source keys used (set from the mapping)")
    spans: list[tuple[int, int | None, int | None, str]] | None = Field(
        default=None, description="episodes found while planning: (file, start ns, stop ns, text)"
    )
    max_episode_mb: float = Field(
        default=4096, gt=0, description="refuse an episode whose aligned frames would take more memory"
    )


def parse_options(options: dict[str, Any], where: str) -> LogOptions:
    try:
        return LogOptions.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise MappingError(f"{where}: invalid log source option {loc}: {first['msg']}") from exc


def key_of(topic: str) -> str:
    """Source key prefix of a topic: '/camera/front/image_raw' -> 'camera/front/image_raw'."""
    return topic.strip("/")


class LogFile(Protocol):
    """One open log file (a backend)."""

    path: Path

    def topics(self) -> dict[str, str]:
        """topic -> message type (as stored: 'sensor_msgs/msg/JointState', 'foxglove.CompressedVideo')."""
        ...

    def span(self) -> tuple[int, int]:
        """(first, last) log time in ns."""
        ...

    def messages(
        self, topics: list[str], start: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[str, int, Any]]:
        """(topic, log time ns, plain message) in log-time order, ``start <= t < stop``."""
        ...

    def log_times(self, topics: list[str]) -> Iterator[tuple[str, int]]:
        """(topic, log time ns) without decoding the messages."""
        ...

    def counts(self) -> dict[str, int]:
        """Messages per topic, from the file's index or summary."""
        ...

    def metadata(self) -> dict[str, str]:
        """Metadata records as 'record/key' and 'key' -> value."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Span:
    """An episode: a file, optionally cut to ``[start, stop)`` (log time, ns)."""

    file: int
    start: int | None = None
    stop: int | None = None
    text: str = ""


@dataclass
class _Series:
    times: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    inside: list[bool] = field(default_factory=list)


class _Closing(AbstractContextManager["LogFile"]):
    def __init__(self, f: LogFile) -> None:
        self.f = f

    def __enter__(self) -> LogFile:
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()


class LogReader:
    """:class:`SourceReader` over log files; subclasses say how files are found and opened."""

    kind = "log"
    suffixes: tuple[str, ...] = ()

    def __init__(self, path: Path, **options: Any) -> None:
        self.path = Path(path)
        self.opts = parse_options(options, str(self.path))
        self.files = self.find_files()
        if not self.files:
            raise ConversionError(
                f"{self.path}: no {self.kind} log found (expected {', '.join(self.suffixes)})"
            )
        self._types: dict[str, str] = {}  # topic -> normalized type
        self._fields: dict[str, SourceField] = {}
        self._topic_of: dict[str, str] = {}  # source key -> topic
        self._joint_order: dict[str, list[str]] = {}
        self._rates: dict[str, float] = {}
        self._spans: list[Span] | None = None
        self.unsupported: dict[str, str] = {}  # topic -> why its messages give no source key

    # --- backend hooks ---------------------------------------------------------------------------
    def find_files(self) -> list[Path]:
        raise NotImplementedError

    def open_file(self, path: Path) -> LogFile:
        raise NotImplementedError

    def _open(self, i: int) -> _Closing:
        return _Closing(self.open_file(self.files[i]))

    def _confined(self, paths: list[Path]) -> list[Path]:
        """Only files inside the source root (a symlink pointing out of it is refused)."""
        root = self.path.resolve()
        out = []
        for p in paths:
            rp = p.resolve()
            if rp != root and not rp.is_relative_to(root if root.is_dir() else root.parent):
                raise ConversionError(
                    f"{p}: points outside the source folder {self.path}; refusing to read it"
                )
            out.append(p)
        return out

    # --- describe -------------------------------------------------------------------------------
    def describe(self) -> SourceDescription:
        if not self._fields:
            self._describe_first()
        spans = self.spans()
        planned = (
            {} if self.opts.cut == "file" else {"spans": [(x.file, x.start, x.stop, x.text) for x in spans]}
        )
        return SourceDescription(
            kind=self.kind, name=self.path.stem, num_episodes=len(spans), fields=self._fields, planned=planned
        )

    def _wanted_topics(self, topics: dict[str, str]) -> list[str]:
        if self.opts.topics is None:
            return sorted(topics)
        want = {key_of(t) for t in self.opts.topics}
        return sorted(t for t in topics if key_of(t) in want)

    def _describe_first(self) -> None:
        with self._open(0) as f:
            raw = f.topics()
            self._types = {t: type_name(s) for t, s in raw.items()}
            first, last = f.span()
            for topic in self._wanted_topics(raw):
                if self.opts.event_topic and key_of(topic) == key_of(self.opts.event_topic):
                    continue
                for _t, _lt, msg in f.messages([topic]):
                    try:
                        self._describe_message(topic, msg, f)
                    except ConversionError as exc:  # e.g. a compressedDepth topic: the others stay usable
                        self.unsupported[topic] = str(exc)
                        log.warning("skipping topic %s: %s", topic, exc)
                    break
            counts = f.counts()  # from the index/summary: no scan of the log
            dur = max((last - first) / NS, 1e-9)
            self._rates = {t: (n - 1) / dur for t, n in counts.items() if n > 1}
        for name in ("task", "file"):
            if name == "task" and not self._has_task():
                continue
            self._fields[name] = SourceField(
                path=name, scope="episode", kind="text", shape=(), dtype="object"
            )

    def _has_task(self) -> bool:
        o = self.opts
        return bool(
            o.task_topic or o.task_metadata or o.task_pattern or (o.cut == "event" and self._event_is_text())
        )

    def _event_is_text(self) -> bool:
        t = self._type_of(self.opts.event_topic or "")
        return t.endswith("/String")

    def _type_of(self, topic: str) -> str:
        for t, typ in self._types.items():
            if key_of(t) == key_of(topic):
                return typ
        return ""

    def _describe_message(self, topic: str, msg: Any, f: LogFile) -> None:
        typ = self._types[topic]
        order = self._joint_order_for(topic, msg)
        try:
            values = extract(typ, msg, order)
        except ConversionError as exc:
            raise ConversionError(f"{f.path}: topic {topic} ({typ}): {exc}") from exc
        base = key_of(topic)
        for sub, v in values.items():
            key = f"{base}/{sub}" if sub else base
            self._topic_of[key] = topic
            if isinstance(v, VideoPacket):
                shape = self._video_shape(f, topic, v.codec)
                self._fields[key] = SourceField(
                    path=key, scope="step", kind="tensor", shape=shape, dtype="uint8"
                )
            elif isinstance(v, bytes):
                try:
                    shape = encoded_image_shape(v)
                except OSError as exc:
                    raise ConversionError(
                        f"{f.path}: topic {topic}: first image does not decode: {exc}"
                    ) from exc
                self._fields[key] = SourceField(
                    path=key, scope="step", kind="encoded_image", shape=shape, dtype="uint8"
                )
            elif isinstance(v, str):
                self._fields[key] = SourceField(path=key, scope="step", kind="text", shape=(), dtype="object")
            else:
                a = np.asarray(v)
                self._fields[key] = SourceField(
                    path=key, scope="step", kind="tensor", shape=tuple(a.shape), dtype=a.dtype.name
                )

    def _joint_order_for(self, topic: str, msg: Any) -> list[str] | None:
        if self._types.get(topic) != "sensor_msgs/JointState":
            return None
        if topic not in self._joint_order:
            given = {key_of(k): v for k, v in self.opts.joint_order.items()}.get(key_of(topic))
            self._joint_order[topic] = list(given) if given else [str(n) for n in msg.get("name") or []]
        return self._joint_order[topic]

    def joint_names(self, topic: str) -> list[str]:
        return self._joint_order.get(topic, [])

    def _video_shape(self, f: LogFile, topic: str, codec: str) -> tuple[int, int, int]:
        dec = VideoDecoder(codec)
        for n, (_t, _lt, msg) in enumerate(f.messages([topic])):
            v = extract(self._types[topic], msg).get("")
            if isinstance(v, VideoPacket):
                frames = dec.decode(v.data, n)
                if frames:
                    h, w, c = frames[0][1].shape
                    return int(h), int(w), int(c)
            if n > 600:
                break
        raise ConversionError(f"{f.path}: topic {topic}: no decodable video frame in the first 600 packets")

    # --- episodes -------------------------------------------------------------------------------
    def spans(self) -> list[Span]:
        if self._spans is None and self.opts.spans is not None:  # cut while planning: no rescan
            if any(not 0 <= f < len(self.files) for f, *_ in self.opts.spans):
                raise MappingError(f"{self.path}: planned episode spans name files that are not there")
            self._spans = [Span(f, a, b, t) for f, a, b, t in self.opts.spans]
        if self._spans is None:
            if self.opts.cut == "file":
                self._spans = [Span(i) for i in range(len(self.files))]
            else:
                self._spans = [s for i in range(len(self.files)) for s in self._cut(i)]
        return self._spans

    def _cut(self, i: int) -> list[Span]:
        o = self.opts
        with self._open(i) as f:
            first, last = f.span()
            topics = f.topics()
            if o.cut == "ranges":
                if not o.ranges:
                    raise MappingError("cut: ranges needs 'ranges: [[start_s, end_s], ...]'")
                return [Span(i, first + round(a * NS), first + round(b * NS)) for a, b in o.ranges if b > a]
            if o.cut == "gap":
                want = {key_of(t) for t in o.gap_topics} if o.gap_topics else None
                sel = [t for t in topics if want is None or key_of(t) in want]
                times = np.sort(np.fromiter((t for _, t in f.log_times(sel)), dtype=np.int64))
                if len(times) == 0:
                    return []
                cuts = np.flatnonzero(np.diff(times) > o.gap_s * NS)
                starts = np.concatenate([[times[0]], times[cuts + 1]])
                stops = np.concatenate([times[cuts], [times[-1]]]) + 1
                return [Span(i, int(a), int(b)) for a, b in zip(starts, stops)]
            return self._cut_event(i, f, topics, last)

    def _cut_event(self, i: int, f: LogFile, topics: dict[str, str], last: int) -> list[Span]:
        o = self.opts
        if not o.event_topic:
            raise MappingError("cut: event needs 'event_topic'")
        match = [t for t in topics if key_of(t) == key_of(o.event_topic)]
        if not match:
            raise ConversionError(
                f"{f.path}: event topic {o.event_topic} not in the log (topics: {', '.join(sorted(topics))})"
            )
        spans: list[Span] = []
        open_at: int | None = None
        text = ""
        for _topic, t, msg in f.messages(match):
            value = msg
            for part in o.event_field.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str):
                on, label = value.strip().lower() not in _STOP_WORDS, value.strip()
            else:
                on, label = bool(value), ""
            if on and (open_at is None or (label and label != text)):
                if open_at is not None:
                    spans.append(Span(i, open_at, t, text))
                open_at, text = t, label
            elif not on and open_at is not None:
                spans.append(Span(i, open_at, t, text))
                open_at = None
        if open_at is not None:
            spans.append(Span(i, open_at, last + 1, text))
        return spans

    # --- reading ----------------------------------------------------------------------------------
    def read(self, start: int, stop: int | None) -> Iterator[SourceEpisode | EpisodeFailure]:
        if not self._fields:
            self._describe_first()
        spans = self.spans()
        todo = list(enumerate(spans))[start:stop]
        k = 0
        while k < len(todo):
            file_index = todo[k][1].file
            group = []
            while k < len(todo) and todo[k][1].file == file_index:
                group.append(todo[k])
                k += 1
            where = str(self.files[file_index])
            try:
                with self._open(file_index) as f:
                    for i, span in group:
                        yield self._episode_or_failure(i, span, f)
            except (ConversionError, OSError, ValueError, KeyError) as exc:
                for i, _span in group:
                    yield EpisodeFailure(i, where, _one_line(exc))

    def _episode_or_failure(self, i: int, span: Span, f: LogFile) -> SourceEpisode | EpisodeFailure:
        source = str(f.path) if span.start is None else f"{f.path}@{span.start / NS:.3f}s"
        try:
            return self._episode(i, span, f, source)
        except (ConversionError, OSError, ValueError, KeyError, IndexError) as exc:
            return EpisodeFailure(i, source, _one_line(exc))

    def _needed(self) -> tuple[list[str], list[str]]:
        """(topics to read, step keys to align)."""
        step_keys = [k for k, fd in self._fields.items() if fd.scope == "step"]
        if self.opts.keys is not None:
            step_keys = [k for k in step_keys if k in set(self.opts.keys)]
        topics = sorted({self._topic_of[k] for k in step_keys})
        return topics, step_keys

    def _episode(self, i: int, span: Span, f: LogFile, source: str) -> SourceEpisode:
        fps = self.opts.fps
        if fps is None:
            raise MappingError("the log reader needs an fps (set 'fps:' in the mapping or pass --fps)")
        topics, keys = self._needed()
        if not keys:
            raise MappingError("no source key to read")
        present = f.topics()
        missing = [t for t in topics if t not in present]
        if missing:
            raise ConversionError(f"topics {', '.join(missing)} are not in this log")
        self._check_size(span, f, keys, fps)
        video = {t for t in topics if self._types[t].endswith("/CompressedVideo")}
        pad = round((self.max_skew_for("") + 2.0 / fps) * NS)
        lo = None if span.start is None else span.start - pad
        hi = None if span.stop is None else span.stop + pad
        lo_read = lo if (lo is None or not video) else lo - round(self.opts.video_preroll_s * NS)
        series: dict[str, _Series] = {k: _Series() for k in keys}
        decoders = {t: VideoDecoder("h264") for t in video}
        packets: dict[str, list[tuple[int, bool, VideoPacket]]] = {t: [] for t in video}
        wanted = set(keys)
        for topic, log_t, msg in f.messages(topics, lo_read, hi):
            t = self._time(msg, log_t)
            inside = (span.start is None or log_t >= span.start) and (span.stop is None or log_t < span.stop)
            if topic not in video and lo is not None and log_t < lo:
                continue
            values = extract(self._types[topic], msg, self._joint_order.get(topic))
            base = key_of(topic)
            for sub, v in values.items():
                key = f"{base}/{sub}" if sub else base
                if key not in wanted:
                    continue
                if isinstance(v, VideoPacket):
                    dec = decoders[topic]
                    if dec.codec != v.codec:
                        dec = decoders[topic] = VideoDecoder(v.codec)
                    n = len(packets[topic])
                    packets[topic].append((t, inside, v))
                    for num, frame, keyframe in dec.decode(v.data, n):
                        pt, pin, _ = packets[topic][num]
                        _add(series[key], pt, _Frame(frame, num, keyframe), pin)
                    continue
                _add(series[key], t, v, inside)
        for topic in video:
            key = key_of(topic)
            for num, frame, keyframe in decoders[topic].flush():
                pt, pin, _ = packets[topic][num]
                _add(series[key], pt, _Frame(frame, num, keyframe), pin)
        raw = {key_of(t): [p[2] for p in packets[t]] for t in video}
        return self._align_episode(i, span, f, source, series, fps, raw)

    def _check_size(self, span: Span, f: LogFile, keys: list[str], fps: int) -> None:
        """An episode is held in memory whole (as every reader's): refuse one that would not fit."""
        first, last = f.span()
        start = first if span.start is None else max(first, span.start)
        stop = last if span.stop is None else min(last, span.stop)
        frames = max(stop - start, 0) / NS * fps + 1
        per_step = 0
        for k in keys:
            fd = self._fields[k]
            n = int(np.prod(fd.shape)) if fd.shape else 1
            per_step += n * (np.dtype(fd.dtype).itemsize if fd.dtype != "object" else 8)
        mb = frames * per_step / 1e6
        if mb > self.opts.max_episode_mb:
            raise ConversionError(
                f"episode of {(stop - start) / NS:.0f} s would take {mb:.0f} MB in memory (> max_episode_mb "
                f"{self.opts.max_episode_mb:.0f}); cut the log into shorter episodes (cut: event|gap|ranges) "
                "or raise max_episode_mb"
            )

    def _time(self, msg: Any, log_t: int) -> int:
        if self.opts.time == "header" and isinstance(msg, dict):
            st = stamp_ns(msg)
            if st is not None:
                return st
        return log_t

    def interpolation_for(self, key: str) -> Interp:
        found = _lookup(self.opts.interpolation, key)
        if found is not None:
            return found
        fd = self._fields[key]
        if fd.is_image or fd.kind != "tensor" or len(fd.shape) == 3:  # images and depth maps: a real frame
            return "nearest"
        return "linear" if fd.dtype.startswith("float") else "previous"

    def max_skew_for(self, key: str) -> float:
        found = _lookup(self.opts.max_skew, key) if key else None
        if found is not None:
            return float(found)
        if self.opts.max_skew_s is not None:
            return self.opts.max_skew_s
        return 1.0 / (self.opts.fps or 30)

    def _align_episode(
        self,
        i: int,
        span: Span,
        f: LogFile,
        source: str,
        series: dict[str, _Series],
        fps: int,
        raw_video: dict[str, list[VideoPacket]],
    ) -> SourceEpisode:
        empty = [k for k, s in series.items() if not any(s.inside)]
        if empty:
            raise ConversionError(f"no samples of {', '.join(empty)} in this episode")
        ordered: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for k, s in series.items():
            order = np.argsort(np.asarray(s.times, dtype=np.int64), kind="stable")
            t = np.asarray(s.times, dtype=np.int64)[order]
            ins = np.asarray(s.inside, dtype=bool)[order]
            vals = np.empty(len(s.values), dtype=object)
            vals[:] = [s.values[j] for j in order] if len(s.values) else []
            ordered[k] = (t, ins, vals)
        t0 = max(int(t[ins][0]) for t, ins, _ in ordered.values())
        t1 = min(int(t[ins][-1]) for t, ins, _ in ordered.values())
        if t1 < t0:
            raise ConversionError(
                "the topics do not overlap in time: "
                + ", ".join(
                    f"{k} {t[ins][0] / NS:.3f}-{t[ins][-1] / NS:.3f}s" for k, (t, ins, _) in ordered.items()
                )
            )
        grid = make_grid(0.0, (t1 - t0) / NS, fps)
        steps: dict[str, np.ndarray] = {}
        skews: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        encoded: dict[str, EncodedVideo] = {}
        for k, (t, _ins, vals) in ordered.items():
            method = self.interpolation_for(k)
            limit = self.max_skew_for(k)
            secs = (t - t0).astype(np.float64) / NS
            if k in raw_video:  # decoded video: pick frames by index, and stream-copy when they are a GOP run
                if method == "linear":
                    raise MappingError(f"{k}: video frames cannot be interpolated linearly (use nearest)")
                res = align(secs, np.arange(len(vals)), grid, method, limit)
                chosen = [vals[j] for j in res.values]
                steps[k] = _stack(np.asarray([c.frame for c in chosen] + [None], dtype=object)[:-1], k)
                copy = _copyable(chosen, raw_video[k])
                if copy is not None:
                    encoded[k] = copy
            else:
                data: np.ndarray = vals
                if method == "linear":
                    data = _stack(vals, k)
                res = align(secs, data, grid, method, limit)
                out = res.values
                if out.dtype == object and self._fields[k].kind == "tensor":
                    out = _stack(out, k)
                steps[k] = out
            skews[k] = {
                "method": method,
                "max_skew_ms": round(res.max_skew * 1000, 3),
                "mean_skew_ms": round(res.mean_skew * 1000, 3),
                "gaps": [g.describe(fps) for g in res.gaps[:5]],
            }
            if res.gaps:
                problems.append(
                    f"{k} {res.gaps[0].describe(fps)}"
                    + (f" (+{len(res.gaps) - 1} more)" if len(res.gaps) > 1 else "")
                )
        if problems and self.opts.on_gap == "error":
            raise ConversionError(
                f"gap beyond max skew: {problems[0]}"
                + (f"; and {len(problems) - 1} more keys" if len(problems) > 1 else "")
                + " (raise max_skew_s, or on_gap: report to keep the episode)"
            )
        meta: dict[str, Any] = {"file": f.path.name}
        if "task" in self._fields:
            meta["task"] = self._task(span, f, t0)
        provenance = {
            "alignment_time": self.opts.time,
            "alignment_max_skew_ms": max(v["max_skew_ms"] for v in skews.values()),
            "alignment_gaps": sum(len(v["gaps"]) for v in skews.values()),
            "alignment": json.dumps(skews, sort_keys=True),
            "source_start_s": round(t0 / NS, 6),
        }
        provenance["stream_copied"] = ",".join(sorted(encoded))
        return SourceEpisode(
            index=i, source=source, steps=steps, metadata=meta, provenance=provenance, encoded=encoded
        )

    def _task(self, span: Span, f: LogFile, t0: int) -> str:
        o = self.opts
        if span.text:
            return span.text
        if o.task_topic:
            topics = [t for t in f.topics() if key_of(t) == key_of(o.task_topic)]
            before, after = "", ""
            for _topic, log_t, msg in f.messages(topics, None, span.stop):
                text = msg.get("data") if isinstance(msg, dict) else None
                if not isinstance(text, str) or not text.strip():
                    continue
                if span.start is None or log_t <= span.start:
                    before = text.strip()
                elif not after:
                    after = text.strip()
            if before or after:
                return before or after
        if o.task_metadata:
            meta = f.metadata()
            if o.task_metadata in meta:
                return meta[o.task_metadata]
        if o.task_pattern:
            m = re.search(o.task_pattern, f.path.name)
            if m:
                text = m.groupdict().get("task") or (m.group(1) if m.groups() else m.group(0))
                return str(text).replace("_", " ").strip()
        return ""

    # --- inferred mapping -----------------------------------------------------------------------
    def infer_mapping(self) -> ConversionMapping:
        """Cameras from image/video topics, state from JointState positions (named by joint), action from
        command-like topics, task from the configured source; fps from the camera rate."""
        if not self._fields:
            self._describe_first()
        cams: dict[str, CameraSpec] = {}
        depth: dict[str, str] = {}
        for key, fd in sorted(self._fields.items()):
            if fd.scope == "step" and fd.is_image and not _DEPTH.search(key):
                cams[_camera_name(key, set(cams))] = CameraSpec(key=key)
            elif fd.scope == "step" and fd.dtype in ("uint16", "float32") and fd.shape[2:] == (1,):
                depth[_camera_name(key, set(cams) | set(depth))] = key
        state: VectorSpec | None = None
        action: VectorSpec | None = None
        for topic in sorted(self._types):
            key = f"{key_of(topic)}/position"
            if key not in self._fields:
                continue
            names = self.joint_names(topic)
            vec = VectorSpec(parts=[VectorPart(key=key)], names=names or None)
            if _COMMAND.search(topic):
                action = action or vec
            else:
                state = state or vec
        if action is None:
            cmd = [
                k
                for k, fd in sorted(self._fields.items())
                if _COMMAND.search(self._topic_of.get(k, ""))
                and not self._is_component(k)
                and fd.kind == "tensor"
                and fd.dtype.startswith("float")
                and len(fd.shape) <= 1
            ]
            if cmd:
                action = VectorSpec(parts=[VectorPart(key=k) for k in cmd])
        options = self.opts.model_dump(mode="json", exclude_defaults=True, exclude={"fps", "keys", "spans"})
        return ConversionMapping(
            name=self.path.stem,
            fps=self.inferred_fps(),
            cameras=cams,
            depth=depth,
            state=state,
            action=action,
            task=TaskSpec(key="task") if "task" in self._fields else TaskSpec(),
            episode_metadata={"file": "file"},
            source=options,
        )

    def _is_component(self, key: str) -> bool:
        """True for 'x/pose/position/x' when 'x/pose' is a key too (a part of a vector already offered)."""
        parent = key.rpartition("/")[0]
        while parent:
            if parent in self._fields:
                return True
            parent = parent.rpartition("/")[0]
        return False

    def inferred_fps(self) -> int:
        """The camera rate (median of image topics), else 30."""
        if self.opts.fps:
            return self.opts.fps
        cams = [
            self._rates[t] for k, t in self._topic_of.items() if self._fields[k].is_image and t in self._rates
        ]
        return max(1, round(float(np.median(cams)))) if cams else 30


_DEPTH = re.compile(r"depth", re.IGNORECASE)
_COMMAND = re.compile(r"(command|cmd|action|target|goal)", re.IGNORECASE)
_GENERIC = {
    "image_raw",
    "image_rect",
    "image_color",
    "image_rect_color",
    "image",
    "compressed",
    "rgb",
    "color",
    "video",
}


def _camera_name(key: str, taken: set[str]) -> str:
    parts = [p for p in key.split("/") if p and p not in _GENERIC] or [key.replace("/", "_")]
    base = re.sub(r"[^A-Za-z0-9_]+", "_", parts[-1])
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


@dataclass(frozen=True)
class _Frame:
    """A decoded video frame and the number of the packet it came from."""

    frame: np.ndarray
    packet: int
    keyframe: bool


def _copyable(chosen: list[_Frame], packets: list[VideoPacket]) -> EncodedVideo | None:
    """The packets behind ``chosen`` if they can be stream-copied: one distinct packet per frame, consecutive
    (no frame dropped or repeated by the resampling), starting on a keyframe."""
    if not chosen or not chosen[0].keyframe:
        return None
    nums = [c.packet for c in chosen]
    if nums != list(range(nums[0], nums[0] + len(nums))):
        return None
    picked = [packets[n] for n in nums]
    if len({p.codec for p in picked}) != 1:
        return None
    codec = picked[0].codec
    if not has_parameter_sets(picked[0].data, codec):  # it must decode after another episode's headers
        return None
    keyframes = {c.packet: c.keyframe for c in chosen}
    return EncodedVideo(
        codec=codec, packets=tuple(p.data for p in picked), keyframes=tuple(keyframes[n] for n in nums)
    )


def _add(s: _Series, t: int, v: Any, inside: bool) -> None:
    s.times.append(t)
    s.values.append(v)
    s.inside.append(inside)


def _stack(vals: np.ndarray, key: str) -> np.ndarray:
    try:
        return np.stack([np.asarray(v) for v in vals])
    except ValueError as exc:
        shapes = sorted({np.asarray(v).shape for v in vals})
        raise ConversionError(f"{key}: samples have different shapes {shapes[:4]}") from exc


def _lookup(table: dict[str, Any], key: str) -> Any:
    """Exact key, else the longest topic/prefix entry (leading '/' ignored)."""
    norm = {key_of(k): v for k, v in table.items()}
    probe = key
    while probe:
        if probe in norm:
            return norm[probe]
        probe = probe.rpartition("/")[0]
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, ConversionError) else f"{type(exc).__name__}: {text}"


def natural_files(paths: list[Path]) -> list[Path]:
    from robopipe.convert.hdf5 import natural_key

    return sorted(paths, key=lambda p: natural_key(p.name))
