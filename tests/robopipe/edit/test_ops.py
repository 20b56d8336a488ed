"""Merge and edit on robopipe-written inputs: packets bit-identical, columns equal, indices and offsets right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robopipe.edit import EditRequest, MergeRequest, SizeLimits, edit, merge, split_episodes
from robopipe.errors import ConfigError, DatasetExistsError, SchemaMismatchError
from robopipe.execution import ThreadExecutor
from robopipe.format import layout
from robopipe.format.reader import DatasetReader
from robopipe.stats import load_stats_json, merge_all, read_sketches
from tests.fixtures.datasets import make_dataset
from tests.robopipe.edit.helpers import check_against_sources, tree_hash

CAMS = {"front": (48, 64), "wrist": (32, 48)}
SMALL = {"data_files_size_in_mb": 0.002, "video_files_size_in_mb": 0.0015}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("inputs")
    a = make_dataset(base / "a", frames=[6, 9, 5, 7], cameras=CAMS, **SMALL)
    b = make_dataset(
        base / "b", frames=[5, 8, 4], seed=1, cameras=CAMS, tasks=["wave", "pick the cube"], **SMALL
    )
    c = make_dataset(base / "c", frames=[3, 4], seed=2, cameras=CAMS, tasks=["stack"], **SMALL)
    return a, b, c


def _files(root: Path, sub: str, suffix: str) -> int:
    return len(layout.sorted_files(root, sub, suffix))


def test_inputs_have_several_files(inputs: tuple[Path, Path, Path]) -> None:
    a = inputs[0]
    assert _files(a, "data", ".parquet") > 1
    assert _files(a, "videos/observation.images.front", ".mp4") > 1


def test_merge_three(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, b, c = inputs
    before = [tree_hash(p) for p in inputs]
    report = merge(MergeRequest(out=tmp_path / "m", roots=[a, b, c]))
    assert [tree_hash(p) for p in inputs] == before
    mapping = [(a, i) for i in range(4)] + [(b, i) for i in range(3)] + [(c, i) for i in range(2)]
    r = check_against_sources(tmp_path / "m", mapping)
    assert r.tasks == ["pick the cube", "place the cube", "wave", "stack"]
    assert report.outputs[0].stats_source == "sketches"
    assert report.outputs[0].episodes == 9 and report.outputs[0].frames == 51
    # rollover by the first input's limits: several output files per stream
    assert _files(tmp_path / "m", "data", ".parquet") > 1
    assert _files(tmp_path / "m", "videos/observation.images.wrist", ".mp4") > 1
    info = json.loads((tmp_path / "m/meta/info.json").read_text())
    assert info["total_episodes"] == 9 and info["total_tasks"] == 4 and info["splits"] == {"train": "0:9"}
    assert info["data_files_size_in_mb"] == SMALL["data_files_size_in_mb"]
    # stats merged from the sketches: exact count/mean/min/max over all frames
    stats = load_stats_json(tmp_path / "m")
    assert stats is not None
    df = r.to_pandas(columns=["observation.state", "index", "episode_index"])
    state = np.stack(df["observation.state"].to_numpy()).astype(np.float64)
    np.testing.assert_allclose(stats["observation.state"]["mean"], state.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats["observation.state"]["min"], state.min(0))
    assert stats["index"]["max"].tolist() == [50] and stats["episode_index"]["max"].tolist() == [8]
    assert stats["observation.images.front"]["count"].tolist()[0] == 51
    # the output keeps a sketch per episode (index columns recomputed), so later merges stay exact
    sk = read_sketches(tmp_path / "m")
    assert sorted(sk) == list(range(9))
    assert sk[7]["episode_index"].min.tolist() == [7.0]
    total = merge_all(sk[i] for i in range(9)).to_lerobot()
    np.testing.assert_allclose(
        total["observation.state"]["mean"], stats["observation.state"]["mean"], rtol=1e-12
    )
    again = merge(MergeRequest(out=tmp_path / "m2", roots=[tmp_path / "m", c]))
    assert again.outputs[0].stats_source == "sketches"
    # per-episode stats of renumbered columns are recomputed
    s7 = r.episode_stats(7)
    assert s7["episode_index"]["min"].tolist() == [7] and s7["index"]["min"].tolist() == [
        r.episodes["dataset_from_index"][7]
    ]
    # pixels decode identically (packets are identical; one decode as a sanity check)
    src = DatasetReader(b)
    np.testing.assert_array_equal(
        next(r.iter_video_frames("observation.images.front", 5)),
        next(src.iter_video_frames("observation.images.front", 1)),
    )


def test_merge_output_limits_and_threads(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, b, _ = inputs
    req = MergeRequest(
        out=tmp_path / "m",
        roots=[a, b],
        limits=SizeLimits(video_files_size_in_mb=1, data_files_size_in_mb=1, chunks_size=2),
    )
    with ThreadExecutor(2) as threads:
        merge(req, threads)
    mapping = [(a, i) for i in range(4)] + [(b, i) for i in range(3)]
    check_against_sources(tmp_path / "m", mapping)
    assert _files(tmp_path / "m", "data", ".parquet") == 1
    assert _files(tmp_path / "m", "videos/observation.images.front", ".mp4") == 1


def test_merge_rollover_chunks(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, b, _ = inputs
    merge(
        MergeRequest(
            out=tmp_path / "m", roots=[a, b], limits=SizeLimits(chunks_size=2, data_files_size_in_mb=0.001)
        )
    )
    files = layout.sorted_files(tmp_path / "m", "data", ".parquet")
    assert len(files) == 7 and files[-1].parent.name == "chunk-003"
    check_against_sources(tmp_path / "m", [(a, i) for i in range(4)] + [(b, i) for i in range(3)])


def test_merge_reports_every_difference(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    other = make_dataset(
        tmp_path / "other",
        episodes=1,
        frames=3,
        fps=15,
        cameras={"top": (48, 64)},
        extra_features={"observation.effort": {"dtype": "float32", "shape": [2], "names": None}},
    )
    with pytest.raises(SchemaMismatchError) as exc:
        merge(MergeRequest(out=tmp_path / "m", roots=[a, other]))
    msg = str(exc.value)
    for part in (
        "fps 15",
        "missing feature 'observation.images.front'",
        "missing feature 'observation.images.wrist'",
        "extra feature 'observation.images.top'",
        "extra feature 'observation.effort'",
    ):
        assert part in msg, part
    assert not (tmp_path / "m").exists()


def test_merge_with_rename(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    cams = {"top": (48, 64), "wrist": (32, 48)}
    other = make_dataset(tmp_path / "other", frames=[4, 5], cameras=cams, seed=3)
    rename = {"observation.images.top": "observation.images.front"}
    merge(MergeRequest(out=tmp_path / "m", roots=[a, other], rename=rename))
    r = check_against_sources(
        tmp_path / "m", [(a, i) for i in range(4)] + [(other, 0), (other, 1)], rename=rename
    )
    assert "observation.images.top" not in r.features


def test_delete_episodes(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    before = tree_hash(a)
    report = edit(EditRequest(operation="delete-episodes", root=a, episodes=[0, 2], out=tmp_path / "d"))
    assert tree_hash(a) == before
    r = check_against_sources(tmp_path / "d", [(a, 1), (a, 3)])
    assert report.outputs[0].episodes == 2 and r.num_frames == 16 and report.reencoded_spans == 0


def test_split_fractions_and_lists(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    edit(
        EditRequest(
            operation="split", root=a, splits={"train": 0.5, "val": 0.3, "test": 0.2}, out=tmp_path / "s"
        )
    )
    check_against_sources(tmp_path / "s/train", [(a, 0), (a, 1)])
    check_against_sources(tmp_path / "s/val", [(a, 2)])
    check_against_sources(tmp_path / "s/test", [(a, 3)])
    edit(EditRequest(operation="split", root=a, splits={"x": [3, 0], "y": [1]}, out=tmp_path / "l"))
    check_against_sources(tmp_path / "l/x", [(a, 3), (a, 0)])
    check_against_sources(tmp_path / "l/y", [(a, 1)])


def test_split_rule_is_lerobots() -> None:
    assert split_episodes(10, {"train": 0.8, "val": 0.2}) == {"train": list(range(8)), "val": [8, 9]}
    assert split_episodes(7, {"a": 0.5, "b": 0.25, "c": 0.25}) == {"a": [0, 1, 2], "b": [3], "c": [4, 5, 6]}
    with pytest.raises(ConfigError):
        split_episodes(4, {"a": 0.8, "b": 0.5})
    with pytest.raises(ConfigError, match="both split"):
        split_episodes(4, {"a": [0, 1], "b": [1]})


def test_remove_video_and_data_features(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    edit(
        EditRequest(
            operation="remove-feature",
            root=a,
            features=["observation.images.wrist", "action"],
            out=tmp_path / "r",
        )
    )
    r = check_against_sources(
        tmp_path / "r", [(a, i) for i in range(4)], dropped=("observation.images.wrist", "action")
    )
    stats = load_stats_json(tmp_path / "r")
    assert stats is not None and "observation.images.wrist" not in stats and "action" not in stats
    assert "action" not in pq.read_schema(layout.sorted_files(tmp_path / "r", "data", ".parquet")[0]).names
    assert r.video_keys == ["observation.images.front"]
    with pytest.raises(SchemaMismatchError, match="default"):
        edit(EditRequest(operation="remove-feature", root=a, features=["index"], out=tmp_path / "r2"))
    with pytest.raises(SchemaMismatchError, match="no such feature"):
        edit(EditRequest(operation="remove-feature", root=a, features=["nope"], out=tmp_path / "r3"))


def test_rename_feature(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    rename = {"observation.images.wrist": "observation.images.hand", "action": "action.joints"}
    edit(EditRequest(operation="rename-feature", root=a, rename=rename, out=tmp_path / "n"))
    r = check_against_sources(tmp_path / "n", [(a, i) for i in range(4)], rename=rename)
    assert (
        "stats/observation.images.hand/mean"
        in pq.read_schema(layout.sorted_files(tmp_path / "n", "meta/episodes", ".parquet")[0]).names
    )
    assert r.features["action.joints"].names is not None


def test_set_task_some_and_all(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    edit(
        EditRequest(operation="set-task", root=a, task="fold the towel", episodes=[1, 2], out=tmp_path / "t")
    )
    r = check_against_sources(
        tmp_path / "t", [(a, i) for i in range(4)], tasks={1: "fold the towel", 2: "fold the towel"}
    )
    assert r.tasks == ["pick the cube", "fold the towel", "place the cube"]
    edit(EditRequest(operation="set-task", root=a, task="one task", out=tmp_path / "t2"))
    r2 = check_against_sources(
        tmp_path / "t2", [(a, i) for i in range(4)], tasks=dict.fromkeys(range(4), "one task")
    )
    assert r2.tasks == ["one task"]


def test_in_place_and_existing_output(inputs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a = inputs[0]
    copy = tmp_path / "copy"
    merge(MergeRequest(out=copy, roots=[a]))
    edit(EditRequest(operation="delete-episodes", root=copy, episodes=[3], in_place=True))
    check_against_sources(copy, [(a, 0), (a, 1), (a, 2)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no stage or backup left behind
    with pytest.raises(DatasetExistsError):
        edit(EditRequest(operation="delete-episodes", root=a, episodes=[0], out=copy))


def test_request_validation() -> None:
    with pytest.raises(ValueError, match="--episodes"):
        EditRequest(operation="delete-episodes", root=Path("x"), out=Path("y"))
    with pytest.raises(ValueError, match="--out"):
        EditRequest(operation="set-task", root=Path("x"), task="t")
    with pytest.raises(ValueError, match="also an input"):
        MergeRequest(out=Path("x"), roots=[Path("x")])


def test_image_and_string_features(tmp_path: Path) -> None:
    extra = {"note": {"dtype": "string", "shape": [1], "names": None}}
    a = make_dataset(
        tmp_path / "a",
        frames=[3, 4, 2],
        cameras={"top": (24, 32)},
        camera_dtype="image",
        extra_features=extra,
    )
    b = make_dataset(
        tmp_path / "b",
        frames=[2],
        cameras={"top": (24, 32)},
        camera_dtype="image",
        extra_features=extra,
        seed=1,
    )
    merge(MergeRequest(out=tmp_path / "m", roots=[a, b]))
    r = check_against_sources(tmp_path / "m", [(a, 0), (a, 1), (a, 2), (b, 0)])
    assert r.features["observation.images.top"].dtype == "image"
    np.testing.assert_array_equal(
        r.decode_image("observation.images.top", 3, 1),
        DatasetReader(b).decode_image("observation.images.top", 0, 1),
    )
    edit(EditRequest(operation="delete-episodes", root=a, episodes=[1], out=tmp_path / "d"))
    check_against_sources(tmp_path / "d", [(a, 0), (a, 2)])


def test_packet_path_when_byte_copy_is_unsupported(
    inputs: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import robopipe.edit.execute as execute
    from robopipe.edit.mp4 import Unsupported

    def refuse(path: Path) -> None:
        raise Unsupported(f"{path}: forced")

    monkeypatch.setattr(execute, "parse_mp4", refuse)
    a, b, _ = inputs
    merge(MergeRequest(out=tmp_path / "m", roots=[a, b], limits=SizeLimits(video_files_size_in_mb=1)))
    check_against_sources(tmp_path / "m", [(a, i) for i in range(4)] + [(b, i) for i in range(3)])
    edit(EditRequest(operation="delete-episodes", root=a, episodes=[1], out=tmp_path / "d"))
    check_against_sources(tmp_path / "d", [(a, 0), (a, 2), (a, 3)])


def test_byte_path_is_used(
    inputs: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import robopipe.edit.execute as execute

    class NoPackets:
        def __init__(self, *args: object) -> None:
            raise AssertionError("packet path used")

    monkeypatch.setattr(execute, "PacketCopier", NoPackets)
    a, b, _ = inputs
    merge(MergeRequest(out=tmp_path / "m", roots=[a, b], limits=SizeLimits(video_files_size_in_mb=1)))
    check_against_sources(tmp_path / "m", [(a, i) for i in range(4)] + [(b, i) for i in range(3)])
