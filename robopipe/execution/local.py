"""Executors of the core: one unit after another in this thread, or a bounded pool of threads."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from robopipe.execution.base import Done, FutureStream, Stream, largest_first

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")


class _SerialStream(Stream[R]):
    """Runs each unit when the stream is iterated (largest first), so cancelling skips the rest."""

    def __init__(self, fn: Callable[[C, T], R], context: C, items: Sequence[T], order: list[int]) -> None:
        super().__init__(len(items))
        self._run = lambda i: fn(context, items[i])
        self._order = order
        self._cancelled = False

    def __iter__(self) -> Iterator[Done[R]]:
        for i in self._order:
            if self._cancelled:
                return
            try:
                value = self._run(i)
            except Exception as exc:  # handed to the recipe in Done.error, which decides
                yield Done(i, error=exc)
            else:
                yield Done(i, value)

    def cancel(self) -> None:
        self._cancelled = True


class SerialExecutor:
    """Every unit in this thread: the reference result, and the choice for one core or a debugger."""

    name = "serial"
    workers = 1

    def map(
        self,
        fn: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        *,
        weights: Sequence[float] | None = None,
        label: str = "unit",
    ) -> Stream[R]:
        return _SerialStream(fn, context, items, largest_first(len(items), weights))


class ThreadExecutor:
    """A bounded pool of threads (PyAV, Arrow and numpy release the GIL for the heavy parts).

    Use as a context manager; the pool is shut down (pending units cancelled) on exit.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"expected workers >= 1, got {workers}")
        self._workers = workers
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="robopipe")

    @property
    def name(self) -> str:
        return f"threads({self._workers})"

    @property
    def workers(self) -> int:
        return self._workers

    def __enter__(self) -> ThreadExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map(
        self,
        fn: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        *,
        weights: Sequence[float] | None = None,
        label: str = "unit",
    ) -> Stream[R]:
        futures: dict[cf.Future[R], int] = {
            self._pool.submit(fn, context, items[i]): i for i in largest_first(len(items), weights)
        }
        return FutureStream(futures, cf.as_completed, _result, _cancel)


def _result(fut: cf.Future[Any]) -> Any:
    return fut.result()


def _cancel(fut: cf.Future[Any]) -> bool:
    return fut.cancel()
