"""``robopipe campaign CATALOG.yaml``: port a catalogue of external datasets (resumable)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter


def campaign(
    catalog: Path,
    /,
    *,
    state_dir: Path | None = None,
    registry: Path | None = None,
    max_concurrent: int | None = None,
    as_json: Annotated[bool, Parameter(name="--json", negative=())] = False,
) -> int:
    """Port every dataset of a catalogue: convert, validate (the gate), publish to the local registry.

    The catalogue (YAML) lists ``datasets`` with ``name``, ``format`` (rlds, hdf5, folder, ros,
    mcap, zarr, hook or lerobot-v2.1), ``source``, optional ``mapping``/``fps``/``robot_type``/``split``/``options``,
    ``repo_id`` and ``tag``. A ledger under the state folder makes re-runs resumable: datasets already
    published are skipped, the others (invalid, failed, new or changed) are ported again. The same recipe
    runs as the ``campaign`` flow (one subflow per dataset, bounded by the Prefect global concurrency limit
    ``robopipe-campaign-<name>``; here a local pool of ``max_concurrent`` threads bounds it). Exit code: 0 all published, 1 some invalid or
    failed (listed with their findings), 2 unreadable catalogue.

    Parameters
    ----------
    catalog
        Catalogue YAML file.
    state_dir
        Ledger and work folders (default: ``<catalogue>.state`` next to the file, or the file's ``state_dir``).
    registry
        Local registry to publish to (default: the file's ``registry`` or ``<state>/registry``).
    max_concurrent
        Datasets ported at once (default: the file's ``max_concurrent``, 2).
    as_json
        Print the campaign report as JSON.
    """
    from robopipe.campaign import DatasetOutcome, load_catalog, run_campaign
    from robopipe.execution import ThreadExecutor

    cat = load_catalog(catalog, state_dir=state_dir, registry=registry, max_concurrent=max_concurrent)

    def line(o: DatasetOutcome) -> None:
        print(f"{o.name}: {o.status}", file=sys.stderr)

    with ThreadExecutor(cat.max_concurrent) as executor:
        report = run_campaign(cat, executor, on_done=line)
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        for d in report.datasets:
            size = f"{d.episodes} episodes, {d.frames} frames" if d.episodes is not None else "-"
            print(f"{d.name:<24} {d.status:<10} {d.repo_id}@{d.tag}  {size}  {d.seconds:.1f}s")
            for f in d.findings:
                print(f"    {f}")
            if d.error:
                print(f"    {d.error}")
        print(
            f"campaign {report.name}: {report.count('published')} published, {report.count('skipped')} done "
            f"before, {report.count('invalid')} invalid, {report.count('failed')} failed"
        )
    return 0 if report.ok else 1


def register(app: App) -> None:
    app.command(campaign)
