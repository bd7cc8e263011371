"""What every intake step is given and gives back: the run context, the step outcome, the batch lease.

One builder, `IntakeContext.from_env`, serves the CLI and the DAG alike, so a manifest
written by either names the same code version and reads the same store and contracts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from kakunin import leases
from kakunin.contracts import DatasetContract, Registry
from kakunin.errors import ConfigError, KakuninError
from kakunin.layout import BatchRef, intake_lease_name
from kakunin.storage import ObjectStore


class StepStatus(StrEnum):
    """What a step did; the values are what the CLI prints and the DAG logs."""

    DONE = "done"
    ALREADY_DONE = "already done"  # a rerun found the step's work durable
    REJECTED = "rejected"  # the batch went to quarantine at this step
    SKIPPED = "skipped (rejected earlier)"  # an earlier step rejected the batch; nothing to do
    AWAITING = "awaiting approval (承認待ち)"  # the intake policy requires an approval not given yet


class StepOutcome(BaseModel):
    batch: str
    step: str
    status: StepStatus
    detail: str = ""


def default_workers(*, otherwise: int | None = None) -> int:
    """`KAKUNIN_WORKERS` if set (1 = no extra process), else `otherwise`, else one per core this process may use.

    The CLI takes every core it may; an Airflow task takes one unless told otherwise, since the executor
    already runs tasks side by side in the slots it was given."""
    configured = os.environ.get("KAKUNIN_WORKERS", "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise ConfigError(f"KAKUNIN_WORKERS must be a whole number, not {configured!r}") from None
    if otherwise is not None:
        return otherwise
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class IntakeContext:
    """What the steps need from outside: the store, contracts, the clock and the key."""

    store: ObjectStore
    registry: Registry
    today: date
    now: Callable[[], datetime]
    hmac_key: bytes | None = None
    actor: str | None = None
    dag_run_id: str | None = None
    chunk_rows: int = 250_000
    # rows digested at once: a chunk's per-row intermediates (canonical text, six digest columns, index
    # rows) follow this, not the chunk (measured at 1M rows: the assign step's peak RSS was chunk-sized)
    digest_rows: int = 65_536
    block_bytes: int = 2 << 20
    workers: int = 1  # processes that validate chunks at once, threads that digest slices (`default_workers`)
    code_version: str = "dev"
    owner: str = field(default_factory=leases.new_owner)
    lease_ttl: timedelta = leases.DEFAULT_TTL
    lease: leases.Lease | None = None  # the batch's lease, while a runner holds it
    fail_after: set[str] = field(default_factory=set)  # test hook: raise after these steps' work

    @classmethod
    def from_env(
        cls,
        *,
        today: date | None = None,
        hmac_key: bytes | None = None,
        actor: str | None = None,
        dag_run_id: str | None = None,
        store: ObjectStore | None = None,
        workers: int | None = None,
    ) -> IntakeContext:
        """The context of a real run: `KAKUNIN_HOME`'s store, `KAKUNIN_EXPECTATIONS`' contracts,
        the wall clock, the key (given, else `KAKUNIN_HMAC_KEY`) and this code's version. A `store` given
        (the DAGs' S3 client comes from an Airflow connection) replaces `open_store()`. `workers`: as
        `default_workers(otherwise=workers)` (None: every core)."""
        from kakunin import clock
        from kakunin.contracts import default_expectations_root
        from kakunin.keys import hmac_key_from_env
        from kakunin.storage import open_store
        from kakunin.version import code_version

        return cls(
            store=store if store is not None else open_store(),
            registry=Registry(default_expectations_root()),
            today=today or clock.today(),
            now=clock.now_utc,
            hmac_key=hmac_key or hmac_key_from_env(),
            actor=actor,
            dag_run_id=dag_run_id,
            code_version=code_version(),
            workers=default_workers(otherwise=workers),
        )

    def contract(self, ref: BatchRef) -> DatasetContract:
        """The batch's dataset contract; a `ConfigError` names the folder it was looked for in."""
        contract = self.registry.contract(ref.dataset)
        if contract is None:
            raise ConfigError(f"dataset {ref.dataset} has no contract in {self.registry.root}")
        return contract

    def renew_lease(self) -> None:
        """Before a write another worker must not interleave with: make sure the lease is still ours."""
        if self.lease is not None:
            self.lease.renew()

    def maybe_fail(self, step: str) -> None:
        """The `fail_after` test hook: simulate a crash right after `step`'s work is durable."""
        if step in self.fail_after:
            raise InjectedFailure(f"injected failure after {step}")


class InjectedFailure(RuntimeError):
    """Raised by the `fail_after` test hook to simulate a crash between steps."""


class BatchBusy(KakuninError):
    """Another worker holds the batch's lease: it is working on the batch now."""

    code = "busy"


def holding_lease(ref: BatchRef, ctx: IntakeContext) -> leases.Lease:
    """Take the batch's lease for this worker; `BatchBusy` if another worker holds it."""
    name = intake_lease_name(ref)
    lease = leases.acquire(ctx.store, name, owner=ctx.owner, now=ctx.now, ttl=ctx.lease_ttl)
    if lease is None:
        holder = leases.read(ctx.store, name)
        raise BatchBusy(f"batch {ref} is being worked on by {holder.owner if holder else 'another worker'}")
    return lease
