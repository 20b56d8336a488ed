"""Merging LeRobot 0.6.1's per-dataset metadata when datasets are merged (core layer).

* Video encoder settings (``video.g``, ``video.crf``, ...): each key is kept when every source agrees, else it
  becomes ``null`` (``{}`` for ``video.extra_options``), exactly as 0.6.1's ``aggregate_datasets`` does, so the
  merged ``info.json`` never claims settings that only some of its videos were encoded with.
* Depth maps: frames are stored in a unit and (video) quantised with parameters recorded once per feature, so
  inputs whose depth settings differ cannot share one output feature; :func:`depth_mismatch` says why.
* ``tools``: the union of the sources' tool schemas by function name, first occurrence first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from robopipe.format.features import FeatureSpec
from robopipe.format.video import ENCODER_INFO_KEYS


def merge_encoder_info(
    features: Mapping[str, FeatureSpec], sources: Sequence[Mapping[str, FeatureSpec]]
) -> dict[str, FeatureSpec]:
    """``features`` (the first source's, renamed) with each video's encoder keys reconciled across ``sources``."""
    out = dict(features)
    for key, spec in features.items():
        if not spec.is_video:
            continue
        infos = [dict((s[key].info or {}) if key in s else {}) for s in sources]
        present = [k for k in ENCODER_INFO_KEYS if any(k in i for i in infos)]
        if not present:
            continue  # e.g. LeRobot 0.4.4 inputs: nothing recorded, nothing to reconcile
        merged = dict(spec.info or {})
        for k in present:
            values = [i.get(k) for i in infos]
            merged[k] = (
                values[0]
                if all(v == values[0] for v in values)
                else ({} if k.endswith("extra_options") else None)
            )
        out[key] = spec.model_copy(update={"info": merged})
    return out


def merge_tools(tool_lists: Sequence[list[dict[str, Any]] | None]) -> list[dict[str, Any]] | None:
    """Union of tool schemas by ``function.name``; None when no source declares any."""
    if all(t is None for t in tool_lists):
        return None
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for tools in tool_lists:
        for tool in tools or []:
            name = str((tool.get("function") or {}).get("name")) if isinstance(tool, dict) else repr(tool)
            if name not in seen:
                seen.add(name)
                out.append(tool)
    return out


DEPTH_INFO_KEYS = (
    "is_depth_map",
    "depth_unit",
    "video.depth_min",
    "video.depth_max",
    "video.shift",
    "video.use_log",
)


def depth_mismatch(key: str, a: FeatureSpec, b: FeatureSpec) -> list[str]:
    """Why depth feature ``key`` of two inputs cannot be merged by copying (empty when it can)."""
    if not (a.is_depth_map or b.is_depth_map):
        return []
    if a.is_depth_map != b.is_depth_map:
        return [f"feature {key!r} is a depth map in one input only"]
    ai, bi = a.info or {}, b.info or {}
    return [
        f"depth feature {key!r} {k}={bi.get(k)!r}, expected {ai.get(k)!r} (frames would decode to wrong depths)"
        for k in DEPTH_INFO_KEYS[1:]
        if ai.get(k) != bi.get(k)
    ]
