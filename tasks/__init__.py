"""Prefect tasks and executors (thin wrappers over the core's units of work).

Importing the package (as the flow process and every Dask worker running a task does) keeps user errors' tracebacks
out of the run logs: see :mod:`tasks.logfilter`.
"""

from tasks.logfilter import install as _install_log_filter

_install_log_filter()
