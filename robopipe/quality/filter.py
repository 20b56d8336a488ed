"""``robopipe filter``: keep the episodes an expression or a saved selection picks (core layer).

Built on the edit machinery (``delete-episodes`` of the complement): data rows are copied, video
is stream-copied (no decode, no re-encode), stats are merged, and the input is never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import ConfigError, CorruptFileError
from robopipe.format import layout
from robopipe.quality.select import Selector
from robopipe.quality.store import has_quality, read_episodes

if TYPE_CHECKING:
    from robopipe.edit import EditReport
    from robopipe.execution import Executor


def episode_rows(root: Path, with_quality: bool) -> dict[int, dict[str, Any]]:
    """Per episode the values an expression may use: scalar metadata columns and ``quality.*``."""
    rows: dict[int, dict[str, Any]] = {}
    for f in layout.sorted_files(Path(root), layout.EPISODES_DIR, ".parquet"):
        try:
            schema = pq.read_schema(f)
            cols = [
                n
                for n in schema.names
                if not n.startswith(("stats/", "meta/episodes/"))
                and (not pa.types.is_nested(schema.field(n).type) or n == "tasks")
            ]
            table = pq.read_table(f, columns=cols).to_pylist()
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(f"{f}: unreadable episodes metadata ({exc})") from exc
        for r in table:
            row: dict[str, Any] = {}
            for k, v in r.items():
                if k == "tasks":
                    row["task"] = v[0] if isinstance(v, list) and v else v
                    continue
                row[k.replace("/", ".")] = v
            rows[int(r["episode_index"])] = row
    if with_quality:
        for q in read_episodes(root):
            row = rows.setdefault(q.episode_index, {})
            row["quality.score"] = q.score
            row["quality.level"] = q.level
            row["quality.errors"] = sum(f.level == "error" for f in q.findings)
            row["quality.warnings"] = sum(f.level == "warning" for f in q.findings)
            row["quality.kinds"] = sorted({f.kind for f in q.findings})
            for k, v in q.signals.items():
                row[f"quality.{k}"] = v
    return rows


def select_episodes(root: Path, where: str) -> list[int]:
    """Episode indices for which ``where`` holds (quality names need stored quality results)."""
    sel = Selector(where)
    needs_quality = any(n.startswith("quality.") for n in sel.names)
    if needs_quality and not has_quality(root):
        raise ConfigError(
            f"{root}: --where uses quality.* but there are no results; run `robopipe quality` first"
        )
    rows = episode_rows(root, needs_quality)
    known = {k for r in rows.values() for k in r}
    sel.check_names(known)
    return sorted(e for e, r in rows.items() if sel.matches(r))


def filter_dataset(
    root: Path, out: Path, keep: Sequence[int], executor: Executor | None = None
) -> EditReport:
    """Write ``out`` with only the ``keep`` episodes of ``root`` (stream copy) on ``executor`` (default: serial).

    When ``keep`` is every episode, ``out`` is still written: a stream-copied copy (a one-input merge), so a
    pipeline that reads ``out`` next never finds it missing. Returns the EditReport.
    """
    from robopipe.edit import EditRequest, MergeRequest, edit, merge

    rows = episode_rows(root, False)
    missing = sorted(set(keep) - set(rows))
    if missing:
        raise ConfigError(f"{root}: selected episodes {missing[:10]} do not exist")
    if not keep:
        raise ConfigError(f"{root}: the selection keeps no episode; nothing to write")
    drop = sorted(set(rows) - set(keep))
    if not drop:  # every episode kept: the output is a copy
        return merge(MergeRequest(roots=[root], out=out), executor)
    return edit(EditRequest(operation="delete-episodes", root=root, out=out, episodes=drop), executor)
