"""LeRobot 0.6.1's language columns, ``language_persistent`` and ``language_events`` (core layer).

Both are ``dtype: "language"`` features holding, per frame, a list of message rows
(``role``, ``content``, ``style``, [``timestamp``], ``camera``, ``tool_calls``). LeRobot's annotation writer lets
pyarrow infer the struct types, so two datasets rarely agree on the exact Arrow type (a column of only ``None``
cameras is ``null``-typed, ``tool_calls`` is whatever struct the calls had). robopipe writes the canonical type
0.6.1 declares (``lerobot/datasets/language.py``): strings, a ``float32`` timestamp, and ``tool_calls`` as a list
of ``arrow.json`` values. :func:`canonical_column` converts any of those layouts without changing a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

LANGUAGE_PERSISTENT = "language_persistent"
LANGUAGE_EVENTS = "language_events"
LANGUAGE_COLUMNS = (LANGUAGE_PERSISTENT, LANGUAGE_EVENTS)
PERSISTENT_ROW_FIELDS = ("role", "content", "style", "timestamp", "camera", "tool_calls")
EVENT_ROW_FIELDS = ("role", "content", "style", "camera", "tool_calls")
PERSISTENT_STYLES = frozenset({"subtask", "plan", "memory", "motion", "task_aug"})
EVENT_ONLY_STYLES = frozenset({"interjection", "vqa", "trace"})
VIEW_DEPENDENT_STYLES = frozenset({"vqa", "trace"})
MAX_ROWS_PER_FRAME = 10_000  # bound on rows checked per frame (hostile files)


def _row_fields(key: str, *, json_calls: bool) -> list[pa.Field]:
    calls = pa.list_(pa.json_() if json_calls else pa.string())
    fields = [
        pa.field("role", pa.string(), nullable=False),
        pa.field("content", pa.string()),
        pa.field("style", pa.string()),
    ]
    if key == LANGUAGE_PERSISTENT:
        fields.append(pa.field("timestamp", pa.float32(), nullable=False))
    fields += [pa.field("camera", pa.string()), pa.field("tool_calls", calls)]
    return fields


def arrow_type(key: str) -> pa.DataType:
    """The canonical Arrow type of language column ``key`` (0.6.1's ``language_*_arrow_type``)."""
    return pa.list_(pa.struct(_row_fields(key, json_calls=True)))


def hf_feature(key: str) -> dict[str, Any]:
    """The ``datasets`` feature dict of language column ``key`` (``List({... tool_calls: List(Json())})``)."""
    row: dict[str, Any] = {}
    for f in _row_fields(key, json_calls=True):
        if f.name == "tool_calls":
            row[f.name] = {"feature": {"decode": True, "_type": "Json"}, "_type": "List"}
        else:
            row[f.name] = {"dtype": "float32" if f.name == "timestamp" else "string", "_type": "Value"}
    return {"feature": row, "_type": "List"}


def _rows(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping) or not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise ValueError(f"expected a list of message rows, got {type(value).__name__}")
    return list(value)


def canonical_array(key: str, frames: Sequence[Any]) -> pa.Array:
    """Per-frame lists of row dicts as the canonical column (``tool_calls`` entries become JSON text)."""
    fields = [f.name for f in _row_fields(key, json_calls=False)]
    values = []
    for rows in frames:
        out = []
        for row in _rows(rows):
            if not isinstance(row, Mapping):
                raise ValueError(f"{key}: expected each row to be a mapping, got {type(row).__name__}")
            unknown = set(row) - set(fields)
            if unknown:
                raise ValueError(f"{key}: unknown row fields {sorted(unknown)} (expected {list(fields)})")
            calls = row.get("tool_calls")
            new = {name: row.get(name) for name in fields}
            new["tool_calls"] = None if calls is None else [_json_text(c) for c in calls]
            out.append(new)
        values.append(out)
    storage = pa.array(values, type=pa.list_(pa.struct(_row_fields(key, json_calls=False))))
    return storage.cast(arrow_type(key))


def _json_text(call: Any) -> str:
    if isinstance(call, str):  # already JSON text (an arrow.json value read back as a str)
        json.loads(call)
        return call
    return json.dumps(call, ensure_ascii=False)


def canonical_column(key: str, column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any Arrow layout of a language column (inferred structs, JSON tool calls) as the canonical type."""
    if column.type == arrow_type(key):
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return canonical_array(key, column.to_pylist())


def decoded_rows(column: pa.ChunkedArray | pa.Array) -> list[list[dict[str, Any]]]:
    """Python rows with ``tool_calls`` decoded from JSON (what LeRobot 0.6.1 hands to training code)."""
    out = []
    for rows in column.to_pylist():
        frame = []
        for row in rows or []:
            calls = row.get("tool_calls")
            if calls is not None:
                row = {**row, "tool_calls": [json.loads(c) if isinstance(c, str) else c for c in calls]}
            frame.append(row)
        out.append(frame)
    return out


def type_problem(key: str, t: pa.DataType) -> str | None:
    """Why column type ``t`` cannot hold language column ``key``; None when it can."""
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)) or not pa.types.is_struct(t.value_type):
        return f"expected a list of message structs, got {t}"
    row = t.value_type
    want = PERSISTENT_ROW_FIELDS if key == LANGUAGE_PERSISTENT else EVENT_ROW_FIELDS
    names = [row.field(i).name for i in range(row.num_fields)]
    missing = [n for n in want if n not in names]
    extra = [n for n in names if n not in want]
    if missing or extra:
        return f"row fields {names}, expected {list(want)}"
    return None


def row_problems(key: str, rows: Sequence[Any], camera_keys: Iterable[str]) -> list[str]:
    """What is wrong with one frame's rows (role, timestamp, style routing, camera invariant)."""
    cams = set(camera_keys)
    problems: list[str] = []
    for i, row in enumerate(list(rows or [])[:MAX_ROWS_PER_FRAME]):
        if not row.get("role"):
            problems.append(f"row {i}: role is empty")
        if key == LANGUAGE_PERSISTENT and row.get("timestamp") is None:
            problems.append(f"row {i}: persistent rows need a timestamp")
        style = row.get("style")
        if style is not None and key == LANGUAGE_PERSISTENT and style not in PERSISTENT_STYLES:
            problems.append(f"row {i}: style {style!r} belongs in {LANGUAGE_EVENTS}")
        if key == LANGUAGE_EVENTS and style in PERSISTENT_STYLES:
            problems.append(f"row {i}: style {style!r} belongs in {LANGUAGE_PERSISTENT}")
        camera = row.get("camera")
        if style in VIEW_DEPENDENT_STYLES:
            if not camera:
                problems.append(f"row {i}: style {style!r} needs a camera")
            elif camera not in cams:
                problems.append(f"row {i}: camera {camera!r} is not a camera feature")
        elif camera is not None:
            problems.append(f"row {i}: style {style!r} must have camera=None, got {camera!r}")
    return problems
