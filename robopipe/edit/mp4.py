"""Box-level mp4 concatenation: copy sample bytes in bulk and write a new sample table (core layer).

Stream copy through a demuxer costs a Python round trip per packet; at the sizes edits run on, that
is far slower than copying the bytes. For the files LeRobot and robopipe write (one video track,
constant frame duration, no B-frame reordering, no edit offset), an episode span is a contiguous
run of samples in the source ``mdat``: this module copies those byte ranges with
``os.copy_file_range`` and writes a fresh ``moov`` (``stts``/``stss``/``stsc``/``stsz``/``stco``)
in front of them. Anything else raises :class:`Unsupported` and the caller falls back to
:class:`~robopipe.edit.packets.PacketCopier`.
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robopipe.errors import FormatError

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


class Unsupported(FormatError):
    """The file is outside what the byte-level path handles; use the packet path instead."""


def _boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """``(type, box_start, payload_start, box_end)`` of the boxes in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack_from(">I4s", buf, pos)
        hdr = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", buf, pos + 8)
            hdr = 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise Unsupported(f"malformed box {typ!r} at {pos}")
        yield typ, pos, pos + hdr, pos + size
        pos += size


def _child(buf: bytes, start: int, end: int, typ: bytes) -> tuple[int, int, int] | None:
    for t, b0, p0, b1 in _boxes(buf, start, end):
        if t == typ:
            return b0, p0, b1
    return None


def _need(buf: bytes, start: int, end: int, typ: bytes) -> tuple[int, int, int]:
    found = _child(buf, start, end, typ)
    if found is None:
        raise Unsupported(f"missing {typ!r} box")
    return found


@dataclass
class Mp4Source:
    """Sample table of one single-track mp4."""

    path: Path
    ftyp: bytes
    mvhd: bytes  # whole boxes, copied then patched
    tkhd: bytes
    mdhd: bytes
    hdlr: bytes
    vmhd: bytes
    dinf: bytes
    stsd: bytes
    timescale: int
    delta: int  # constant sample duration
    sizes: np.ndarray
    offsets: np.ndarray
    sync: np.ndarray  # bool per sample

    @property
    def num_samples(self) -> int:
        return len(self.sizes)

    @property
    def codec_key(self) -> bytes:
        """The sample description without its ``btrt`` (bit-rate hint, differs per file)."""
        return codec_key(self.stsd)


def codec_key(stsd: bytes) -> bytes:
    """``stsd`` bytes with every ``btrt`` box of the (first) visual sample entry removed."""
    if len(stsd) < 24 + 78:
        return stsd
    (entry_size,) = struct.unpack_from(">I", stsd, 16)
    children = 16 + 8 + 78  # stsd header 16, sample entry header 8, VisualSampleEntry fields 78
    end = min(16 + entry_size, len(stsd))
    try:
        parts = [stsd[b0:b1] for t, b0, _p0, b1 in _boxes(stsd, children, end) if t != b"btrt"]
    except Unsupported:
        return stsd
    return stsd[20:children] + b"".join(parts) + stsd[end:]


def _read_top_level(path: Path) -> tuple[bytes, bytes]:
    """(ftyp box, moov box) of a file, reading only those boxes."""
    ftyp = moov = b""
    with open(path, "rb") as fh:
        size_total = os.fstat(fh.fileno()).st_size
        pos = 0
        while pos + 8 <= size_total:
            fh.seek(pos)
            head = fh.read(16)
            size, typ = struct.unpack_from(">I4s", head, 0)
            if size == 1:
                (size,) = struct.unpack_from(">Q", head, 8)
            elif size == 0:
                size = size_total - pos
            if size < 8:
                raise Unsupported(f"{path}: malformed top-level box at {pos}")
            if typ in (b"ftyp", b"moov"):
                fh.seek(pos)
                data = fh.read(size)
                if typ == b"ftyp":
                    ftyp = data
                else:
                    moov = data
            pos += size
    if not ftyp or not moov:
        raise Unsupported(f"{path}: no ftyp/moov box")
    return ftyp, moov


