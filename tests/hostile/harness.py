"""Run one command on one hostile input and check the invariants (used by the corpus tests).

Invariants: no traceback (no exception escapes ``flows.cli.main``, none printed), bounded time, an exit
code in the kind's class, the input tree byte-for-byte unchanged, and nothing written in the sandbox
outside the command's outputs. Runs are in-process (fast); :func:`run_subprocess` is the real console
path used by a smaller slice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.hostile.corpus import Kind

# commands whose failures are one "error: ..." line (validate/report print a findings summary instead,
# converters list failed episodes)
LINE_ERRORS = frozenset(
    {
        "info",
        "stats",
        "merge",
        "delete-episodes",
        "split",
        "remove-feature",
        "rename-feature",
        "set-task",
        "publish",
    }
)
TIMEOUT_S = 120  # per run; generous so a loaded machine never fails it, a hang still ends


class Hang(BaseException):
    """Raised by the alarm when a run exceeds its time budget (BaseException: never swallowed)."""


@dataclass
class Outcome:
    code: int | None
    err: str
    exc: BaseException | None = None


def snapshot(top: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, str]]:
    """``rel -> (kind, digest)`` of every entry under ``top`` (symlinks recorded, never followed)."""
    out: dict[str, tuple[str, str]] = {}
    skip_s = tuple(str(s) for s in skip)
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.startswith(skip_s):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if p.startswith(skip_s):
                continue
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", "")
            else:
                h = hashlib.sha1()
                with open(p, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                out[rel] = ("file", h.hexdigest())
    return out


def diff(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> list[str]:
    changed = [f"~{k}" for k in before if k in after and before[k] != after[k]]
    return sorted(
        [f"-{k}" for k in before if k not in after] + [f"+{k}" for k in after if k not in before] + changed
    )


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Cell:
    """One (kind, command) run: where its input and outputs live inside the sandbox."""

    sandbox: Path
    root: Path  # the hostile input
    command: str

    @property
    def out(self) -> Path:
        return self.sandbox / "out"

    @property
    def registry(self) -> Path:
        return self.sandbox / "registry"

    @property
    def outputs(self) -> tuple[Path, ...]:
        # converters stage shards beside the output; publish writes the registry
        return (self.out, self.out.with_name("out.shards"), self.registry)

    def argv(self) -> list[str]:
        r, o = str(self.root), str(self.out)
        return {
            "info": ["info", r],
            "validate": ["validate", r, "--no-gx"],
            "validate-gx": ["validate", r, "--workers", "1"],
            "report": ["report", r, "--out", o, "--thumbnails", "1"],
            "stats": ["stats", r, "--workers", "0"],
            "merge": ["merge", o, r],
            "delete-episodes": ["delete-episodes", r, "--episodes", "0", "--out", o],
            "split": ["split", r, "--splits", "train=0.5,val=0.5", "--out-dir", o],
            "remove-feature": ["remove-feature", r, "--feature", "action", "--out", o],
            "rename-feature": ["rename-feature", r, "--rename", "action=act", "--out", o],
            "set-task": ["set-task", r, "--task", "a new task", "--out", o],
            "publish": [
                "publish",
                r,
                "--repo-id",
                "hostile/ds",
                "--target",
                "local",
                "--registry",
                str(self.registry),
            ],
            "convert-v21": ["convert", "v21", r, "--out", o],
            "convert-hdf5": ["convert", "hdf5", r, "--out", o, "--workers", "1", "--fps", "10"],
            "convert-folder": ["convert", "folder", r, "--out", o, "--workers", "1", "--fps", "10"],
        }[self.command]


def run_inprocess(cell: Cell, capfd: object) -> Outcome:
    from flows.cli import main

    exc: BaseException | None = None
    code: int | None = None
    cwd = os.getcwd()
    os.chdir(cell.sandbox)  # relative writes land in the sandbox, where the snapshot sees them
    try:
        with alarm(TIMEOUT_S):
            code = main(cell.argv())
    except SystemExit as e:
        code = int(e.code or 0) if not isinstance(e.code, str) else 1
    except BaseException as e:
        exc = e
    finally:
        os.chdir(cwd)
    err = capfd.readouterr().err  # type: ignore[attr-defined]
    return Outcome(code, err, exc)


def run_subprocess(cell: Cell) -> Outcome:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and "site-packages" not in p)}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", *cell.argv()],
            cwd=cell.sandbox,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        return Outcome(None, str(e.stderr or ""), Hang(f"no answer within {time.monotonic() - t0:.0f} s"))
    return Outcome(proc.returncode, proc.stderr)


def prepare(kind: Kind, base: Path, sandbox: Path) -> Path:
    """Copy the base input into ``sandbox/input`` and a victim copy into ``sandbox/outside``, then break it."""
    root = sandbox / "input"
    if kind.source in ("v3", "v21"):
        shutil.copytree(base, root, symlinks=True)
        shutil.copytree(base, sandbox / "outside" / kind.source, symlinks=True)
        if kind.source == "v3":
            for sub in ("data", "videos"):
                shutil.copytree(base / sub, sandbox / "outside" / sub, symlinks=True)
    else:
        root.mkdir(parents=True)
        (sandbox / "outside").mkdir()
    (sandbox / "outside" / "precious.txt").write_text("must never change")
    kind.make(root, sandbox)
    return root


def check(kind: Kind, cell: Cell, outcome: Outcome, allowed: frozenset[int]) -> list[str]:
    """Every broken invariant of one run, as readable lines (empty = the run is fine)."""
    problems: list[str] = []
    if isinstance(outcome.exc, Hang):
        problems.append(f"hang: {outcome.exc}")
    elif outcome.exc is not None:
        problems.append(f"traceback: {type(outcome.exc).__name__}: {outcome.exc}"[:600])
    if "error: internal error" in outcome.err:
        problems.append("internal error (a traceback behind the boundary): " + outcome.err[-600:])
    if "Traceback (most recent call last)" in outcome.err:
        problems.append("traceback printed on stderr:\n" + outcome.err[-1500:])
    if outcome.exc is None and outcome.code not in allowed:
        problems.append(
            f"exit code {outcome.code}, expected one of {sorted(allowed)}; stderr: {outcome.err[-400:]}"
        )
    if outcome.code not in (0, None) and outcome.exc is None and cell.command in LINE_ERRORS:
        lines = [ln for ln in outcome.err.splitlines() if ln.startswith("error:")]
        if not lines:
            problems.append(f"failed without an 'error:' line; stderr: {outcome.err[-400:]}")
    return problems
