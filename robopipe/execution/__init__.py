"""Where units of work run: the :class:`Executor` protocol, serial and thread executors, the Execution model.

A stage recipe (stats, validate, merge/edit, convert) takes an executor, maps its units of work over it and
reads the results back in completion order; the recipe, not the executor, decides how results combine, so
every executor gives the same bytes. The Dask and Prefect executors live in ``tasks/executors.py``.
"""

from robopipe.execution.base import Done, Executor, FutureStream, Stream, largest_first
from robopipe.execution.local import SerialExecutor, ThreadExecutor
from robopipe.execution.models import Execution, ExecutionKind

__all__ = [
    "Done",
    "Execution",
    "ExecutionKind",
    "Executor",
    "FutureStream",
    "SerialExecutor",
    "Stream",
    "ThreadExecutor",
    "largest_first",
]
