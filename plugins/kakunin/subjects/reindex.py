"""`subject reindex`: write the subject index of batches published before it, or rebuild one batch's.

A batch published before the index existed (or whose index was lost) cannot be found by its people's
identifiers, nor erased by them. Its index is re-derived from its live curated records, exactly as
intake derives it, and each file written is an audit entry, which is how `lineage verify` tells a
reindexed file from one planted by hand. The retention lease is held meanwhile, so no purge runs
between reading the records and writing their rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin import audit
from kakunin.errors import InputError, KakuninError
from kakunin.hashing import sha256_bytes
from kakunin.layout import RETENTION_LEASE, subject_index_key
from kakunin.leases import acquire, new_owner
from kakunin.lineage.formats import AuditAction
from kakunin.lineage.record_digests import ContractFor
from kakunin.lineage.subject_index_check import LinkedBatch, linked_batches, live_index_rows
from kakunin.storage import ObjectStore, object_sha256

Outcome = Literal["written", "rebuilt", "unchanged", "removed", "nothing to index"]


class ReindexBusy(KakuninError):
    """A retention run holds the lease: reindexing now could index records it is purging."""

    code = "busy"


class Reindexed(BaseModel):
    """What reindexing did to one batch's index file."""

    dataset: str
    batch_id: str
    key: str
    outcome: Outcome
    rows: int
    records: int


class ReindexReport(BaseModel):
    batches: list[Reindexed]

    @property
    def written(self) -> int:
        return sum(1 for b in self.batches if b.outcome in ("written", "rebuilt", "removed"))


def batches_to_index(
    store: ObjectStore, contract_for: ContractFor, *, dataset: str | None = None, batch_id: str | None = None
) -> list[LinkedBatch]:
    """The linked batches of datasets with identifiers that have no index file, or the one `batch_id` names."""
    chosen = []
    for batch in linked_batches(store):
        if dataset is not None and batch.ref.dataset != dataset:
            continue
        if batch_id is not None and batch.ref.batch_id != batch_id:
            continue
        contract = contract_for(batch.ref.dataset)
        if contract is None or not contract.identifiers:
            if batch_id is not None:
                raise InputError(f"batch {batch_id}'s dataset {batch.ref.dataset} declares no identifiers to index")
            continue
        if batch_id is not None or not store.exists(subject_index_key(batch.ref)):
            chosen.append(batch)
    if batch_id is not None and not chosen:
        raise InputError(f"no published batch {batch_id}" + (f" in {dataset}" if dataset else ""))
    return chosen


def reindex(
    store: ObjectStore,
    *,
    hmac_key: bytes,
    contract_for: ContractFor,
    now: Callable[[], datetime],
    actor: str,
    dataset: str | None = None,
    batch_id: str | None = None,
) -> ReindexReport:
    """Write each chosen batch's index from its live records; a file that would not change is left alone."""
    lease = acquire(store, RETENTION_LEASE, owner=new_owner(), now=now)
    if lease is None:
        raise ReindexBusy("a retention run is in progress; reindex did nothing. Run it again once the run has finished")
    try:
        done = []
        for batch in batches_to_index(store, contract_for, dataset=dataset, batch_id=batch_id):
            lease.renew()
            result = _reindex_batch(store, batch, hmac_key, contract_for)
            if result.outcome == "nothing to index" and batch_id is None:
                continue  # every record purged: no index is right, and not worth a line on every run
            done.append(result)
            if result.outcome in ("written", "rebuilt", "removed"):
                _audit(store, result, at=now(), actor=actor, key=hmac_key)
        return ReindexReport(batches=done)
    finally:
        lease.release()


def _reindex_batch(store: ObjectStore, batch: LinkedBatch, hmac_key: bytes, contract_for: ContractFor) -> Reindexed:
    """Write (or remove, when no live record has an identifier left) one batch's index file."""
    key = subject_index_key(batch.ref)
    rows = live_index_rows(store, batch, contract_for, hmac_key)
    if rows is None:  # batches_to_index chose only datasets with identifiers
        raise InputError(f"dataset {batch.ref.dataset} declares no identifiers to index")
    existed = store.exists(key)
    outcome: Outcome
    if not rows.num_rows:
        outcome = "removed" if existed else "nothing to index"
        if existed:
            store.delete(key)
    else:
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink, compression="zstd")
        data = sink.getvalue().to_pybytes()
        if existed and sha256_bytes(data) == object_sha256(store, key):
            outcome = "unchanged"
        else:
            store.put_bytes(key, data)
            if existed:
                store.prune_versions(key)  # on S3 an older version could still find purged records
            outcome = "rebuilt" if existed else "written"
    return Reindexed(
        dataset=batch.ref.dataset,
        batch_id=batch.ref.batch_id,
        key=key,
        outcome=outcome,
        rows=rows.num_rows,
        records=len(rows.column("record_id").unique()),
    )


def _audit(store: ObjectStore, done: Reindexed, *, at: datetime, actor: str, key: bytes) -> None:
    """One entry per index file written: ids and counts only."""
    audit.record(
        store,
        AuditAction.SUBJECT_REINDEX,
        at=at,
        actor=actor,
        dataset=done.dataset,
        batch_id=done.batch_id,
        detail={"index": done.key, "outcome": done.outcome, "rows": done.rows, "records": done.records},
        key=key,
    )
