"""``Execution``: where a stage's units of work run, chosen at the edges (CLI options, flow parameters).

It is never a field of a domain request (stats, validate, merge, convert): what a stage computes does not
depend on where it runs. The CLI and the pipelines build it; ``tasks.executors.open_executor`` turns it into
an :class:`~robopipe.execution.Executor`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ExecutionKind = Literal["serial", "threads", "dask-local", "dask-address", "prefect"]


class Execution(BaseModel):
    """Where units of work run: in-process (serial, threads), on Dask (local cluster or address), or as
    Prefect task runs on the current flow's task runner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ExecutionKind = Field(
        default="dask-local",
        description="serial | threads | dask-local (a LocalCluster of `workers` processes) | "
        "dask-address (an existing scheduler) | prefect (task runs on the flow's task runner)",
    )
    workers: int = Field(
        default=2, ge=1, le=256, description="threads or local Dask worker processes (one thread each)"
    )
    address: str | None = Field(
        default=None,
        description="address of an existing Dask scheduler (tcp://host:8786); implies dask-address",
    )

    @model_validator(mode="before")
    @classmethod
    def _address_implies_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("address") and "kind" not in data:
            return {**data, "kind": "dask-address"}
        return data

    @model_validator(mode="after")
    def _address_matches_kind(self) -> Execution:
        if self.kind == "dask-address" and not self.address:
            raise ValueError("execution kind 'dask-address' needs an address (tcp://host:8786)")
        if self.address and self.kind != "dask-address":
            raise ValueError(f"an address is only used with kind 'dask-address', got kind {self.kind!r}")
        return self

    @classmethod
    def from_options(cls, workers: int, address: str | None = None, threads: bool = False) -> Execution:
        """The CLI's spelling: ``--dask-address`` wins; ``--workers 0`` runs serially; ``--threads``."""
        if workers < 0:  # the model would say ">= 1", but 0 is a valid spelling here
            from robopipe.errors import ConfigError

            raise ConfigError(f"--workers: 0 (run in this process) or more, got {workers}")
        if address:
            return cls(kind="dask-address", address=address, workers=max(1, workers))
        if workers == 0:
            return cls(kind="serial", workers=1)
        return cls(kind="threads" if threads else "dask-local", workers=workers)

    def label(self) -> str:
        if self.kind == "dask-address":
            return f"dask:{self.address}"
        return {"serial": "serial", "threads": f"threads({self.workers})", "prefect": "prefect"}.get(
            self.kind, f"dask:local({self.workers})"
        )
