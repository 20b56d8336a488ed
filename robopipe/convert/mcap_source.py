"""MCAP files (Foxglove, custom loggers, ROS 2) through the ``mcap`` library (core layer).

Messages are decoded by encoding: ``cdr`` with a ``ros2msg`` schema (``mcap-ros2-support``), ``json``,
and ``protobuf`` (the schema's FileDescriptorSet is loaded into a private descriptor pool). A source is one
``.mcap`` file or a folder of them. Episodes, alignment and tasks are :class:`~robopipe.convert.logs.LogReader`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from robopipe.convert.logs import LogReader, natural_files
from robopipe.convert.messages import to_plain
from robopipe.convert.source import SourceSpec
from robopipe.errors import ConversionError


def _factories() -> list[Any]:
    from mcap.decoder import DecoderFactory
    from mcap_ros2.decoder import DecoderFactory as Ros2Factory

    class JsonFactory(DecoderFactory):
        def decoder_for(self, message_encoding: str, schema: Any) -> Callable[[bytes], Any] | None:
            return (lambda data: json.loads(data)) if message_encoding == "json" else None

    class ProtobufFactory(DecoderFactory):
        def __init__(self) -> None:
            self._cache: dict[int, Callable[[bytes], Any]] = {}

        def decoder_for(self, message_encoding: str, schema: Any) -> Callable[[bytes], Any] | None:
            if message_encoding != "protobuf" or schema is None or schema.encoding != "protobuf":
                return None
            if schema.id not in self._cache:
                self._cache[schema.id] = _protobuf_decoder(schema.name, schema.data)
            return self._cache[schema.id]

    return [Ros2Factory(), JsonFactory(), ProtobufFactory()]


def _protobuf_decoder(name: str, data: bytes) -> Callable[[bytes], Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    pending = list(fds.file)
    while pending:  # dependencies first, whatever order the writer used
        progressed = False
        for fd in list(pending):
            if all(_has_file(pool, d) for d in fd.dependency):
                pool.Add(fd)
                pending.remove(fd)
                progressed = True
        if not progressed:
            raise ConversionError(
                f"protobuf schema {name}: unresolved imports {[d for f in pending for d in f.dependency]}"
            )
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return cls.FromString


def _has_file(pool: Any, name: str) -> bool:
    try:
        pool.FindFileByName(name)
    except KeyError:
        return False
    return True


def _err(path: Path, exc: BaseException) -> ConversionError:
    return ConversionError(
        f"{path}: not a readable MCAP file: {' '.join(str(exc).split()) or type(exc).__name__}"
    )


class McapFile:
    """One MCAP file opened with ``mcap.reader.make_reader`` (summary section required for seeking)."""

    def __init__(self, path: Path) -> None:
        try:
            from mcap.reader import make_reader
        except ImportError as exc:
            raise ConversionError("reading MCAP needs mcap: pip install 'robopipe[ros]'") from exc

        self.path = path
        self._f: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._r = make_reader(self._f, decoder_factories=_factories())
            summary = self._r.get_summary()
        except Exception as exc:  # mcap raises InvalidMagic, EndOfFile, struct.error ... on garbage
            self._f.close()
            raise _err(path, exc) from exc
        if summary is None or summary.statistics is None:
            self._f.close()
            raise ConversionError(
                f"{path}: MCAP file has no summary section (truncated, or still being written); "
                "recover it with `mcap recover` first"
            )
        self._summary = summary
        self._types = {
            ch.topic: summary.schemas[ch.schema_id].name if ch.schema_id in summary.schemas else ""
            for ch in summary.channels.values()
        }

    def topics(self) -> dict[str, str]:
        return dict(self._types)

    def span(self) -> tuple[int, int]:
        st = self._summary.statistics
        assert st is not None  # checked in __init__
        return int(st.message_start_time), int(st.message_end_time)

    def messages(
        self, topics: list[str], start: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[str, int, Any]]:
        if not topics:
            return
        try:
            for _schema, channel, message, decoded in self._r.iter_decoded_messages(
                topics=topics, starting_at=start, ending_before=stop
            ):
                yield channel.topic, int(message.log_time), to_plain(decoded)
        except ConversionError:
            raise
        except Exception as exc:  # a truncated chunk, a message that does not match its schema
            raise _err(self.path, exc) from exc

    def log_times(self, topics: list[str]) -> Iterator[tuple[str, int]]:
        if not topics:
            return
        try:
            for _schema, channel, message in self._r.iter_messages(topics=topics):
                yield channel.topic, int(message.log_time)
        except Exception as exc:
            raise _err(self.path, exc) from exc

    def counts(self) -> dict[str, int]:
        st = self._summary.statistics
        channels = self._summary.channels
        out: dict[str, int] = {}
        for cid, n in (st.channel_message_counts if st is not None else {}).items():
            if cid in channels:
                out[channels[cid].topic] = out.get(channels[cid].topic, 0) + int(n)
        return out

    def metadata(self) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            for rec in self._r.iter_metadata():
                for k, v in rec.metadata.items():
                    out[f"{rec.name}/{k}"] = v
                    out.setdefault(k, v)
        except Exception as exc:
            raise _err(self.path, exc) from exc
        return out

    def close(self) -> None:
        self._f.close()


class McapReader(LogReader):
    """:class:`SourceReader` for MCAP files."""

    kind = "mcap"
    suffixes = (".mcap",)

    def find_files(self) -> list[Path]:
        p = self.path
        if p.is_file():
            return [p]
        if p.is_dir():
            return self._confined(
                natural_files([c for c in p.iterdir() if c.is_file() and c.suffix == ".mcap"])
            )
        raise ConversionError(f"{p}: MCAP source not found")

    def open_file(self, path: Path) -> McapFile:
        return McapFile(path)


def open_mcap(spec: SourceSpec) -> McapReader:
    """Registry factory (``robopipe.convert.source.READERS``)."""
    return McapReader(Path(spec.path), **spec.options)
