"""The one error boundary of the CLI and the flows: every failure becomes one line and an exit code.

Exit codes (also in ``robopipe --help`` and the README):

* 0 success;
* 1 invalid: the input was read and is wrong (validation errors, a dataset that breaks the format,
  statistics that cannot be computed), or an internal error (a bug: ``-v`` shows the traceback);
* 2 unreadable input or unusable arguments: not a dataset, a file that cannot be read or parsed, bad
  options or config files, a device or Hub that cannot be reached, disk full;
* 130 interrupted (Ctrl-C); 141 stdout closed early (``robopipe info ... | head``: silent, like coreutils).

:class:`~robopipe.errors.RobopipeError` subclasses carry their code (``exit_code``); this module maps
the rest (pydantic, OS and third-party reader errors) and formats one line per failure, with the
traceback only when ``-v`` is given.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from robopipe.errors import DiskFullError, RobopipeError
from robopipe.format.atomic import is_disk_full

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

# Third-party exceptions that mean "this file cannot be read/parsed" (matched by module, so the
# boundary never imports pyarrow/av/yaml/h5py just to classify an error).
_READER_MODULES = ("pyarrow", "av", "yaml", "h5py", "PIL", "imageio", "fastparquet", "msgpack")

QUIET_LOGGERS = (
    "great_expectations",
    "distributed",
    "httpx",
    "urllib3",
    "prefect",
    "asyncio",
    "fsspec",
    "numexpr",
)

# Child processes (Dask workers, the embedded Prefect server) log to the inherited stderr; without
# ``-v`` they stay quiet there. Task/flow run logs still reach the Prefect API (the dashboard).
QUIET_CHILD_ENV = {
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "DASK_LOGGING__DISTRIBUTED": "critical",
}
# Prefect logs a failed flow/task run at ERROR with its traceback; the boundary prints the one line.
_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


# Loggers whose INFO lines are the command's user interface (the recording session's phase prompts:
# "recording episode 0", "reset: ..."): shown without -v.
OPERATOR_LOGGERS = ("recording",)


class _QuietConsole(logging.Filter):
    """Console filter without ``-v``: WARNING and up, plus operator prompts; failed Prefect runs dropped
    (the boundary's ``error:`` line reports them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.name.startswith(_RUN_LOGGERS):
            return False
        return record.levelno >= logging.WARNING or (
            record.levelno >= logging.INFO and record.name.startswith(OPERATOR_LOGGERS)
        )


@contextmanager
def cli_logging(verbose: bool) -> Iterator[None]:
    """Console logging for one CLI call: WARNING by default (noisy libraries: ERROR; the recording
    session's operator prompts stay visible), INFO with ``-v``.

    The console handler carries the level, so a command that adds a file handler (``record
    --log-file``) still gets INFO records into its file without flooding the terminal. Logger levels
    and warning filters are restored afterwards (``main()`` is also called in-process by tests).
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    )
    handler.setLevel(logging.INFO)
    if not verbose:
        handler.addFilter(_QuietConsole())
    saved_env = {k: os.environ.get(k) for k in (*QUIET_CHILD_ENV, "ROBOPIPE_TRACEBACKS")}
    if not verbose:
        os.environ.update({k: os.environ.get(k) or v for k, v in QUIET_CHILD_ENV.items()})
    else:  # run logs (tasks.logfilter) keep user errors' tracebacks too
        os.environ["ROBOPIPE_TRACEBACKS"] = "1"
    loggers = [root, *(logging.getLogger(n) for n in (*QUIET_LOGGERS, *OPERATOR_LOGGERS))]
    saved = [lg.level for lg in loggers]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    saved_hook = sys.unraisablehook
    if not verbose:  # "Exception ignored in __del__" of a writer that already failed: its error was reported
        sys.unraisablehook = _log_unraisable
    for lg in loggers[1:]:
        lg.setLevel(logging.INFO if verbose or lg.name in OPERATOR_LOGGERS else logging.ERROR)
    with warnings.catch_warnings():
        if not verbose:  # library deprecation chatter is not the user's problem; -v shows it
            for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
                warnings.simplefilter("ignore", category)
        try:
            yield
        finally:
            root.removeHandler(handler)
            sys.unraisablehook = saved_hook
            for lg, level in zip(loggers, saved, strict=True):
                lg.setLevel(level)
            for k, old in saved_env.items():
                if old is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = old


def _log_unraisable(unraisable: Any) -> None:
    logging.getLogger(__name__).debug(
        "ignored in %r: %s: %s", unraisable.object, type(unraisable.exc_value).__name__, unraisable.exc_value
    )


def pop_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """Remove the global ``-v``/``--verbose`` flag from ``argv`` (anywhere before a ``--``)."""
    out: list[str] = []
    verbose = False
    for i, tok in enumerate(argv):
        if tok == "--":
            out.extend(argv[i:])
            break
        if tok in ("-v", "--verbose"):
            verbose = True
        else:
            out.append(tok)
    return out, verbose


def exit_code(exc: BaseException) -> int:
    """The exit code for a failure (see the module docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    if is_disk_full(exc):
        return EXIT_UNREADABLE
    if isinstance(exc, RobopipeError):
        return int(getattr(exc, "exit_code", EXIT_UNREADABLE))
    if _is_pydantic_error(exc) or _is_cli_parse_error(exc):
        return EXIT_UNREADABLE
    if isinstance(exc, OSError) or _is_reader_error(exc):
        return EXIT_UNREADABLE
    return EXIT_INVALID


def error_lines(exc: BaseException) -> list[str]:
    """The ``error: ...`` line(s) for a failure: one line, or one per bad field of a pydantic model."""
    if isinstance(exc, KeyboardInterrupt):
        return ["interrupted (Ctrl-C); finished steps are kept, nothing is half-written"]
    if _is_pydantic_error(exc):
        return [f"error: {line}" for line in pydantic_lines(exc)]
    if is_disk_full(exc) and not isinstance(exc, DiskFullError):
        return [f"error: {disk_full_line(exc)}"]
    if isinstance(exc, RobopipeError):
        return [f"error: {one_line(str(exc))}"]
    if isinstance(exc, OSError):
        return [f"error: {os_error_line(exc)}"]
    if _is_cli_parse_error(exc):
        return [f"error: {one_line(str(exc))} (see --help)"]
    if _is_reader_error(exc):
        return [f"error: unreadable input: {type(exc).__name__}: {one_line(str(exc))}"]
    return [
        f"error: internal error: {type(exc).__name__}: {one_line(str(exc))} (run with -v for the traceback)"
    ]


def one_line(text: str, limit: int = 600) -> str:
    """Collapse a message to one line of bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def os_error_line(exc: OSError) -> str:
    """``disk full writing X ...`` / ``cannot open X: reason`` for an OS error."""
    where = exc.filename if exc.filename is not None else None
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full_line(exc)
    if where is None:
        return one_line(f"{reason}")
    hint = {
        errno.ENOENT: "check the path (a missing folder is not created)",
        errno.EACCES: "check the permissions",
        errno.EPERM: "check the permissions",
        errno.EISDIR: "expected a file, got a folder",
        errno.ENOTDIR: "a parent of the path is not a folder",
        errno.EROFS: "the file system is read-only",
    }.get(exc.errno or -1)
    return one_line(f"cannot use {where}: {reason}" + (f"; {hint}" if hint else ""))


def disk_full_line(exc: BaseException) -> str:
    """A full disk the command did not describe itself (it would raise ``DiskFullError`` with what it kept)."""
    where = None
    e: BaseException | None = exc
    while e is not None and where is None:
        where = getattr(e, "filename", None)
        e = e.__cause__
    target = f" writing {where}" if where else ""
    return (
        f"disk full{target}; the inputs are kept unchanged and outputs are committed only when complete; "
        "free space and run the command again"
    )


def pydantic_lines(exc: BaseException) -> list[str]:
    """One line per bad field: ``--crf: Input should be less than or equal to 63 (got 100)``."""
    errors: Iterable[dict[str, Any]] = exc.errors()  # type: ignore[attr-defined]
    title = getattr(exc, "title", "")
    lines = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        name = _option_name(loc)
        got = e.get("input")
        shown = "" if e.get("type") == "missing" or isinstance(got, dict) else f" (got {_short(got)})"
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(one_line(f"{name}: {msg}{shown}"))
    return lines or [one_line(f"invalid {title}")]


def _option_name(loc: list[str]) -> str:
    if not loc:
        return "arguments"
    if len(loc) == 1:
        return "--" + loc[0].replace("_", "-")
    return ".".join(loc)


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_pydantic_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic")


def _is_cli_parse_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("cyclopts")


def _is_reader_error(exc: BaseException) -> bool:
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return True
    return type(exc).__module__.split(".")[0] in _READER_MODULES


def report_failure(exc: BaseException, verbose: bool) -> int:
    """Print the failure (traceback first with ``-v``) to stderr; return its exit code."""
    code = exit_code(exc)
    if code == EXIT_BROKEN_PIPE:
        _silence_stdout()
        return code
    if verbose and not isinstance(exc, KeyboardInterrupt):
        traceback.print_exception(exc, file=sys.stderr)
    try:
        for line in error_lines(exc):
            print(line, file=sys.stderr)
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # stderr closed too: nothing left to tell
        pass
    _release_frames(exc)
    return code


def _release_frames(exc: BaseException) -> None:
    """Free the failed command's locals now (open writers/containers finalise while the quiet hook is on)."""
    e: BaseException | None = exc
    while e is not None:
        traceback.clear_frames(e.__traceback__)
        e = e.__cause__ or e.__context__
    gc.collect()


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def flow_failure(state: Any) -> BaseException:
    """The exception to report for a flow run that did not complete (the flow's own error if kept).

    A flow that failed on user input re-raises that input's error (so the exit code follows the error
    tree); a crashed or cancelled run becomes one line with its state name and message.
    """
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as lost:  # result not persisted / not retrievable: fall back to the message
        exc = lost
    if isinstance(exc, BaseException) and not _is_prefect_error(exc):
        return exc
    return _FlowRunFailed(f"flow run {state.name}: {state.message}")


class _FlowRunFailed(RobopipeError):
    """A flow run ended Failed/Crashed/Cancelled without an error we can report more precisely."""

    exit_code = EXIT_INVALID


def _is_prefect_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("prefect")
