"""The Dask executor on a real LocalCluster, also losing a worker mid-run (the Prefect one: tests/flows)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from robopipe.execution import Execution, SerialExecutor
from tasks.executors import DaskExecutor, open_executor

pytestmark = pytest.mark.integration


def square(offset: int, x: int) -> int:
    if x < 0:
        raise ValueError(f"negative {x}")
    return offset + x * x


def slow_square(offset: int, x: int) -> tuple[int, int]:
    time.sleep(0.3)  # long enough that a worker is killed while holding units
    return offset + x * x, os.getpid()


def test_dask_executor_equals_serial_and_reports_unit_errors() -> None:
    items = list(range(12))
    with open_executor(Execution(kind="dask-local", workers=2)) as ex:
        assert isinstance(ex, DaskExecutor) and ex.workers == 2
        assert (
            ex.map(square, 5, items, weights=items).results()
            == SerialExecutor().map(square, 5, items).results()
        )
        done = {d.index: d for d in ex.map(square, 0, [1, -2, 3])}
        assert isinstance(done[1].error, ValueError) and done[2].result() == 9


def open_video(_: None, path: str) -> None:
    import av

    from robopipe.errors import CorruptFileError

    try:
        av.open(path).close()
    except av.error.FileNotFoundError as exc:  # its filename cannot be set when unpickled: no chain crosses
        raise CorruptFileError(f"{path}: cannot decode video ({exc})") from exc


def test_dask_unit_error_keeps_its_type_when_its_cause_cannot_cross(tmp_path: Path) -> None:
    from robopipe.errors import CorruptFileError

    missing = str(tmp_path / "gone.mp4")
    with open_executor(Execution(kind="dask-local", workers=1)) as ex:
        (done,) = list(ex.map(open_video, None, [missing]))
    assert type(done.error) is CorruptFileError and missing in str(done.error)


def test_dask_executor_survives_a_killed_worker() -> None:
    items = list(range(16))
    with open_executor(Execution(kind="dask-local", workers=2)) as ex:
        stream = ex.map(slow_square, 1, items)
        values: dict[int, int] = {}
        killed = False
        for d in stream:
            value, pid = d.result()
            values[d.index] = value
            if not killed:
                os.kill(pid, signal.SIGKILL)  # the nanny restarts it; its units are rescheduled
                killed = True
    assert values == {i: 1 + i * i for i in items}
