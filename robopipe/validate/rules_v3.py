"""Rules on LeRobot 0.6.1's v3.0 additions: encoder settings, depth maps, language columns, tools (core layer).

``info.json`` side (RP110): the ``video.*`` encoder settings 0.6.1 records per video feature must have the types
its ``VideoEncoderConfig.from_video_info`` accepts, depth features must carry usable quantisation parameters
(``depth_min < depth_max``, ``depth_min + shift > 0`` in log mode) and a ``depth_unit``, language features must be
named as 0.6.1 recognises them, and ``tools`` must be a list of function schemas. Data side (RP313): language
columns have the message-row layout and every row keeps 0.6.1's invariants (role set, persistent rows carry a
timestamp, styles in their column, cameras only on view-dependent styles and naming a camera feature).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.format import language
from robopipe.format.features import FeatureSpec, camera_keys
from robopipe.validate.context import DatasetContext
from robopipe.validate.findings import FindingCollector, Severity

_INFO = "meta/info.json"
DEPTH_UNITS = ("m", "mm")
DEPTH_PIX_FMTS = ("gray12le", "gray16le", "yuv420p12le", "gray10le")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _num_or_none(v: Any) -> float | None:
    return float(v) if _is_num(v) else None


# key -> (accepts, expected); None is always accepted (0.6.1 falls back to its defaults)
ENCODER_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "video.g": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "video.crf": (_is_num, "a number"),
    "video.preset": (lambda v: _is_int(v) or isinstance(v, str), "an int or a codec preset name"),
    "video.fast_decode": (lambda v: _is_int(v) and v >= 0, "an int >= 0"),
    "video.video_backend": (lambda v: isinstance(v, str) and bool(v), "a backend name such as 'pyav'"),
    "video.extra_options": (lambda v: isinstance(v, dict), "an object of codec options"),
    "is_depth_map": (lambda v: isinstance(v, bool), "true or false"),
    "video.depth_min": (_is_num, "a number (metres)"),
    "video.depth_max": (_is_num, "a number (metres)"),
    "video.shift": (_is_num, "a number (metres)"),
    "video.use_log": (lambda v: isinstance(v, bool), "true or false"),
    "depth_unit": (lambda v: v in DEPTH_UNITS, "'m' or 'mm'"),
}


def check_v3_info(ctx: DatasetContext, out: FindingCollector) -> None:
    """RP110 on ``info.json``: encoder settings, depth parameters, language feature names, tools."""
    if ctx.info is None:
        return
    for key, spec in ctx.features.items():
        _check_feature(key, spec, out)
    tools = ctx.raw_info.get("tools")
    if tools is not None:
        for i, tool in enumerate(tools if isinstance(tools, list) else [tools]):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tools, list) or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                out.add(
                    "RP110",
                    f"tools[{i}] is not a function schema",
                    file=_INFO,
                    expected="[{'type': 'function', 'function': {'name': ..., 'parameters': ...}}, ...]",
                    actual=repr(tool)[:120],
                )


def _check_feature(key: str, spec: FeatureSpec, out: FindingCollector) -> None:
    def add(msg: str, expected: str, actual: Any, severity: Severity | None = None) -> None:
        out.add(
            "RP110",
            msg,
            file=_INFO,
            feature=key,
            expected=expected,
            actual=repr(actual)[:120],
            severity=severity,
        )

    if spec.is_language and key not in language.LANGUAGE_COLUMNS:
        add("language feature has a name LeRobot does not read", " or ".join(language.LANGUAGE_COLUMNS), key)
    if key in language.LANGUAGE_COLUMNS and not spec.is_language:
        add(f"{key!r} is reserved for a language column", "dtype 'language'", spec.dtype)
    info = spec.info or {}
    for ik, (ok, expected) in ENCODER_KEYS.items():
        if ik in info and info[ik] is not None and not ok(info[ik]):
            add(f"info[{ik!r}] has the wrong type", expected, info[ik])
    if info.get("video.is_depth_map") and "is_depth_map" not in info:
        add(
            "legacy 'video.is_depth_map' marker (LeRobot 0.6.1 migrates it to 'is_depth_map')",
            "'is_depth_map'",
            info["video.is_depth_map"],
            Severity.WARNING,
        )
    if not spec.is_depth_map:
        return
    if spec.is_visual and (len(spec.shape) != 3 or spec.shape[2] != 1):
        add("depth map must have one channel", "(H, W, 1)", list(spec.shape))
    if info.get("depth_unit") is None:
        add(
            "depth map has no 'depth_unit': LeRobot returns its frames and stats unconverted",
            "'mm' or 'm'",
            None,
            Severity.WARNING,
        )
    if not spec.is_video:
        return
    lo, hi, shift = (_num_or_none(info.get(f"video.{n}")) for n in ("depth_min", "depth_max", "shift"))
    if lo is not None and hi is not None and lo >= hi:
        add("depth_min must be below depth_max", f"< {hi}", lo)
    log_mode = info.get("video.use_log", True) is True
    if log_mode and lo is not None and shift is not None and lo + shift <= 0:
        add("log quantisation needs depth_min + shift > 0", "> 0", lo + shift)
    pix_fmt = info.get("video.pix_fmt")
    if pix_fmt is not None and pix_fmt not in DEPTH_PIX_FMTS:
        add("depth video must use a high-bit-depth pixel format", "gray12le", pix_fmt)


def check_language(ctx: DatasetContext, out: FindingCollector) -> int:
    """RP313 on the data files' language columns; returns the number of frames checked."""
    keys = [k for k, f in ctx.features.items() if f.is_language]
    if not keys:
        return 0
    cams = camera_keys(ctx.features)
    checked = 0
    for path in ctx.data_files:
        rel = ctx.rel(path)
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException):
            continue  # RP301
        present = []
        for k in (k for k in keys if k in schema.names):  # a missing column is RP304
            problem = language.type_problem(k, schema.field(k).type)
            if problem is None:
                present.append(k)
            else:
                out.add("RP313", problem, file=rel, feature=k, actual=str(schema.field(k).type)[:200])
        if not present:
            continue
        cols = [*present, *(c for c in ("episode_index", "frame_index") if c in schema.names)]
        try:
            table = pq.read_table(path, columns=cols)
        except (OSError, pa.ArrowException):
            continue  # RP301
        eps = table["episode_index"].to_pylist() if "episode_index" in table.column_names else None
        fis = table["frame_index"].to_pylist() if "frame_index" in table.column_names else None
        for k in present:
            for row, frame in enumerate(table[k].to_pylist()):
                for msg in language.row_problems(k, frame or [], cams):
                    out.add(
                        "RP313",
                        msg,
                        file=rel,
                        feature=k,
                        episode=None if eps is None else eps[row],
                        frame=None if fis is None else fis[row],
                    )
        checked += table.num_rows
    return checked
