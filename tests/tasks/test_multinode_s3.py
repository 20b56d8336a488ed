"""Several machines that share nothing but object storage: a real S3 server (SeaweedFS), a Dask scheduler and
two workers as separate processes, each with its own private scratch folder.

An RLDS source with several tfrecord shards is converted from S3 to S3 on the cluster while one worker is
killed mid-run; the result equals the single-process run (data byte for byte, video frame for frame); stats
are recomputed and the dataset validated there (the CLI on ``s3://`` URLs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from robopipe.convert.engine import ConvertRequest, EncoderOptions, ShardResult, run_conversion
from robopipe.convert.source import SourceSpec
from robopipe.execution import SerialExecutor
from robopipe.storage import filesystem, materialize, upload_tree
from tasks.executors import DaskExecutor
from tests.fixtures.compare import assert_same_output
from tests.fixtures.s3_server import free_port, seaweedfs, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENC = EncoderOptions(codec="h264", crf=20, preset="ultrafast")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with seaweedfs(tmp_path_factory.mktemp("weed")) as env:
        yield env


@pytest.fixture
def cluster(tmp_path: Path, s3: dict[str, str]) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A Dask scheduler and two workers (no nanny: a killed worker stays dead), each in a private folder."""
    port = free_port()
    env = {**os.environ, **s3}
    procs = []
    sched_dir = tmp_path / "scheduler"
    sched_dir.mkdir()
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            cwd=sched_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    address = f"tcp://127.0.0.1:{port}"
    workers = []
    for i in range(2):
        scratch = tmp_path / f"worker-{i}"
        scratch.mkdir()
        wenv = {**env, "ROBOPIPE_SCRATCH": str(scratch), "TMPDIR": str(scratch), "HOME": str(scratch)}
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(scratch),
                    "--name",
                    f"w{i}",
                ],
                cwd=scratch,
                env=wenv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    procs += workers
    try:
        from dask.distributed import Client

        def two_workers() -> bool:
            with Client(address, timeout=5) as c:
                return len(c.scheduler_info(n_workers=-1)["workers"]) == 2

        wait_for("Dask cluster", two_workers)
        yield address, workers
    finally:
        for p in reversed(procs):
            stop(p)


def request(src: str, out: Path, url: str) -> ConvertRequest:
    return ConvertRequest(
        source=SourceSpec(kind="rlds", path=src), out=out, fps=10, shards=4, encoder=ENC, publish_to=url
    )


def gx_on_the_workers_equals_the_local_run(url: str, address: str, tmp_path: Path) -> None:
    """Validate with GX (and bounds the data breaks) in this process, then with the GX units on the workers:
    they read the data file from S3 into their own scratch; findings and GX counts are the same."""
    from dask.distributed import Client

    from robopipe.validate import ValidateRequest, validate

    bounds = tmp_path / "bounds.yaml"
    bounds.write_text("action: {min: -0.5, max: 0.5}\n")
    req = ValidateRequest(root=url, gx=True, bounds=str(bounds))
    here = validate(req)
    with Client(address) as client:
        there = validate(req, DaskExecutor(client))
    assert here.gx is not None and there.gx is not None and there.gx.runner.startswith("dask")
    assert (there.gx.files, there.gx.evaluated, there.gx.failed) == (
        here.gx.files,
        here.gx.evaluated,
        here.gx.failed,
    )
    assert here.gx.failed > 0  # the bounds are broken, so GX has findings to compare
    assert [f.model_dump() for f in there.findings] == [f.model_dump() for f in here.findings]
    assert "RP601" in {f.code for f in there.findings}  # a GX finding (the generated suite's bounds)
    fetched = [list((tmp_path / f"worker-{i}" / "fetched").glob("*/file")) for i in range(2)]
    assert sum(len(f) for f in fetched) == there.gx.files  # each data file was read by a worker itself


def test_convert_s3_to_s3_on_two_workers_survives_a_killed_worker(
    rlds_factory: Any,
    tmp_path: Path,
    cluster: tuple[str, list[subprocess.Popen[bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dask.distributed import Client

    from flows.cli import main

    fx = rlds_factory("oxe", train=8, val=4, num_shards=3)
    assert len(list(fx.version_dir.glob("*.tfrecord*"))) >= 4  # a multi-shard source
    src = "s3://robopipe/sources/toy_oxe/1.0.0"
    upload_tree(fx.version_dir, src)
    client_scratch = tmp_path / "client"
    monkeypatch.setenv("ROBOPIPE_SCRATCH", str(client_scratch))

    ref = run_conversion(request(src, client_scratch / "ref", "s3://robopipe/out/ref"), SerialExecutor())
    assert ref.episodes == 12

    address, workers = cluster
    gx_on_the_workers_equals_the_local_run("s3://robopipe/out/ref", address, tmp_path)
    killed: list[int] = []
    with Client(address) as client:
        pids = client.run(os.getpid)

        def on_shard(_: ShardResult) -> None:
            if killed:
                return
            busy = [w for w, tasks in client.processing().items() if tasks]
            victim = busy[0] if busy else next(iter(pids))
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(pids[victim])

        report = run_conversion(
            request(src, client_scratch / "multi", "s3://robopipe/out/multi"),
            DaskExecutor(client),
            on_shard=on_shard,
        )
    assert killed and sum(w.poll() is not None for w in workers) == 1  # one worker died, the run went on
    assert report.episodes == 12 and report.failures == []

    fs, _ = filesystem("s3://robopipe/out/multi")
    fs.invalidate_cache()
    assert fs.exists("robopipe/out/multi/meta/info.json")
    left = [p for p in fs.find("robopipe/out/multi.shards") if p.startswith("robopipe/out/multi.shards/")]
    assert not left  # the shard exchange is cleaned up (SeaweedFS may keep an empty folder marker)
    assert not fs.find("robopipe/out", prefix="multi.robopipe-tmp")

    for url in ("s3://robopipe/out/ref", "s3://robopipe/out/multi"):
        assert main(["stats", url, "--workers", "0"]) == 0
        assert main(["validate", url, "--dask-address", address]) == 0  # GX units on the live worker
    a = materialize("s3://robopipe/out/ref", into=tmp_path / "check-ref")
    b = materialize("s3://robopipe/out/multi", into=tmp_path / "check-multi")
    assert_same_output(a, b, stats=True)
    # the workers read the source from S3 into their own scratch folders (not the client's copy), each shard
    # unit only the tfrecord files of its episodes: no worker fetched the whole source
    # (the killed worker may have died before its first fetch; the one that survived may have read every file)
    records = {p.name for p in fx.version_dir.glob("*.tfrecord*")}
    copies = []
    for i in range(2):
        assert not (tmp_path / f"worker-{i}" / "materialized").exists()
        parts = tmp_path / f"worker-{i}" / "parts"
        copies += [{p.name for p in d.rglob("*.tfrecord*")} for d in parts.glob("*") if d.is_dir()]
    units = [c for c in copies if c]  # the others: metadata-only copies
    assert len(units) >= 4 and all(c < records for c in units), copies
    assert set().union(*units) == records
    shutil.rmtree(client_scratch, ignore_errors=True)
