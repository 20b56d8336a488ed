"""Mapping model, inference and application (no TensorFlow needed)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from robopipe.convert.apply import map_episode, output_features
from robopipe.convert.infer import infer_mapping
from robopipe.convert.mapping import ConversionMapping, builtin_mapping_names, load_mapping
from robopipe.convert.source import SourceDescription, SourceEpisode, SourceField
from robopipe.errors import ConversionError, MappingError


def _desc() -> SourceDescription:
    f = {
        "observation/image": SourceField(
            path="observation/image", scope="step", kind="encoded_image", shape=(8, 6, 3), dtype="uint8"
        ),
        "observation/depth": SourceField(
            path="observation/depth", scope="step", kind="tensor", shape=(8, 6, 1), dtype="uint8"
        ),
        "observation/state": SourceField(
            path="observation/state", scope="step", kind="tensor", shape=(3,), dtype="float32"
        ),
        "observation/language_embedding": SourceField(
            path="observation/language_embedding", scope="step", kind="tensor", shape=(16,), dtype="float32"
        ),
        "action": SourceField(path="action", scope="step", kind="tensor", shape=(4,), dtype="float32"),
        "language_instruction": SourceField(path="language_instruction", scope="step", kind="text"),
        "is_first": SourceField(path="is_first", scope="step", kind="tensor", shape=(), dtype="bool"),
        "reward": SourceField(path="reward", scope="step", kind="tensor", shape=(), dtype="float32"),
        "episode_metadata/file_path": SourceField(
            path="episode_metadata/file_path", scope="episode", kind="text"
        ),
    }
    return SourceDescription(kind="rlds", name="toy", num_episodes=2, fields=f)


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _episode(t: int = 4) -> tuple[SourceEpisode, np.ndarray]:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (t, 8, 6, 3), dtype=np.uint8)
    return SourceEpisode(
        index=3,
        source="toy record 3",
        steps={
            "observation/image": np.asarray([_png(i) for i in imgs], dtype=object),
            "observation/state": rng.standard_normal((t, 3)).astype(np.float32),
            "action": rng.random((t, 4)).astype(np.float32),
            "language_instruction": np.asarray([b"pick", b"pick", b"", b"place"], dtype=object)[:t],
            "is_first": np.arange(t) == 0,
            "reward": np.zeros(t, np.float32),
        },
        metadata={"episode_metadata/file_path": b"/x/ep3"},
    ), imgs


def test_infer_picks_cameras_state_action_task_and_skips_depth_and_embeddings() -> None:
    m = infer_mapping(_desc())
    assert {k: c.key for k, c in m.cameras.items()} == {"image": "observation/image"}
    assert m.state is not None and [p.key for p in m.state.parts] == ["observation/state"]
    assert m.action is not None and [p.key for p in m.action.parts] == ["action"]
    assert m.task.key == "language_instruction"
    assert m.extras == {"is_first": "is_first", "next.reward": "reward"}
    assert m.episode_metadata == {"file_path": "episode_metadata/file_path"}
    # round trip through YAML
    again = ConversionMapping.model_validate(__import__("yaml").safe_load(m.to_yaml()))
    assert again == m


def test_apply_decodes_bgr_resize_vectors_tasks_and_drops_steps() -> None:
    ep, imgs = _episode()
    m = ConversionMapping.model_validate(
        {
            "fps": 5,
            "cameras": {"cam": {"key": "observation/image", "bgr": True}},
            "state": ["observation/state", {"pad": 2}],
            "action": {
                "parts": [
                    {"key": "action", "index": [0, 3]},
                    {"key": "action", "index": [1], "invert": True},
                    {"key": "action", "index": [2], "binarize": 0.5},
                ]
            },
            "task": {"key": "language_instruction", "default": "do it"},
            "extras": {"is_first": "is_first"},
            "episode_metadata": {"file_path": "episode_metadata/file_path"},
            "drop_first_steps": 1,
        }
    )
    m.check(_desc())
    feats = output_features(m, _desc())
    assert feats["observation.state"]["shape"] == [5] and feats["action"]["shape"] == [4]
    assert feats["observation.images.cam"]["shape"] == [8, 6, 3]
    out = map_episode(m, ep)
    np.testing.assert_array_equal(out.columns["observation.images.cam"], imgs[1:, ..., ::-1])
    s = ep.steps["observation/state"][1:]
    np.testing.assert_array_equal(
        out.columns["observation.state"], np.concatenate([s, np.zeros((3, 2))], 1).astype(np.float32)
    )
    a = ep.steps["action"][1:].astype(np.float64)
    want = np.stack([a[:, 0], a[:, 3], 1 - a[:, 1], (a[:, 2] > 0.5).astype(float)], 1).astype(np.float32)
    np.testing.assert_array_equal(out.columns["action"], want)
    assert out.tasks == ["pick", "do it", "place"]
    assert out.columns["is_first"].shape == (3, 1) and not out.columns["is_first"].any()
    assert out.metadata == {"file_path": "/x/ep3"}


def test_resize_and_bad_image_fail_only_that_episode() -> None:
    ep, _ = _episode()
    m = ConversionMapping.model_validate(
        {"fps": 5, "cameras": {"cam": {"key": "observation/image", "resize": [4, 2]}}}
    )
    assert map_episode(m, ep).columns["observation.images.cam"].shape == (4, 4, 2, 3)
    ep.steps["observation/image"][2] = b"not an image"
    with pytest.raises(ConversionError, match="step 2"):
        map_episode(m, ep)


def test_non_finite_values_fail_the_episode() -> None:
    ep, _ = _episode()
    ep.steps["action"][1, 2] = np.nan
    m = ConversionMapping.model_validate({"fps": 5, "action": ["action"]})
    with pytest.raises(ConversionError, match=r"non-finite values .* 'action' at steps \[1\]"):
        map_episode(m, ep)


def test_check_lists_every_problem_and_the_available_keys() -> None:
    m = ConversionMapping.model_validate(
        {
            "cameras": {"a": "observation/state", "b": "nope"},
            "state": [{"key": "observation/state", "index": [5]}],
            "task": "action",
            "episode_metadata": {"x": "language_instruction"},
        }
    )
    with pytest.raises(MappingError) as err:
        m.check(_desc())
    msg = str(err.value)
    for part in (
        "cameras.a: 'observation/state' is not an image",
        "'nope' not found",
        "index [5] out of range",
        "task: 'action' is tensor",
        "is a step key, expected an episode key",
        "available keys",
        "episode_metadata/file_path",
    ):
        assert part in msg


def test_fps_resolution() -> None:
    assert ConversionMapping(source_rate=15).resolve_fps() == 15
    assert ConversionMapping(source_rate=12.5, fps=12).resolve_fps() == 12
    assert ConversionMapping(source_rate=3.75).resolve_fps(override=4) == 4
    with pytest.raises(MappingError, match="not an integer"):
        ConversionMapping(source_rate=3.75).resolve_fps()
    with pytest.raises(MappingError, match="unknown"):
        ConversionMapping().resolve_fps()


def test_builtin_mappings_load_and_bad_files_are_mapping_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = builtin_mapping_names()
    assert {"bridge", "droid", "fractal20220817_data", "libero", "asu_table_top"} <= set(names)
    for n in names:
        load_mapping(n)
    assert load_mapping("bridge").drop_first_steps == 1
    with pytest.raises(MappingError, match=r"12\.5"):
        load_mapping("asu_table_top").resolve_fps()
    with pytest.raises(MappingError, match="unknown mapping"):
        load_mapping("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: {a: {key: x, colour: red}}\n")
    with pytest.raises(MappingError, match="invalid mapping"):
        load_mapping(bad)
