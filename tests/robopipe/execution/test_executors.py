"""The core executors: every result comes back once, largest first, errors per unit, cancellation."""

from __future__ import annotations

import threading

import pytest
from pydantic import ValidationError

from robopipe.execution import Done, Execution, SerialExecutor, ThreadExecutor, largest_first


def square(offset: int, x: int) -> int:
    if x < 0:
        raise ValueError(f"negative {x}")
    return offset + x * x


def test_serial_runs_largest_first_and_returns_input_order() -> None:
    stream = SerialExecutor().map(square, 1, [1, 2, 3], weights=[1, 3, 2])
    done = list(stream)
    assert [d.index for d in done] == [1, 2, 0]
    assert SerialExecutor().map(square, 1, [1, 2, 3], weights=[1, 3, 2]).results() == [2, 5, 10]


def test_a_failed_unit_is_reported_and_the_others_still_run() -> None:
    done = {d.index: d for d in SerialExecutor().map(square, 0, [2, -1, 3])}
    assert done[0].result() == 4 and done[2].result() == 9
    assert isinstance(done[1].error, ValueError)
    with pytest.raises(ValueError, match="negative -1"):
        done[1].result()
    with pytest.raises(ValueError, match="negative -1"):
        SerialExecutor().map(square, 0, [2, -1, 3]).results()


def test_serial_cancel_skips_the_rest() -> None:
    stream = SerialExecutor().map(square, 0, [1, 2, 3, 4])
    seen = []
    for d in stream:
        seen.append(d.index)
        stream.cancel()
    assert seen == [0]


def test_threads_equal_serial_and_stream_in_completion_order() -> None:
    items = list(range(40))
    with ThreadExecutor(4) as ex:
        assert ex.map(square, 3, items).results() == SerialExecutor().map(square, 3, items).results()
    gate, order = threading.Event(), []

    def slow_first(_: None, i: int) -> int:
        if i == 0:
            gate.wait(30)
        return i

    with ThreadExecutor(2) as ex:
        for d in ex.map(slow_first, None, [0, 1, 2]):
            order.append(d.index)
            if d.index != 0 and len(order) == 2:
                gate.set()
    assert order[-1] == 0 and sorted(order) == [0, 1, 2]


def test_thread_cancel_leaves_pending_units_unstarted() -> None:
    gate, started = threading.Event(), []

    def blocking(_: None, i: int) -> int:
        started.append(i)
        gate.wait(30)
        return i

    with ThreadExecutor(1) as ex:
        stream = ex.map(blocking, None, list(range(5)))
        stream.cancel()
        gate.set()
        got = [d.index for d in stream]
    assert started == [0] and got == [0]


def test_largest_first_checks_weights() -> None:
    assert largest_first(3, [2, 2, 5]) == [2, 0, 1]
    with pytest.raises(ValueError, match="one weight per item"):
        largest_first(3, [1])
    assert Done(0, 5).result() == 5


def test_execution_model_spellings() -> None:
    assert Execution().kind == "dask-local"
    assert Execution(address="tcp://h:8786").kind == "dask-address"
    assert Execution.from_options(0).kind == "serial"
    assert Execution.from_options(3, threads=True) == Execution(kind="threads", workers=3)
    assert Execution.from_options(2, "tcp://h:1").label() == "dask:tcp://h:1"
    with pytest.raises(ValidationError, match="needs an address"):
        Execution(kind="dask-address")
    with pytest.raises(ValidationError):
        Execution(workers=0)