def _full_box_entries(buf: bytes, p0: int) -> int:
    return int(struct.unpack_from(">I", buf, p0 + 4)[0])


def parse_mp4(path: Path) -> Mp4Source:
    """Parse the one video track of ``path``; raise :class:`Unsupported` outside the simple case."""
    ftyp, moov = _read_top_level(Path(path))
    traks = [(p0, b1) for t, _b0, p0, b1 in _boxes(moov, 8, len(moov)) if t == b"trak"]
    if len(traks) != 1:
        raise Unsupported(f"{path}: {len(traks)} tracks (expected 1)")
    t0, t1 = traks[0]
    mvhd = _need(moov, 8, len(moov), b"mvhd")
    tkhd = _need(moov, t0, t1, b"tkhd")
    edts = _child(moov, t0, t1, b"edts")
    if edts is not None:
        elst = _child(moov, edts[1], edts[2], b"elst")
        if elst is not None:
            _, p0, _ = elst
            version = moov[p0]
            n = _full_box_entries(moov, p0)
            if n != 1:
                raise Unsupported(f"{path}: edit list with {n} entries")
            media_time = struct.unpack_from(
                ">q" if version == 1 else ">i", moov, p0 + 8 + (8 if version == 1 else 4)
            )[0]
            if media_time != 0:
                raise Unsupported(f"{path}: edit list starts at media time {media_time}")
    mdia = _need(moov, t0, t1, b"mdia")
    mdhd = _need(moov, mdia[1], mdia[2], b"mdhd")
    hdlr = _need(moov, mdia[1], mdia[2], b"hdlr")
    if moov[hdlr[1] + 8 : hdlr[1] + 12] != b"vide":
        raise Unsupported(f"{path}: not a video track")
    minf = _need(moov, mdia[1], mdia[2], b"minf")
    vmhd = _need(moov, minf[1], minf[2], b"vmhd")
    dinf = _need(moov, minf[1], minf[2], b"dinf")
    stbl = _need(moov, minf[1], minf[2], b"stbl")
    s0, s1 = stbl[1], stbl[2]
    if _child(moov, s0, s1, b"ctts") is not None:
        raise Unsupported(f"{path}: composition offsets (B-frames)")
    stsd = _need(moov, s0, s1, b"stsd")
    version = moov[mdhd[1]]
    timescale = struct.unpack_from(">I", moov, mdhd[1] + (20 if version == 1 else 12))[0]

    _, p, _ = _need(moov, s0, s1, b"stts")
    n = _full_box_entries(moov, p)
    stts = np.frombuffer(moov, dtype=">u4", count=2 * n, offset=p + 8).reshape(n, 2).astype(np.int64)
    deltas = set(stts[:, 1].tolist())
    if len(deltas) != 1:
        # the last sample's duration may differ (muxers estimate it); it is not needed for pts
        if len(deltas) == 2 and stts[-1, 0] == 1:
            stts = stts[:-1]
        if len(set(stts[:, 1].tolist())) != 1:
            raise Unsupported(f"{path}: variable frame durations")
    delta = int(stts[0, 1])

    _, p, _ = _need(moov, s0, s1, b"stsz")
    fixed, count = struct.unpack_from(">II", moov, p + 4)
    sizes = (
        np.full(count, fixed, dtype=np.int64)
        if fixed
        else np.frombuffer(moov, dtype=">u4", count=count, offset=p + 12).astype(np.int64)
    )
    co = _child(moov, s0, s1, b"stco")
    if co is not None:
        nco = _full_box_entries(moov, co[1])
        chunk_off = np.frombuffer(moov, dtype=">u4", count=nco, offset=co[1] + 8).astype(np.int64)
    else:
        co = _need(moov, s0, s1, b"co64")
        nco = _full_box_entries(moov, co[1])
        chunk_off = np.frombuffer(moov, dtype=">u8", count=nco, offset=co[1] + 8).astype(np.int64)
    _, p, _ = _need(moov, s0, s1, b"stsc")
    nsc = _full_box_entries(moov, p)
    stsc = np.frombuffer(moov, dtype=">u4", count=3 * nsc, offset=p + 8).reshape(nsc, 3).astype(np.int64)
    first = stsc[:, 0] - 1
    per = stsc[:, 1]
    runs = np.diff(np.r_[first, nco])
    samples_per_chunk = np.repeat(per, runs)
    if samples_per_chunk.sum() != count:
        raise Unsupported(
            f"{path}: sample-to-chunk table covers {samples_per_chunk.sum()} of {count} samples"
        )
    chunk_of = np.repeat(np.arange(nco), samples_per_chunk)
    csum = np.cumsum(sizes) - sizes
    chunk_first = np.cumsum(samples_per_chunk) - samples_per_chunk
    offsets = chunk_off[chunk_of] + csum - csum[chunk_first][chunk_of]
    ss = _child(moov, s0, s1, b"stss")
    if ss is None:
        sync = np.ones(count, dtype=bool)
    else:
        nss = _full_box_entries(moov, ss[1])
        idx = np.frombuffer(moov, dtype=">u4", count=nss, offset=ss[1] + 8).astype(np.int64) - 1
        sync = np.zeros(count, dtype=bool)
        sync[idx[(idx >= 0) & (idx < count)]] = True

    def box(b: tuple[int, int, int]) -> bytes:
        return moov[b[0] : b[2]]

    return Mp4Source(
        Path(path),
        ftyp,
        box(mvhd),
        box(tkhd),
        box(mdhd),
        box(hdlr),
        box(vmhd),
        box(dinf),
        box(stsd),
        timescale,
        delta,
        sizes,
        offsets,
        sync,
    )


