"""One line, not a traceback, in the Prefect logs of a run that failed on the user's input.

Prefect logs a failing task or flow run with the exception's traceback (``exc_info``), which is what a dashboard
user then reads. A :class:`~robopipe.errors.RobopipeError` is a failure the user causes and fixes (a corrupt file,
a bad argument, an unreachable Hub), and its message already names the file and the fix, as the CLI prints it: the
filter drops the traceback from those records only. Any other exception is a bug and keeps its traceback.
``ROBOPIPE_TRACEBACKS=1`` keeps every traceback (the CLI's ``-v`` sets it).
"""

from __future__ import annotations

import logging
import os

from robopipe.errors import RobopipeError

#: the Prefect loggers whose records reach the run logs shown in the dashboard
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class UserErrorTracebacks(logging.Filter):
    """Drops ``exc_info`` from records about a :class:`RobopipeError` (the message says it all)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, RobopipeError) and os.environ.get("ROBOPIPE_TRACEBACKS") != "1":
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Add the filter to the run loggers (idempotent; logger filters survive Prefect's logging set-up)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, UserErrorTracebacks) for f in logger.filters):
            logger.addFilter(UserErrorTracebacks())
