"""One stream of a dataset (the data parquet, or one camera's mp4s) written as size-rolled files (core layer).

The current file is written under a temporary name and renamed to its final ``chunk-XXX/file-YYY`` name when
it is closed, so a reader or a crash never sees a half-written file. A new file starts when the current one
holds at least one episode and the next episode would take it past the size limit (LeRobot's rule); file
indices advance with :func:`layout.next_chunk_file`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robopipe.format import layout
from robopipe.format.atomic import commit, tmp_path_for


@dataclass
class OpenFile:
    """A file being written: where it goes, its writer and what it holds so far."""

    chunk: int
    file: int
    final: Path
    tmp: Path
    writer: Any  # pq.ParquetWriter or VideoFileAppender: anything with close()
    episodes: int = 0
    size: float = 0.0  # bytes added by the caller (used when no measure is given)


class RollingFiles:
    """Files of one stream: ``file_for(incoming_bytes, opener)`` returns the file the next episode goes to."""

    def __init__(
        self,
        path_for: Callable[[int, int], Path],
        chunks_size: int,
        limit_bytes: float,
        next_index: tuple[int, int] = (0, 0),
        measure: Callable[[OpenFile], float] | None = None,
    ) -> None:
        self.path_for = path_for
        self.chunks_size = chunks_size
        self.limit_bytes = limit_bytes
        self.next_index = next_index
        self.current: OpenFile | None = None
        self._measure = measure or (lambda f: f.size)

    def file_for(self, incoming_bytes: float, opener: Callable[[Path], Any]) -> OpenFile:
        """The open file for an episode of ``incoming_bytes``; rolls over first if it would overflow."""
        cur = self.current
        if cur is not None and cur.episodes and self._measure(cur) + incoming_bytes >= self.limit_bytes:
            self.close()
        if self.current is None:
            chunk, file = self.next_index
            final = self.path_for(chunk, file)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = tmp_path_for(final)
            self.current = OpenFile(chunk, file, final, tmp, opener(tmp))
            self.next_index = layout.next_chunk_file(chunk, file, self.chunks_size)
        return self.current

    def close(self) -> None:
        """Finish the current file and rename it to its final name; the next episode starts a new file.

        If that fails (a full disk), the temporary file is removed: its episodes are still staged by the
        writer, so nothing half-written is left and ``repair`` can add them later.
        """
        cur, self.current = self.current, None
        if cur is None:
            return
        try:
            cur.writer.close()
            commit(cur.tmp, cur.final)
        except BaseException:
            cur.tmp.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        """Drop the current file without committing it (after a failure; its episodes stay staged)."""
        cur, self.current = self.current, None
        if cur is None:
            return
        # The writer may already have failed (e.g. ENOSPC); its output is discarded either way.
        with contextlib.suppress(Exception):
            cur.writer.close()
        cur.tmp.unlink(missing_ok=True)