def _box(typ: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), typ) + payload


def _full(typ: bytes, payload: bytes) -> bytes:
    return _box(typ, b"\0\0\0\0" + payload)


def _patch_duration(box: bytes, kind: str, duration: int) -> bytes:
    """Set the duration field of a mvhd/tkhd/mdhd box (version 0 or 1)."""
    b = bytearray(box)
    v = b[8]
    if kind in ("mvhd", "mdhd"):
        off = 8 + (4 + 8 + 8 + 4 if v == 1 else 4 + 4 + 4 + 4)
    else:  # tkhd: version/flags, creation, modification, track_ID, reserved, duration
        off = 8 + (4 + 8 + 8 + 4 + 4 if v == 1 else 4 + 4 + 4 + 4 + 4)
    if v == 1:
        struct.pack_into(">Q", b, off, duration)
    else:
        struct.pack_into(">I", b, off, min(duration, 0xFFFFFFFF))
    return bytes(b)


def _timescale(box: bytes) -> int:
    v = box[8]
    return int(struct.unpack_from(">I", box, 8 + (4 + 8 + 8 if v == 1 else 4 + 4 + 4))[0])


def concat_spans(out: Path, spans: Sequence[tuple[Mp4Source, int, int]], fps: int) -> int:
    """Write ``out`` from ``(source, first sample, samples)`` spans; returns the number of samples.

    Raises :class:`Unsupported` when sources differ in codec configuration or timing, or a span does
    not start on a sync sample.
    """
    first = spans[0][0]
    for src, start, num in spans:
        if src.codec_key != first.codec_key:
            raise Unsupported(f"{src.path}: codec configuration differs from {first.path}")
        if src.timescale != first.timescale or src.delta != first.delta:
            raise Unsupported(f"{src.path}: time scale/frame duration differ from {first.path}")
        if src.timescale != src.delta * fps:
            raise Unsupported(f"{src.path}: frame duration {src.delta}/{src.timescale} s is not 1/{fps} s")
        if num <= 0 or start < 0 or start + num > src.num_samples:
            raise FormatError(
                f"{src.path}: samples {start}..+{num} out of range (file has {src.num_samples})"
            )
        if not src.sync[start]:
            raise Unsupported(f"{src.path}: sample {start} is not a keyframe")
    # byte runs: consecutive samples that are adjacent in the source file
    runs: list[tuple[Path, int, int, int]] = []  # (path, offset, bytes, samples)
    sizes_out: list[np.ndarray] = []
    sync_out: list[np.ndarray] = []
    for src, start, num in spans:
        off = src.offsets[start : start + num]
        sz = src.sizes[start : start + num]
        breaks = np.flatnonzero(off[1:] != off[:-1] + sz[:-1]) + 1
        bounds = np.r_[0, breaks, num]
        for a, b in itertools.pairwise(bounds.tolist()):
            runs.append((src.path, int(off[a]), int(sz[a:b].sum()), int(b - a)))
        sizes_out.append(sz)
        sync_out.append(src.sync[start : start + num])
    sizes = np.concatenate(sizes_out)
    sync = np.concatenate(sync_out)
    n = len(sizes)
    total = int(sizes.sum())
    media_dur = n * first.delta
    movie_dur = media_dur * _timescale(first.mvhd) // first.timescale
    chunk_samples = [r[3] for r in runs]
    stsc_entries: list[tuple[int, int, int]] = []
    for i, c in enumerate(chunk_samples):
        if not stsc_entries or stsc_entries[-1][1] != c:
            stsc_entries.append((i + 1, c, 1))
    use64 = total + 1_000_000 > 0xFFFFFFFF

    def moov_bytes(mdat_data_start: int) -> bytes:
        chunk_off = mdat_data_start + np.r_[0, np.cumsum([r[2] for r in runs])[:-1]].astype(np.int64)
        stts = _full(b"stts", struct.pack(">III", 1, n, first.delta))
        key_idx = np.flatnonzero(sync) + 1
        stss = (
            b""
            if sync.all()
            else _full(b"stss", struct.pack(">I", len(key_idx)) + key_idx.astype(">u4").tobytes())
        )
        stsc = _full(
            b"stsc", struct.pack(">I", len(stsc_entries)) + np.asarray(stsc_entries, dtype=">u4").tobytes()
        )
        stsz = _full(b"stsz", struct.pack(">II", 0, n) + sizes.astype(">u4").tobytes())
        if use64:
            stco = _full(b"co64", struct.pack(">I", len(runs)) + chunk_off.astype(">u8").tobytes())
        else:
            stco = _full(b"stco", struct.pack(">I", len(runs)) + chunk_off.astype(">u4").tobytes())
        stbl = _box(b"stbl", first.stsd + stts + stss + stsc + stsz + stco)
        minf = _box(b"minf", first.vmhd + first.dinf + stbl)
        mdia = _box(b"mdia", _patch_duration(first.mdhd, "mdhd", media_dur) + first.hdlr + minf)
        trak = _box(b"trak", _patch_duration(first.tkhd, "tkhd", movie_dur) + mdia)
        return _box(b"moov", _patch_duration(first.mvhd, "mvhd", movie_dur) + trak)

    mdat_header_len = 16 if use64 else 8
    size_guess = len(moov_bytes(0))
    head_len = len(first.ftyp) + size_guess + mdat_header_len
    moov = moov_bytes(head_len)
    if len(moov) != size_guess:  # sizes do not depend on the offsets' values
        raise FormatError("internal: moov size changed")
    mdat_header = (
        struct.pack(">I4sQ", 1, b"mdat", total + 16) if use64 else struct.pack(">I4s", total + 8, b"mdat")
    )
    with open(out, "wb") as fo:
        fo.write(first.ftyp + moov + mdat_header)
        fo.flush()
        handles: dict[Path, int] = {}
        try:
            for path, run_off, length, _ in runs:
                fd = handles.get(path)
                if fd is None:
                    fd = handles[path] = os.open(path, os.O_RDONLY)
                _copy_range(fd, fo.fileno(), run_off, length)
        finally:
            for fd in handles.values():
                os.close(fd)
    return n


def _copy_range(src_fd: int, dst_fd: int, offset: int, length: int) -> None:
    """Append ``length`` bytes from ``offset`` of ``src_fd`` to ``dst_fd`` (kernel copy when available)."""
    while length > 0:
        try:
            done = os.copy_file_range(src_fd, dst_fd, length, offset)
        except OSError:
            done = 0
        if done <= 0:  # not supported here: plain read/write
            data = os.pread(src_fd, min(length, 1 << 24), offset)
            if not data:
                raise FormatError(f"unexpected end of file at offset {offset}")
            done = os.write(dst_fd, data)
        offset += done
        length -= done
