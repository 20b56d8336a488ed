"""A generator of hostile datasets: every kind of broken, lying or malicious input robopipe must survive.

Each :class:`Kind` turns a copy of a small valid dataset (or a small valid source for the converters) into one
hostile variant inside a sandbox. Escaping kinds point at ``<sandbox>/outside``, a victim folder holding a
copy of the real data, so a command that follows the hostile path would *succeed* there (and the matrix
would see it: the victim's hash changes, or a command that should fail exits 0).

``expect`` says which exit codes are right: 0 ok, 1 invalid, 2 unreadable. ``lenient`` lists commands that
never read the broken part (``info`` does not open data files) and may therefore exit 0.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OK = frozenset({0})
INVALID = frozenset({1})
UNREADABLE = frozenset({2})
BROKEN = frozenset({1, 2})
ANY = frozenset({0, 1, 2})

PUBLISH_REFUSES = {"publish": frozenset({1})}
VALIDATE_INVALID = {"validate": frozenset({1}), "report": frozenset({1})}

INFO = "meta/info.json"
DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"
TASKS = "meta/tasks.parquet"
STATS = "meta/stats.json"
CAM = "observation.images.front"
VIDEO = f"videos/{CAM}/chunk-000/file-000.mp4"

# every v3.0 command of the matrix, and the converters
V3_COMMANDS = (
    "info",
    "validate",
    "report",
    "stats",
    "merge",
    "delete-episodes",
    "split",
    "remove-feature",
    "rename-feature",
    "set-task",
    "publish",
)
CONVERT_COMMANDS = ("convert-v21", "convert-hdf5", "convert-folder")
EDITS = frozenset({"delete-episodes", "split", "remove-feature", "rename-feature", "set-task"})
# commands that only read metadata (or copy files as they are) and so may not notice a broken data file
META_ONLY = frozenset({"info", "publish"})


@dataclass(frozen=True)
class Kind:
    """One hostile variant: how to make it and what each command must answer."""

    name: str
    make: Callable[[Path, Path], None]  # (dataset root, sandbox) -> None; edits the copy in place
    expect: frozenset[int]
    lenient: frozenset[str] = frozenset()  # commands allowed to exit 0 (they never read the broken part)
    source: str = "v3"  # "v3" dataset, or "v21" / "hdf5" / "folder" converter source
    overrides: dict[str, frozenset[int]] = field(default_factory=dict)

    def allowed(self, command: str) -> frozenset[int]:
        if command in self.overrides:
            return self.overrides[command]
        return self.expect | ({0} if command in self.lenient else set())


# ---------------------------------------------------------------------------------------------- helpers
def edit_json(path: Path, fn: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=2))


def set_info(**values: Any) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        edit_json(root / INFO, lambda d: d.update(values))

    return make


def set_feature(key: str, **values: Any) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        edit_json(root / INFO, lambda d: d["features"][key].update(values))

    return make


def write(rel: str, content: bytes | str) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)

    return make


def truncate(rel: str, keep: float = 0.5) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        p = root / rel
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * keep)])

    return make


def remove(rel: str) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        p = root / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()

    return make


def rewrite_parquet(rel: str, fn: Callable[[pa.Table], pa.Table]) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        p = root / rel
        pq.write_table(fn(pq.read_table(p)), p)

    return make


def set_column(name: str, values: Callable[[int], pa.Array]) -> Callable[[pa.Table], pa.Table]:
    def fn(t: pa.Table) -> pa.Table:
        return t.set_column(t.column_names.index(name), name, values(t.num_rows))

    return fn


def victim(sandbox: Path) -> Path:
    """The folder outside every dataset that escaping paths aim at."""
    return sandbox / "outside"


def escape_template(key: str, template: Callable[[Path], str]) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        edit_json(root / INFO, lambda d: d.update({key: template(sandbox)}))

    return make


def symlink_out(rel: str) -> Callable[[Path, Path], None]:
    """Replace ``rel`` by a symlink to its copy in the victim folder."""

    def make(root: Path, sandbox: Path) -> None:
        target = victim(sandbox) / "linked" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        src = root / rel
        shutil.move(str(src), target)
        os.symlink(target, src)

    return make


def chain(*makers: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def make(root: Path, sandbox: Path) -> None:
        for m in makers:
            m(root, sandbox)

    return make


def empty_dataset(root: Path, sandbox: Path) -> None:
    """A root whose info declares no episodes and holds no data (an interrupted first recording)."""
    for sub in ("data", "videos", "meta/episodes", "meta/robopipe"):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / TASKS).unlink()
    (root / STATS).unlink(missing_ok=True)
    edit_json(root / INFO, lambda d: d.update(total_episodes=0, total_frames=0, total_tasks=0, splits={}))


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def garbage(n: int = 4096, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# ---------------------------------------------------------------------------------------------- v3 kinds
def _v3_kinds() -> list[Kind]:
    meta = frozenset({"info"})  # info reads info.json + episodes only
    k: list[Kind] = [
        Kind("valid", lambda r, s: None, OK),
        # meta/info.json unreadable -> 2 everywhere
        Kind("info-missing", remove(INFO), UNREADABLE),
        Kind("info-garbage-json", write(INFO, "{not json"), UNREADABLE),
        Kind("info-empty-file", write(INFO, ""), UNREADABLE),
        Kind("info-not-an-object", write(INFO, "[1, 2, 3]"), UNREADABLE),
        Kind("info-not-utf8", write(INFO, b'{"fps": "\xff\xfe"}'), UNREADABLE),
        Kind("info-deep-nesting", write(INFO, deep_json(100_000)), UNREADABLE),
        # validate reads them and reports RP102 (with the convert hint): invalid, not unreadable
        Kind("info-version-v2", set_info(codebase_version="v2.1"), UNREADABLE, overrides=VALIDATE_INVALID),
        Kind(
            "info-version-garbage",
            set_info(codebase_version="banana"),
            UNREADABLE,
            overrides=VALIDATE_INVALID,
        ),
        # schema
        Kind("features-not-a-mapping", set_info(features=["observation.state", "action"]), INVALID),
        Kind("features-missing", lambda r, s: edit_json(r / INFO, lambda d: d.pop("features")), INVALID),
        Kind("feature-spec-not-a-mapping", set_info(features={"action": 5}), INVALID),
        Kind("feature-key-dotdot", lambda r, s: _rename_feature(r, CAM, ".."), INVALID),
        Kind("feature-key-slash", lambda r, s: _rename_feature(r, "action", "a/b"), INVALID),
        Kind("video-key-escape", lambda r, s: _rename_feature(r, CAM, "../../outside"), INVALID),
        Kind("shape-giant", set_feature("observation.state", shape=[10**12]), INVALID),
        Kind(
            "shape-giant-product", set_feature("observation.state", shape=[100000, 100000, 100000]), INVALID
        ),
        Kind("shape-negative", set_feature("observation.state", shape=[-6]), INVALID),
        Kind("shape-not-a-list", set_feature("observation.state", shape="six"), INVALID),
        Kind("shape-mismatch", set_feature("observation.state", shape=[7]), INVALID, meta | {"publish"}),
        # merge/edits stream-copy mp4 packets and stats decode frames at their real size: none trusts H x W
        Kind(
            "camera-shape-mismatch",
            set_feature(CAM, shape=[8, 8, 3]),
            INVALID,
            meta | {"publish", "stats", "merge"} | EDITS,
        ),
        Kind("dtype-unsupported", set_feature("action", dtype="complex64"), INVALID),
        Kind("dtype-object", set_feature("action", dtype="object"), INVALID),
        Kind("dtype-wrong", set_feature("action", dtype="int64"), INVALID, meta | {"publish"}),
        Kind("dtype-not-a-string", set_feature("action", dtype=7), INVALID),
        Kind("fps-zero", set_info(fps=0), INVALID),
        Kind("fps-negative", set_info(fps=-30), INVALID),
        Kind("fps-huge", set_info(fps=10**12), INVALID),
        Kind("fps-float-huge", set_info(fps=1e308), INVALID),
        Kind(
            "fps-nan",
            lambda r, s: (r / INFO).write_text((r / INFO).read_text().replace('"fps": 10', '"fps": NaN')),
            INVALID,
        ),
        Kind("fps-string", set_info(fps="thirty"), INVALID),
        Kind("totals-lie-high", set_info(total_frames=10**9, total_episodes=1000), INVALID, meta),
        Kind("totals-negative", set_info(total_frames=-5), INVALID),
        Kind("totals-huge", set_info(total_episodes=10**30), INVALID),
        # templates
        Kind(
            "template-absolute-data",
            escape_template(
                "data_path",
                lambda s: str(victim(s)) + "/data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            ),
            INVALID,
        ),
        Kind(
            "template-dotdot-data",
            escape_template(
                "data_path", lambda s: "../outside/data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
            ),
            INVALID,
        ),
        Kind(
            "template-absolute-video",
            escape_template(
                "video_path",
                lambda s: (
                    str(victim(s)) + "/videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
                ),
            ),
            INVALID,
        ),
        Kind(
            "template-dotdot-video",
            escape_template(
                "video_path",
                lambda s: (
                    "videos/../../outside/videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
                ),
            ),
            INVALID,
        ),
        Kind(
            "template-giant-width",
            set_info(data_path="data/chunk-{chunk_index:0999999999d}/file-{file_index:03d}.parquet"),
            INVALID,
        ),
        Kind(
            "template-unknown-key",
            set_info(data_path="data/{episode_index}/file-{file_index:03d}.parquet"),
            INVALID,
        ),
        Kind(
            "template-attribute",
            set_info(data_path="data/{chunk_index.__class__}/{file_index}.parquet"),
            INVALID,
        ),
        Kind("template-positional", set_info(video_path="videos/{}/{0}.mp4"), INVALID),
        Kind("template-not-a-string", set_info(data_path=5), INVALID),
        Kind("template-unbalanced", set_info(data_path="data/{chunk_index/file.parquet"), INVALID),
        # data files
        Kind("data-truncated", truncate(DATA), BROKEN, META_ONLY),
        Kind("data-garbage", write(DATA, garbage()), BROKEN, META_ONLY),
        Kind("data-empty-file", write(DATA, b""), BROKEN, META_ONLY),
        Kind("data-zero-rows", rewrite_parquet(DATA, lambda t: t.slice(0, 0)), BROKEN, META_ONLY),
        Kind("data-missing", remove(DATA), BROKEN, frozenset({"info"})),
        # removing the very column that is missing yields a consistent dataset
        Kind(
            "data-column-missing",
            rewrite_parquet(DATA, lambda t: t.drop_columns(["action"])),
            BROKEN,
            META_ONLY | {"remove-feature"},
        ),
        Kind(
            "data-wrong-dtype",
            rewrite_parquet(DATA, set_column("timestamp", lambda n: pa.array(["x"] * n))),
            BROKEN,
            META_ONLY,
        ),
        # publish refuses symlinks leaving the dataset whatever else it checks
        Kind(
            "data-symlinked-out", symlink_out("data"), INVALID, frozenset({"info"}), overrides=PUBLISH_REFUSES
        ),
        Kind(
            "data-file-symlinked-out",
            symlink_out(DATA),
            INVALID,
            frozenset({"info"}),
            overrides=PUBLISH_REFUSES,
        ),
        # episodes metadata
        Kind("episodes-truncated", truncate(EPISODES), BROKEN),
        Kind("episodes-garbage", write(EPISODES, garbage(2000)), BROKEN),
        Kind("episodes-zero-rows", rewrite_parquet(EPISODES, lambda t: t.slice(0, 0)), BROKEN),
        Kind("episodes-missing", remove("meta/episodes"), BROKEN),
        Kind(
            "episodes-no-location",
            rewrite_parquet(EPISODES, lambda t: t.drop_columns(["data/chunk_index"])),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-negative-index",
            rewrite_parquet(
                EPISODES, set_column("data/file_index", lambda n: pa.array([-1] * n, pa.int64()))
            ),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-huge-index",
            rewrite_parquet(
                EPISODES, set_column("data/chunk_index", lambda n: pa.array([10**15] * n, pa.int64()))
            ),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-null-index",
            rewrite_parquet(
                EPISODES, set_column("data/chunk_index", lambda n: pa.array([None] * n, pa.int64()))
            ),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-float-index",
            rewrite_parquet(EPISODES, set_column("data/chunk_index", lambda n: pa.array([float("nan")] * n))),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-length-lies",
            rewrite_parquet(EPISODES, set_column("length", lambda n: pa.array([10**9] * n, pa.int64()))),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-video-index-escape",
            rewrite_parquet(
                EPISODES, set_column(f"videos/{CAM}/chunk_index", lambda n: pa.array([-3] * n, pa.int64()))
            ),
            BROKEN,
            meta,
        ),
        Kind(
            "episodes-order-scrambled",
            rewrite_parquet(EPISODES, lambda t: t.take(pa.array(list(range(t.num_rows))[::-1]))),
            BROKEN,
            meta | {"stats"},  # stats locate episodes by their index, whatever the row order
        ),
        # tasks, stats, videos
        Kind(
            "tasks-garbage", write(TASKS, garbage(300)), BROKEN, meta | {"stats"}
        ),  # stats never reads tasks
        Kind("tasks-missing", remove(TASKS), BROKEN, meta | {"stats"}),
        Kind("stats-garbage", write(STATS, "garbage"), ANY),
        Kind("stats-not-an-object", write(STATS, "[1, 2]"), ANY),
        Kind(
            "stats-wrong-shapes",
            write(STATS, json.dumps({"action": {"mean": [[1, 2], [3]], "std": "x"}})),
            ANY,
        ),
        Kind("stats-symlinked-out", symlink_out(STATS), ANY, overrides=PUBLISH_REFUSES),
        Kind("episodes-symlinked-out", symlink_out("meta/episodes"), INVALID, overrides=VALIDATE_INVALID),
        Kind("tasks-symlinked-out", symlink_out(TASKS), INVALID, overrides=VALIDATE_INVALID),
        Kind("sketches-symlinked-out", symlink_out("meta/robopipe"), INVALID, frozenset({"info", "validate", "report"})),
        # edits copy whole mp4 files unchanged when no episode is cut out of them (no decoding)
        Kind("video-truncated", truncate(VIDEO, 0.3), BROKEN, META_ONLY | EDITS | {"merge"}),
        Kind("video-garbage", write(VIDEO, garbage(5000)), BROKEN, META_ONLY | EDITS | {"merge"}),
        Kind("video-missing", remove(VIDEO), BROKEN, frozenset({"info"})),
        Kind(
            "video-symlinked-out",
            symlink_out("videos"),
            INVALID,
            frozenset({"info"}),
            overrides=PUBLISH_REFUSES,
        ),
        Kind("empty-dataset", empty_dataset, ANY),
        Kind("staging-leftovers", write(".staging/episode-000001/x.bin", b"x"), ANY),
    ]
    return k


def _rename_feature(root: Path, old: str, new: str) -> None:
    def fn(d: dict[str, Any]) -> None:
        d["features"] = {(new if k == old else k): v for k, v in d["features"].items()}

    edit_json(root / INFO, fn)


# ---------------------------------------------------------------------------------------------- converter sources
def _v21_kinds() -> list[Kind]:
    info = INFO
    d_t = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    return [
        Kind("v21-valid", lambda r, s: None, OK, source="v21"),
        Kind(
            "v21-template-absolute",
            escape_template("data_path", lambda s: str(victim(s)) + "/v21/" + d_t),
            INVALID,
            source="v21",
        ),
        Kind("v21-template-dotdot", set_info(data_path="../outside/v21/" + d_t), INVALID, source="v21"),
        Kind(
            "v21-video-template-dotdot",
            set_info(
                video_path="../outside/v21/videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
            ),
            INVALID,
            source="v21",
        ),
        Kind(
            "v21-template-giant-width",
            set_info(data_path="data/{episode_chunk:0999999999d}/{episode_index}.parquet"),
            INVALID,
            source="v21",
        ),
        Kind(
            "v21-template-unknown-key",
            set_info(data_path="data/{chunk_index}/{episode_index}.parquet"),
            INVALID,
            source="v21",
        ),
        Kind("v21-info-garbage", write(info, "{nope"), BROKEN, source="v21"),
        Kind("v21-features-not-a-mapping", set_info(features=[1, 2]), BROKEN, source="v21"),
        Kind(
            "v21-fps-missing", lambda r, s: edit_json(r / info, lambda d: d.pop("fps")), BROKEN, source="v21"
        ),
        Kind("v21-fps-string", set_info(fps="fast"), BROKEN, source="v21"),
        Kind("v21-chunks-size-zero", set_info(chunks_size=0), BROKEN, source="v21"),
        Kind("v21-episodes-jsonl-missing", remove("meta/episodes.jsonl"), BROKEN, source="v21"),
        Kind("v21-episodes-jsonl-garbage", write("meta/episodes.jsonl", "{oops\n"), BROKEN, source="v21"),
        Kind(
            "v21-episodes-jsonl-not-objects", write("meta/episodes.jsonl", "[1]\n2\n"), BROKEN, source="v21"
        ),
        Kind(
            "v21-episode-index-negative",
            write("meta/episodes.jsonl", '{"episode_index": -4, "length": 6}\n'),
            BROKEN,
            source="v21",
        ),
        Kind("v21-tasks-garbage", write("meta/tasks.jsonl", '{"task": 1}\n'), BROKEN, source="v21"),
        Kind(
            "v21-data-garbage",
            write("data/chunk-000/episode_000000.parquet", garbage()),
            BROKEN,
            source="v21",
        ),
        Kind("v21-data-missing", remove("data/chunk-000/episode_000001.parquet"), BROKEN, source="v21"),
        Kind(
            "v21-video-garbage",
            write("videos/chunk-000/observation.images.top/episode_000000.mp4", garbage()),
            BROKEN,
            source="v21",
        ),
        Kind(
            "v21-stats-garbage",
            write("meta/episodes_stats.jsonl", '{"episode_index": 0, "stats": 5}\n'),
            BROKEN | OK,
            source="v21",
        ),
        Kind("v21-data-symlinked-out", symlink_out("data"), INVALID, source="v21"),
    ]


def _hdf5_kinds() -> list[Kind]:
    return [
        Kind("hdf5-garbage-file", write("episode_0.hdf5", garbage()), BROKEN, source="hdf5"),
        Kind("hdf5-empty-file", write("episode_0.hdf5", b""), BROKEN, source="hdf5"),
        Kind("hdf5-empty-folder", lambda r, s: None, BROKEN, source="hdf5"),
        Kind("hdf5-text-file", write("episode_0.hdf5", "hello"), BROKEN, source="hdf5"),
    ]


def _folder_kinds() -> list[Kind]:
    return [
        Kind("folder-empty", lambda r, s: None, BROKEN, source="folder"),
        Kind(
            "folder-garbage-table",
            write("ep0/steps.csv", b"\xff\xfe\x00garbage\n\x00"),
            BROKEN,
            source="folder",
        ),
        Kind(
            "folder-garbage-image",
            chain(write("ep0/steps.csv", "a,b\n1,2\n"), write("ep0/cam/000.png", garbage())),
            BROKEN,
            source="folder",
        ),
        Kind("folder-no-table", write("ep0/cam/readme.txt", "no table"), BROKEN, source="folder"),
        Kind("folder-garbage-npz", write("ep0/steps.npz", garbage()), BROKEN, source="folder"),
        Kind("folder-garbage-parquet", write("ep0/steps.parquet", garbage()), BROKEN, source="folder"),
    ]


KINDS: list[Kind] = _v3_kinds() + _v21_kinds() + _hdf5_kinds() + _folder_kinds()
BY_NAME = {k.name: k for k in KINDS}
assert len(BY_NAME) == len(KINDS), "duplicate kind names"
