"""The ``robopipe`` command line (flows layer), built on cyclopts (the CLI library Prefect uses).

Every subcommand builds the same pydantic request model its Prefect flow takes, so a CLI run and a
dashboard run validate identically. Exit codes: 0 success, 1 failure found (e.g. validation errors),
2 bad input (not a dataset, bad arguments).
"""

from __future__ import annotations

import importlib
import logging
import sys

from cyclopts import App

from flows.commands import COMMAND_MODULES
from robopipe.errors import RobopipeError

app = App(
    name="robopipe",
    help="ETL for robot-learning datasets in the LeRobotDataset v3.0 format: record, validate, "
    "compute stats, merge/edit, convert and publish.",
    version_flags=["--version"],
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
    """Entry point of the ``robopipe`` console script."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        result = app(argv if argv is not None else sys.argv[1:], exit_on_error=False)
    except RobopipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # cyclopts parse errors: print them like --help would
        from cyclopts.exceptions import CycloptsError

        if isinstance(exc, CycloptsError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
