"""Infer a mapping from a source's keys, so a user without a mapping gets a sensible start (core layer).

Rules (printed mapping is meant to be saved and edited):
* keys are taken in sorted order (TFDS does not keep a stable feature order);
* image-like keys (encoded images, uint8 HxWxC) except depth -> cameras named after the key's leaf;
* observation ``state``/``proprio`` vector if present, else every other float vector/scalar under the
  observation -> ``observation.state`` (concatenated in key order);
* ``action`` tensor -> ``action``; an action *dict* -> its float parts concatenated;
* LeRobot-named keys (``observation.state``, ``observation.images.cam_high``, ``action``) keep their roles and
  names: '.' separates their parts like '/' does;
* the first language key (step ``language_instruction``, inside ``observation``, or episode metadata) -> task;
* ``is_first/is_last/is_terminal/reward/discount`` are kept as extras; scalar episode metadata is kept.
"""

from __future__ import annotations

import re

from robopipe.convert.mapping import CameraSpec, ConversionMapping, TaskSpec, VectorPart, VectorSpec
from robopipe.convert.source import SourceDescription, SourceField

_OBS_PREFIXES = ("observation/", "observations/", "obs/", "observation.")
_ACTION_NAMES = ("action", "actions")
_STATE_NAMES = ("state", "proprio", "qpos", "robot_state", "states")
_LANG_RE = re.compile(r"(language_instruction|natural_language_instruction|instruction|task|prompt)$")
_SKIP_RE = re.compile(r"(depth|embedding|has_image|has_language|mask|segmentation)", re.IGNORECASE)
_EXTRAS = ("is_first", "is_last", "is_terminal", "reward", "rewards", "discount", "dones")


def _split(path: str) -> list[str]:
    """Parts of a source key: '/'-separated, and '.'-separated in LeRobot-named keys (``observation.state``)."""
    parts = path.split("/")
    if len(parts) == 1 and path.startswith(("observation.", "action.")):
        parts = path.split(".")
    return parts


def _leaf(path: str) -> str:
    return _split(path)[-1]


def _is_float_vector(f: SourceField) -> bool:
    return f.kind == "tensor" and f.dtype.startswith("float") and len(f.shape) <= 1


def _camera_name(path: str, taken: set[str]) -> str:
    name = _leaf(path)
    if path.startswith(_OBS_PREFIXES) and path.count("/") >= 2:  # observations/images/cam_high -> cam_high
        name = _leaf(path)
    base, i = re.sub(r"[^A-Za-z0-9_]+", "_", name), 1
    name = base
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def infer_mapping(desc: SourceDescription) -> ConversionMapping:
    """A mapping guessed from ``desc``; fps is left unset (RLDS does not store it)."""
    # sorted by key: TFDS does not keep a stable feature order, and the printed mapping should not change
    steps = {p: f for p, f in sorted(desc.fields.items()) if f.scope == "step"}
    episode = {p: f for p, f in sorted(desc.fields.items()) if f.scope == "episode"}

    cameras: dict[str, CameraSpec] = {}
    for p, f in steps.items():
        if f.is_image and not _SKIP_RE.search(p):
            cameras[_camera_name(p, set(cameras))] = CameraSpec(key=p)

    obs_vectors = [
        p
        for p, f in steps.items()
        if p.startswith(_OBS_PREFIXES) and _is_float_vector(f) and not _SKIP_RE.search(p)
    ]
    named_state = [p for p in obs_vectors if _leaf(p) in _STATE_NAMES]
    state_keys = named_state[:1] or obs_vectors
    if not state_keys:  # robomimic-style top-level 'states' or plain 'state'
        state_keys = [p for p, f in steps.items() if _leaf(p) in _STATE_NAMES and _is_float_vector(f)][:1]
    state = VectorSpec(parts=[VectorPart(key=k) for k in state_keys]) if state_keys else None

    action: VectorSpec | None = None
    direct = [p for p in steps if p in _ACTION_NAMES and steps[p].kind == "tensor"]
    if direct:
        action = VectorSpec(parts=[VectorPart(key=direct[0])])
    else:
        parts = [
            p
            for p, f in steps.items()
            if len(_split(p)) > 1 and _split(p)[0] in _ACTION_NAMES and _is_float_vector(f)
        ]
        if parts:
            action = VectorSpec(parts=[VectorPart(key=k) for k in parts])

    task = TaskSpec()
    lang = [p for p, f in {**steps, **episode}.items() if f.kind == "text" and _LANG_RE.search(p)]
    lang.sort(key=lambda p: (desc.fields[p].scope != "step", "_2" in p or "_3" in p, p.count("/")))
    if lang:
        task = TaskSpec(key=lang[0])

    extras = {
        _leaf(p): p for p in steps if p in _EXTRAS and steps[p].kind == "tensor" and len(steps[p].shape) <= 1
    }
    extras = {("next." + k if k in ("reward", "rewards", "dones") else k): v for k, v in extras.items()}
    extras = {
        k.replace("next.rewards", "next.reward").replace("next.dones", "next.done"): v
        for k, v in extras.items()
    }
    meta = {
        _leaf(p): p
        for p, f in episode.items()
        if f.kind in ("text", "tensor") and not f.shape and p != task.key and not _SKIP_RE.search(p)
    }
    return ConversionMapping(
        name=desc.name,
        cameras=cameras,
        state=state,
        action=action,
        task=task,
        extras=extras,
        episode_metadata=meta,
    )
