"""Checks shared by the edit tests: tree hashes, packet bytes per episode, numeric columns, offsets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from robopipe.format import layout
from robopipe.format.reader import DatasetReader


def tree_hash(root: Path) -> str:
    """Hash of every file's relative path and bytes (inputs must be unchanged by an edit)."""
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def episode_packets(reader: DatasetReader, key: str, episode: int) -> list[bytes]:
    """Bytes of the packets of one episode's span of its video file, in presentation order."""
    path, start, end = reader.video_span(key, episode)
    fps = reader.fps
    first, last = round(start * fps), round(end * fps)
    out: dict[int, bytes] = {}
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for pkt in c.demux(s):
            if pkt.size == 0 or pkt.pts is None:
                continue
            k = round(float(pkt.pts * s.time_base) * fps)
            if first <= k < last:
                out[k] = bytes(pkt)
    assert sorted(out) == list(range(first, last)), (path, first, last, sorted(out))
    return [out[k] for k in range(first, last)]


def check_structure(root: Path) -> DatasetReader:
    """Invariants of a v3.0 dataset as robopipe writes it: contiguous indices, offsets, one row group per episode."""
    r = DatasetReader(root)
    eps = r.episodes
    n = r.num_episodes
    assert eps["episode_index"].tolist() == list(range(n))
    lengths = eps["length"].to_numpy()
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    assert eps["dataset_from_index"].tolist() == starts.tolist()
    assert eps["dataset_to_index"].tolist() == (starts + lengths).tolist()
    df = r.to_pandas(columns=["index", "episode_index", "frame_index", "timestamp", "task_index"])
    assert df["index"].tolist() == list(range(int(lengths.sum())))
    assert df["episode_index"].tolist() == np.repeat(np.arange(n), lengths).tolist()
    assert df["task_index"].between(0, len(r.tasks) - 1).all()
    for f in layout.sorted_files(root, layout.DATA_DIR, ".parquet"):
        pf = pq.ParquetFile(f)
        groups = [
            pf.read_row_group(i, columns=["episode_index"])["episode_index"].to_numpy()
            for i in range(pf.num_row_groups)
        ]
        assert all(len(set(g.tolist())) == 1 for g in groups), f
        assert len({int(g[0]) for g in groups}) == len(groups), f
    for key in r.video_keys:
        base = f"videos/{key}/"
        for _cf, grp in eps.groupby([base + "chunk_index", base + "file_index"]):
            grp = grp.sort_values("episode_index")
            frm = grp[base + "from_timestamp"].to_numpy()
            to = grp[base + "to_timestamp"].to_numpy()
            ln = grp["length"].to_numpy()
            np.testing.assert_allclose(frm, np.r_[0, np.cumsum(ln)[:-1]] / r.fps, atol=1e-9)
            np.testing.assert_allclose(to - frm, ln / r.fps, atol=1e-9)
    return r


def numeric_frame(r: DatasetReader, episode: int, columns: list[str]) -> pd.DataFrame:
    return r.to_pandas(episode=episode, columns=columns)


def check_against_sources(
    out: Path,
    mapping: list[tuple[Path, int]],
    *,
    rename: dict[str, str] | None = None,
    dropped: tuple[str, ...] = (),
    tasks: dict[int, str] | None = None,
) -> DatasetReader:
    """Every output episode equals its source episode: numeric columns, task strings, video packet bytes."""
    rename = rename or {}
    r = check_structure(out)
    assert r.num_episodes == len(mapping)
    readers: dict[Path, DatasetReader] = {}
    for e, (src_root, src_ep) in enumerate(mapping):
        s = readers.setdefault(src_root, DatasetReader(src_root))
        inv = {v: k for k, v in rename.items() if k in s.features}
        for key, spec in r.features.items():
            src_key = inv.get(key, key)
            if key in ("episode_index", "index", "task_index") or spec.is_video:
                continue
            got = r.read_episode(e, [key])[key].to_pylist()
            want = s.read_episode(src_ep, [src_key])[src_key].to_pylist()
            assert got == want, (e, key)
        got_tasks = [r.tasks[i] for i in r.read_episode(e, ["task_index"])["task_index"].to_pylist()]
        if tasks and e in tasks:
            assert set(got_tasks) == {tasks[e]}
        else:
            want_tasks = [
                s.tasks[i] for i in s.read_episode(src_ep, ["task_index"])["task_index"].to_pylist()
            ]
            assert got_tasks == want_tasks, e
        assert sorted(r.episodes["tasks"][e]) == sorted(set(got_tasks))
        for key in r.video_keys:
            src_key = inv.get(key, key)
            assert episode_packets(r, key, e) == episode_packets(s, src_key, src_ep), (e, key)
    for key in dropped:
        assert key not in r.features
        assert not (out / "videos" / key).exists()
        cols = pq.read_schema(layout.sorted_files(out, layout.EPISODES_DIR, ".parquet")[0]).names
        assert not [c for c in cols if c.startswith((f"videos/{key}/", f"stats/{key}/"))]
    return r
