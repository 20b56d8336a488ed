"""ROS 1 ``.bag`` and ROS 2 bags (sqlite3 ``.db3`` or ``.mcap`` storage) through ``rosbags`` (core layer).

rosbags is pure Python and reads the message definitions stored in the bag, so no ROS installation and no
typestore guessing is needed. A source is one bag (a ``.bag`` file, a ROS 2 bag folder holding
``metadata.yaml``, or a bare ROS 2 ``.db3``/``.mcap`` storage file) or a folder of them (one per episode
unless episodes are cut from the logs). Episodes, alignment and tasks are
:class:`robopipe.convert.logs.LogReader`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robopipe.convert.logs import LogReader, natural_files
from robopipe.convert.messages import to_plain
from robopipe.convert.source import SourceSpec
from robopipe.errors import ConversionError

_FILES = (".bag", ".db3", ".mcap")  # ROS 1 bags, and ROS 2 storage files without their metadata.yaml


def _is_ros2_bag(p: Path) -> bool:
    return p.is_dir() and (p / "metadata.yaml").is_file()


class RosbagFile:
    """One bag opened with ``rosbags.highlevel.AnyReader``."""

    def __init__(self, path: Path) -> None:
        try:
            from rosbags.highlevel import AnyReader
        except ImportError as exc:
            raise ConversionError("reading ROS bags needs rosbags: pip install 'robopipe[ros]'") from exc

        self.path = path
        try:
            self._r = AnyReader([path])
            self._r.open()
        except (
            Exception
        ) as exc:  # rosbags raises many types for garbage (ReaderError, KeyError, struct.error)
            raise ConversionError(
                f"{path}: not a readable ROS bag: {' '.join(str(exc).split()) or type(exc).__name__}"
            ) from exc

    def topics(self) -> dict[str, str]:
        return {c.topic: c.msgtype for c in self._r.connections}

    def span(self) -> tuple[int, int]:
        return int(self._r.start_time), int(self._r.end_time)

    def _conns(self, topics: list[str]) -> list[Any]:
        want = set(topics)
        return [c for c in self._r.connections if c.topic in want]

    def messages(
        self, topics: list[str], start: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[str, int, Any]]:
        conns = self._conns(topics)
        if not conns:
            return
        try:
            for conn, t, raw in self._r.messages(connections=conns, start=start, stop=stop):
                yield conn.topic, int(t), to_plain(self._r.deserialize(raw, conn.msgtype))
        except ConversionError:
            raise
        except Exception as exc:  # truncated chunk, bad CDR
            raise ConversionError(
                f"{self.path}: unreadable message: {' '.join(str(exc).split()) or type(exc).__name__}"
            ) from exc

    def log_times(self, topics: list[str]) -> Iterator[tuple[str, int]]:
        conns = self._conns(topics)
        if not conns:
            return
        try:
            for conn, t, _raw in self._r.messages(connections=conns):
                yield conn.topic, int(t)
        except Exception as exc:
            raise ConversionError(
                f"{self.path}: unreadable message: {' '.join(str(exc).split()) or type(exc).__name__}"
            ) from exc

    def counts(self) -> dict[str, int]:
        return {t: int(info.msgcount) for t, info in self._r.topics.items()}

    def metadata(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for reader in self._r.readers:
            meta = getattr(getattr(reader, "storage", None), "metadata", None)  # ROS 2: metadata.yaml
            custom = getattr(meta, "custom", None) or {}
            out.update({str(k): str(v) for k, v in custom.items()})
        return out

    def close(self) -> None:
        self._r.close()


class RosReader(LogReader):
    """:class:`SourceReader` for ROS 1/2 bags."""

    kind = "ros"
    suffixes = (".bag", ".db3", ".mcap", "ROS 2 bag folder with metadata.yaml")

    def find_files(self) -> list[Path]:
        p = self.path
        if p.is_file() and p.suffix in _FILES:
            return [p]
        if _is_ros2_bag(p):
            return [p]
        if p.is_dir():
            found = [c for c in p.iterdir() if (c.is_file() and c.suffix in _FILES) or _is_ros2_bag(c)]
            return self._confined(natural_files(found))
        if not p.exists():
            raise ConversionError(f"{p}: ROS source not found")
        raise ConversionError(
            f"{p}: not a ROS 1 .bag, a ROS 2 .db3/.mcap storage file or a ROS 2 bag folder (metadata.yaml)"
        )

    def open_file(self, path: Path) -> RosbagFile:
        return RosbagFile(path)


def open_ros(spec: SourceSpec) -> RosReader:
    """Registry factory (``robopipe.convert.source.READERS``)."""
    return RosReader(Path(spec.path), **spec.options)
