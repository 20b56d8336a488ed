"""The ``robopipe`` command line (flows layer), built on cyclopts (the CLI library Prefect uses).

Every subcommand builds the same pydantic request model its Prefect flow takes, so a CLI run and a
dashboard run validate identically. Every failure prints one ``error:`` line (``-v``/``--verbose``
anywhere on the line adds the traceback and INFO logging); exit codes are listed in ``flows/boundary.py``.
"""

from __future__ import annotations

import importlib
import sys

from cyclopts import App, Parameter

from flows.commands import COMMAND_MODULES

app = App(
    name="robopipe",
    help="ETL for robot-learning datasets in the LeRobotDataset v3.0 format: record, validate, "
    "compute stats, merge/edit, convert and publish.\n\n"
    "Global option: -v/--verbose (anywhere) shows INFO logs and the traceback of a failure.\n"
    "Exit codes: 0 ok; 1 invalid input (e.g. validation errors) or internal error; 2 unreadable input, "
    "bad arguments, disk full; 130 interrupted; 141 output pipe closed (silent).",
    version_flags=["--version"],
    suppress_keyboard_interrupt=False,  # the error boundary in main() reports Ctrl-C (exit 130)
    default_parameter=Parameter(negative_iterable=()),  # no --empty-X flags in --help
)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command group not built yet
                continue
            raise
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``robopipe`` console script: the CLI's one error boundary (flows/boundary.py)."""
    from flows.boundary import cli_logging, pop_verbose, report_failure

    args, verbose = pop_verbose(list(argv if argv is not None else sys.argv[1:]))
    with cli_logging(verbose):
        try:
            result = app(args, exit_on_error=False, print_error=False)
            sys.stdout.flush()
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except (Exception, KeyboardInterrupt) as exc:
            return report_failure(exc, verbose)
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
