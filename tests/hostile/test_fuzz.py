"""Property-based fuzzing of ``meta/info.json`` and the episodes metadata (hypothesis).

Whatever the files say, every reader of the core either works or raises a :class:`RobopipeError` (which the
CLI turns into one line), never another exception, in bounded time; and any template it accepts only ever
formats to relative paths without ``..``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robopipe.edit.sources import load_source
from robopipe.errors import RobopipeError
from robopipe.format import layout, safepath
from robopipe.format.info import load_info
from robopipe.format.reader import DatasetReader
from robopipe.stats.recompute import plan_recompute
from robopipe.validate.engine import validate_dataset
from tests.fixtures.datasets import make_dataset
from tests.hostile.harness import alarm

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # a fixed set of examples: the suite is reproducible; raise max_examples to explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
RUN_S = 60

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
template_parts = st.sampled_from(
    [
        "data/",
        "videos/",
        "/",
        "../",
        "..",
        "chunk-",
        "file-",
        ".parquet",
        "{chunk_index}",
        "{chunk_index:03d}",
        "{file_index:03d}",
        "{file_index:0999999999d}",
        "{chunk_index:013d}",
        "{video_key}",
        "{video_key!r}",
        "{episode_index}",
        "{chunk_index.real}",
        "{0}",
        "{}",
        "{",
        "}",
        "\x00",
        "\\",
        "C:",
    ]
)
templates = st.lists(template_parts, min_size=1, max_size=8).map("".join)
shapes = st.lists(st.integers(min_value=-3, max_value=10**13), min_size=0, max_size=10)
dtypes = st.sampled_from(
    ["float32", "int64", "bool", "uint8", "complex64", "object", "U8", "video", "image", "string", "x"]
)
feature_keys = st.one_of(
    st.sampled_from(
        ["action", "observation.state", "observation.images.front", "..", ".", "a/b", "", "x" * 300]
    ),
    st.text(max_size=12),
)


@st.composite
def info_mutations(draw: st.DrawFn) -> Callable[[dict[str, Any]], None]:
    """A random edit of a valid info dict: templates, numbers, features, or any key set to any JSON."""
    choice = draw(st.sampled_from(["template", "value", "feature", "features", "drop"]))
    if choice == "template":
        key, value = draw(st.sampled_from(["data_path", "video_path"])), draw(templates)
        return lambda d: d.update({key: value})
    if choice == "value":
        key = draw(
            st.sampled_from(
                [
                    "fps",
                    "total_episodes",
                    "total_frames",
                    "total_tasks",
                    "chunks_size",
                    "codebase_version",
                    "splits",
                ]
            )
        )
        value = draw(json_values)
        return lambda d: d.update({key: value})
    if choice == "feature":
        key = draw(st.sampled_from(["action", "observation.state", "observation.images.front"]))
        spec = {"dtype": draw(dtypes), "shape": draw(shapes), "names": draw(json_values)}
        new_key = draw(feature_keys)

        def edit(d: dict[str, Any]) -> None:
            feats = d["features"] if isinstance(d.get("features"), dict) else {}
            feats.pop(key, None)
            feats[new_key] = spec
            d["features"] = feats

        return edit
    if choice == "features":
        value = draw(json_values)
        return lambda d: d.update(features=value)
    key = draw(st.sampled_from(["features", "fps", "data_path", "video_path", "total_episodes"]))
    return lambda d: d.pop(key, None)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("fuzz") / "ds",
        episodes=3,
        frames=5,
        fps=10,
        cameras={"front": (16, 16)},
        codec="h264",
    )


def _every_reader(root: Path) -> None:
    """Run the core's readers of metadata; each may refuse the dataset, but only with a RobopipeError."""
    with alarm(RUN_S):
        report = validate_dataset(root, gx=False)
        assert report.findings is not None
        for fn in (load_source, plan_recompute, _first_episode):
            with contextlib.suppress(RobopipeError):
                fn(root)


def _first_episode(root: Path) -> None:
    reader = DatasetReader(root)
    if reader.num_episodes:
        reader.read_episode(0)


@FUZZ
@given(edits=st.lists(info_mutations(), min_size=1, max_size=3))
def test_fuzzed_info_json(base: Path, edits: list[Callable[[dict[str, Any]], None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        shutil.copytree(base, root)
        info = json.loads((root / layout.INFO_PATH).read_text())
        for edit in edits:
            edit(info)
        (root / layout.INFO_PATH).write_text(json.dumps(info))
        try:
            loaded = load_info(root)
        except RobopipeError:
            loaded = None
        if loaded is not None:  # an accepted template formats only to confined relative paths
            for c, f in ((0, 0), (safepath.MAX_INDEX, safepath.MAX_INDEX)):
                rel = layout.data_path(c, f, loaded.data_path)
                assert not rel.startswith("/") and ".." not in Path(rel).parts and len(rel) < 2000
        _every_reader(root)


int_columns = [
    "episode_index",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
]
video_int = [f"videos/observation.images.front/{c}" for c in ("chunk_index", "file_index")]
video_float = [f"videos/observation.images.front/{c}" for c in ("from_timestamp", "to_timestamp")]


@st.composite
def episodes_mutations(draw: st.DrawFn) -> Callable[[pa.Table], pa.Table]:
    choice = draw(st.sampled_from(["column", "drop", "rows"]))
    name = draw(st.sampled_from(int_columns + video_int + video_float))
    if choice == "column":
        seed = draw(st.integers(0, 2**32 - 1))

        def set_col(t: pa.Table) -> pa.Table:
            if name not in t.column_names:
                return t
            rng = np.random.default_rng(seed)
            kind = rng.integers(0, 4)
            n = t.num_rows
            if kind == 0:
                arr = pa.array(rng.integers(-(2**62), 2**62, n), pa.int64())
            elif kind == 1:
                arr = pa.array(rng.choice([np.nan, np.inf, -1.5, 1e300, 0.0, 3.0], n), pa.float64())
            elif kind == 2:
                arr = pa.array([None] * n, pa.int64())
            else:
                arr = pa.array(rng.choice([-1, 0, 1, 2, 999_999, 1_000_000, 10**15], n), pa.int64())
            return t.set_column(t.column_names.index(name), name, arr)

        return set_col
    if choice == "drop":
        return lambda t: t.drop_columns([name]) if name in t.column_names else t
    picks = draw(st.lists(st.integers(0, 2), max_size=6))
    return lambda t: t.take(pa.array(picks, pa.int64()))


@FUZZ
@given(edits=st.lists(episodes_mutations(), min_size=1, max_size=3))
def test_fuzzed_episodes_metadata(base: Path, edits: list[Callable[[pa.Table], pa.Table]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        shutil.copytree(base, root)
        path = root / layout.episodes_path(0, 0)
        table = pq.read_table(path)
        for edit in edits:
            table = edit(table)
        pq.write_table(table, path)
        _every_reader(root)
