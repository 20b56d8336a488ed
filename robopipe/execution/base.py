"""The executor protocol: map units of work, stream results back in completion order, cancel the rest.

``executor.map(fn, context, items, weights=...)`` calls ``fn(context, item)`` for every item and returns a
:class:`Stream` at once (parallel executors have already submitted the work, largest weight first). Iterating
the stream yields one :class:`Done` per item as it finishes; ``Done.result()`` returns the value or re-raises
the unit's error, so a recipe decides whether one failed unit stops the others. Leaving a ``with stream:``
block (or calling :meth:`Stream.cancel`) cancels every unit not yet started.

``context`` is shared by every unit (a plan): the Dask executor ships it to each worker once.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F")


@dataclass(frozen=True)
class Done(Generic[R]):
    """One finished unit: its position in the mapped items, and its value or its error."""

    index: int
    value: R | None = None
    error: BaseException | None = None

    def result(self) -> R:
        """The unit's value; re-raises the unit's error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class Stream(abc.ABC, Generic[R]):
    """Results of one ``map`` call in completion order; a context manager that cancels what is left."""

    def __init__(self, count: int) -> None:
        self.count = count

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Done[R]]: ...

    @abc.abstractmethod
    def cancel(self) -> None:
        """Cancel every unit not started yet (running units finish; their results are dropped)."""

    def __enter__(self) -> Stream[R]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cancel()

    def results(self, on_done: Callable[[Done[R]], None] | None = None) -> list[R]:
        """Every value in the *input* order; the first error cancels the rest and is re-raised."""
        values: dict[int, R] = {}
        with self:
            for done in self:
                values[done.index] = done.result()
                if on_done is not None:
                    on_done(done)
        return [values[i] for i in range(self.count)]


class Executor(Protocol):
    """Runs units of work: serially, in threads, on Dask, as Prefect task runs."""

    @property
    def name(self) -> str:
        """Recorded in reports (``serial``, ``threads(4)``, ``dask:tcp://…``, ``prefect``)."""
        ...

    @property
    def workers(self) -> int:
        """How many units run at once (a hint for how finely to split work)."""
        ...

    def map(
        self,
        fn: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        *,
        weights: Sequence[float] | None = None,
        label: str = "unit",
    ) -> Stream[R]:
        """Start ``fn(context, item)`` for every item (largest weight first); results stream back."""
        ...


def largest_first(count: int, weights: Sequence[float] | None) -> list[int]:
    """Item positions in scheduling order: largest weight first (a short tail), ties in input order."""
    if weights is None:
        return list(range(count))
    if len(weights) != count:
        raise ValueError(f"expected one weight per item ({count}), got {len(weights)}")
    return sorted(range(count), key=lambda i: (-weights[i], i))


class FutureStream(Stream[R], Generic[F, R]):
    """A stream over futures of any framework (concurrent.futures, Dask, Prefect).

    Args:
        futures: future -> position of its item.
        as_completed: the framework's ``as_completed`` over a list of futures.
        outcome: the value of a finished future (raises the unit's error).
        cancel: cancels one future (best effort: a running unit may finish).
    """

    def __init__(
        self,
        futures: dict[F, int],
        as_completed: Callable[[list[F]], Iterable[F]],
        outcome: Callable[[F], R],
        cancel: Callable[[F], Any],
    ) -> None:
        super().__init__(len(futures))
        self._futures = futures
        self._as_completed = as_completed
        self._outcome = outcome
        self._cancel = cancel
        self._pending = set(futures)
        self._cancelled = False

    def __iter__(self) -> Iterator[Done[R]]:
        for fut in self._as_completed(list(self._futures)):
            self._pending.discard(fut)
            index = self._futures[fut]
            try:
                value = self._outcome(fut)
            except (cf.CancelledError, asyncio.CancelledError):
                if self._cancelled:
                    continue  # cancelled by us: not a result
                raise
            except Exception as exc:  # handed to the recipe in Done.error, which decides
                yield Done(index, error=exc)
            else:
                yield Done(index, value)

    def cancel(self) -> None:
        self._cancelled = True
        for fut in list(self._pending):
            self._cancel(fut)
        self._pending.clear()
