"""Helpers to break datasets and look up findings (imported by the validation tests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.validate import Finding, ValidationReport

DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"
VIDEO = "videos/observation.images.front/chunk-000/file-000.mp4"
LENGTHS = [8, 9, 10]
FPS = 10


def one(report: ValidationReport, code: str) -> Finding:
    """The single finding with ``code`` (fails listing every finding otherwise)."""
    found = report.by_code(code)
    assert len(found) == 1, f"expected one {code}, got {[f.model_dump() for f in report.findings]}"
    return found[0]


def codes(report: ValidationReport) -> set[str]:
    return report.codes()


def rewrite_parquet(path: Path, fn: Callable[[pa.Table], pa.Table]) -> None:
    table = pq.read_table(path)
    pq.write_table(fn(table), path)


def set_column(table: pa.Table, name: str, values: Any) -> pa.Table:
    i = table.column_names.index(name)
    return table.set_column(i, name, pa.array(values, type=table.schema.field(name).type))


def edit_json(path: Path, fn: Callable[[Any], Any]) -> None:
    """Load JSON, let ``fn`` mutate it in place (its return value is ignored), write it back."""
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=4))
