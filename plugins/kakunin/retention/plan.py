"""What a retention run would remove as of a date, and what a hold keeps back: the plan, decided before anything goes.

Curated data is partitioned by expiry month, so only partitions whose month has begun by
the as-of date are opened (plus files an erasure request reaches); later partitions are not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin.batches import Rejection
from kakunin.durations import parse_duration
from kakunin.layout import (
    CURATED,
    QUARANTINE,
    RECEIPTS,
    REJECTION_FILE,
    BatchRef,
    CuratedFile,
    batch_prefix,
    folder_prefix,
    parse_curated_key,
    split_batch_key,
)
from kakunin.lineage.formats import (
    ENTRUSTED_PROCESSING,
    PURGED_RECORDS_SCHEMA,
    RETURN_BY,
    ErasureRequest,
    Hold,
    ManifestHeader,
    RemovedObject,
    Retained,
    read_receipt,
)
from kakunin.retention.context import RetentionContext
from kakunin.retention.erasure import erasure_targets, pending_requests
from kakunin.retention.holds import active_holds
from kakunin.storage import ObjectStore, object_sha256


@dataclass
class FilePlan:
    key: str
    dataset: str
    batch_id: str
    total: int
    purge: pa.Table  # PURGED_RECORDS_SCHEMA rows
    held: dict[str, int]


@dataclass
class Plan:
    as_of: date
    files: list[FilePlan]
    retained: list[Retained]
    quarantine: list[RemovedObject]
    receipts: list[RemovedObject]
    erasure_requests: list[str]
    months: dict[tuple[str, str], dict[str, int]]

    @property
    def purged_count(self) -> int:
        return sum(f.purge.num_rows for f in self.files)

    @property
    def empty(self) -> bool:
        return not (self.files or self.quarantine or self.receipts or self.erasure_requests)


class DryRun(BaseModel):
    """What a run would do: per dataset and expiry month, records that would go and records held."""

    as_of: date
    rows: list[dict[str, Any]]
    files_deleted: int
    files_rewritten: int
    quarantine_objects: int
    receipts: int
    retained: list[Retained]
    erasure_requests: list[str]


def _curated_files(store: ObjectStore) -> list[CuratedFile]:
    """Every published curated file (staged ones are intake's), from the listing alone."""
    files = []
    for key in store.list_keys(batch_prefix(CURATED)):
        curated = parse_curated_key(key)
        if curated is not None and not curated.pending:
            files.append(curated)
    return files


class _Written:
    """Whether a batch's lineage is written, asked once per batch and only of batches the plan may open.

    A batch still between publish and lineage is left alone: intake finishes it first.
    """

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._by_batch: dict[BatchRef, bool] = {}

    def __call__(self, ref: BatchRef) -> bool:
        if ref not in self._by_batch:
            self._by_batch[ref] = self._store.exists(ref.manifest_header)
        return self._by_batch[ref]


def _month_key(month: str) -> tuple[int, int]:
    """`YYYY-MM` (or a longer year, from records published before per-record clamping) as numbers.

    Compared as text, "10002-01" would sort before "2026-05" and look long expired.
    """
    year, _, number = month.rpartition("-")
    try:
        return int(year), int(number)
    except ValueError:
        return (0, 0)  # not a month we wrote: open it rather than skip it


def held_by(hold: Hold, dataset: str, batch_id: str) -> bool:
    return hold.dataset == dataset and (hold.scope == "dataset" or (hold.scope == "batch" and hold.target == batch_id))


def _erasure_targets(
    store: ObjectStore, erasures: list[ErasureRequest]
) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
    """Records pending erasure requests reach (by subject key or, across datasets, through the subject index):
    curated file → record id → reason, and record id → request."""
    targets: dict[str, dict[str, str]] = defaultdict(dict)
    request_of: dict[str, set[str]] = defaultdict(set)  # a person may ask twice (by email, then by phone)
    for curated_file, record_id, request_id in erasure_targets(store, erasures):
        targets[curated_file][record_id] = f"erasure request {request_id}"
        request_of[record_id].add(request_id)
    return targets, request_of


@dataclass
class _FileDecision:
    """One curated file's share of the plan: what goes (None if nothing) and what each hold keeps."""

    plan: FilePlan | None
    held: dict[str, int]  # hold id → records it keeps
    held_ids: list[str]  # the record ids kept, to tell which erasure requests a hold defers


def _decide_file(
    curated: CuratedFile, table: pa.Table, as_of: date, targets: dict[str, str], holds: list[Hold]
) -> _FileDecision:
    """Which records of one curated file (`table`: record_id, retention_until) are due, and which are held.

    A record is due when its retention ended before `as_of` or an erasure request names it;
    a due record an active hold covers is kept and counted against that hold.
    """
    key, dataset, batch_id = curated.key, curated.ref.dataset, curated.ref.batch_id
    ids = table.column("record_id").combine_chunks()
    reason = _retention_reason(table, as_of)
    if targets:
        erased = pc.is_in(ids, value_set=pa.array(list(targets), pa.string()))
        named = pa.array([targets.get(i) for i in ids.to_pylist()], pa.string())
        reason = pc.if_else(erased, named, reason)
    to_purge = pc.is_valid(reason)
    held: dict[str, int] = {}
    held_ids: list[str] = []
    for hold in holds:
        if hold.scope == "record":
            mask = pc.and_(to_purge, pc.equal(ids, hold.target)) if hold.dataset == dataset else None
        else:
            mask = to_purge if held_by(hold, dataset, batch_id) else None
        if mask is not None and (count := pc.sum(mask).as_py() or 0):
            held[hold.hold_id] = count
            held_ids += ids.filter(mask).to_pylist()
            to_purge = pc.and_(to_purge, pc.invert(mask))
    if not pc.any(to_purge).as_py():
        return _FileDecision(None, held, held_ids)
    count = int(pc.sum(to_purge).as_py())
    purge = pa.table(
        {
            "record_id": ids.filter(to_purge),
            "dataset": pa.nulls(count, pa.string()).fill_null(dataset),
            "batch_id": pa.nulls(count, pa.string()).fill_null(batch_id),
            "curated_file": pa.nulls(count, pa.string()).fill_null(key),
            "retention_until": table.column("retention_until").combine_chunks().filter(to_purge),
            "reason": reason.filter(to_purge),
        },
        schema=PURGED_RECORDS_SCHEMA,
    )
    plan = FilePlan(key=key, dataset=dataset, batch_id=batch_id, total=len(ids), purge=purge, held=held)
    return _FileDecision(plan, held, held_ids)


def _retention_reason(table: pa.Table, as_of: date) -> pa.Array:
    """Why each record's time is up as of `as_of` (null: it is not).

    A record's purge date is min(retention_until, return_by): entrusted data (委託) goes back
    to the client, or is deleted, by the client's `return_by` at the latest, whatever its
    retention period says. `return_by` is present only for files of entrusted batches.
    """
    day = pa.scalar(as_of, pa.date32())
    expired = pc.less(table.column("retention_until"), day).combine_chunks()
    reason = pc.if_else(expired, pa.scalar("retention period ended"), pa.scalar(None, pa.string()))
    if RETURN_BY in table.column_names:
        returned = pc.fill_null(pc.less(table.column(RETURN_BY), day), False).combine_chunks()
        text = "the client's return_by passed: entrusted data (委託) returned or deleted"
        reason = pc.if_else(pc.and_(returned, pc.invert(expired)), pa.scalar(text), reason)
    return reason


def _return_dates(store: ObjectStore, ref: BatchRef) -> pa.Table | None:
    """(record_id, return_by) of the batch's entrusted records, from its manifest; None when it has none.

    Manifests written before provenance v2 have no `return_by` column: nothing of theirs is entrusted.
    """
    with store.open_input(ref.manifest_parquet) as handle:
        parquet = pq.ParquetFile(handle)
        if RETURN_BY not in parquet.schema_arrow.names:
            return None
        table = parquet.read(columns=["record_id", RETURN_BY])
    table = table.filter(pc.is_valid(table.column(RETURN_BY)))
    return table if table.num_rows else None


def _earliest_return(store: ObjectStore, ref: BatchRef) -> date | None:
    """The batch's earliest return_by (None: no entrusted record), from its manifest's footer statistics.

    Deciding whether to open a not-yet-expired partition must not read every batch's manifest:
    each row group's footer keeps the column's null count and minimum. A row group whose
    statistics cannot tell is read, its return_by column only.
    """
    with store.open_input(ref.manifest_parquet) as handle:
        parquet = pq.ParquetFile(handle)
        metadata = parquet.metadata
        leaves = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
        if RETURN_BY not in leaves:
            return None  # manifests written before provenance v2 have no return_by: nothing entrusted
        column = leaves.index(RETURN_BY)
        earliest: date | None = None
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group)
            stats = chunk.column(column).statistics
            if stats is not None and stats.has_null_count and stats.null_count == chunk.num_rows:
                continue  # no entrusted record in this row group
            if stats is not None and stats.has_min_max and isinstance(stats.min, date):
                low: date | None = stats.min
            else:
                low = pc.min(parquet.read_row_group(group, columns=[RETURN_BY]).column(RETURN_BY)).as_py()
            if low is not None and (earliest is None or low < earliest):
                earliest = low
    return earliest


def _with_return_dates(table: pa.Table, returns: pa.Table) -> pa.Table:
    """`table` (record_id, retention_until) with each record's return_by, in the same order."""
    positions = pc.index_in(table.column("record_id"), value_set=returns.column("record_id"))
    return table.append_column(RETURN_BY, pc.take(returns.column(RETURN_BY), positions))


class _Returns:
    """The entrusted batches' return dates, read once per batch and only for datasets that may hold entrusted data.

    Whether a batch has a record past its return_by comes from its manifest's footer; the
    dates themselves are read only for the files a run opens.
    """

    def __init__(self, ctx: RetentionContext) -> None:
        self._ctx = ctx
        self._by_batch: dict[BatchRef, pa.Table | None] = {}
        self._earliest: dict[BatchRef, date | None] = {}

    def may_be_entrusted(self, dataset: str) -> bool:
        """From the contract alone: intake publishes entrusted batches only where it allows entrusted_processing."""
        contract = self._ctx.registry.contract(dataset)
        return contract is None or ENTRUSTED_PROCESSING in contract.allowed_purposes

    def of(self, ref: BatchRef) -> pa.Table | None:
        if not self.may_be_entrusted(ref.dataset):
            return None
        if ref not in self._by_batch:
            self._by_batch[ref] = _return_dates(self._ctx.store, ref)
        return self._by_batch[ref]

    def due(self, ref: BatchRef, as_of: date) -> bool:
        """Whether some record of the batch is past its return_by (its file must be opened, whatever its month)."""
        if not self.may_be_entrusted(ref.dataset):
            return False
        if ref not in self._earliest:
            self._earliest[ref] = _earliest_return(self._ctx.store, ref)
        earliest = self._earliest[ref]
        return earliest is not None and earliest < as_of


def _retained(holds: list[Hold], counts: dict[str, int]) -> list[Retained]:
    by_id = {h.hold_id: h for h in holds}
    return [
        Retained(hold_id=h, scope=by_id[h].scope, target=by_id[h].target, reason=by_id[h].reason, records=n)
        for h, n in sorted(counts.items())
    ]


def make_plan(ctx: RetentionContext) -> Plan:
    """Everything a run would remove as of `ctx.as_of`, and everything held back."""
    store = ctx.store
    holds = active_holds(store)
    erasures = pending_requests(store)
    erasure_targets, request_of = _erasure_targets(store, erasures)
    held_requests: set[str] = set()
    as_of_month = (ctx.as_of.year, ctx.as_of.month)
    files: list[FilePlan] = []
    retained_counts: dict[str, int] = defaultdict(int)
    months: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"purge": 0, "held": 0})
    returns = _Returns(ctx)
    written = _Written(store)
    for curated in _curated_files(store):
        key, dataset, month = curated.key, curated.ref.dataset, curated.month
        begun = _month_key(month) <= as_of_month or key in erasure_targets
        if not begun and not returns.may_be_entrusted(dataset):
            continue  # not a day of it has begun to expire: never opened, nor its batch asked after
        if not written(curated.ref):
            continue
        if not begun and not returns.due(curated.ref, ctx.as_of):
            continue  # nor is any of its records past a client's return_by
        with store.open_input(key) as handle:
            table = pq.read_table(handle, columns=["record_id", "retention_until"])
        if (entrusted := returns.of(curated.ref)) is not None:
            table = _with_return_dates(table, entrusted)
        decided = _decide_file(curated, table, ctx.as_of, erasure_targets.get(key, {}), holds)
        for hold_id, count in decided.held.items():
            retained_counts[hold_id] += count
        held_requests.update(r for i in decided.held_ids for r in request_of.get(i, ()))
        months[(dataset, month)]["held"] += sum(decided.held.values())
        if decided.plan is not None:
            months[(dataset, month)]["purge"] += decided.plan.purge.num_rows
            files.append(decided.plan)
    return Plan(
        as_of=ctx.as_of,
        files=files,
        retained=_retained(holds, retained_counts),
        quarantine=_quarantine_due(ctx, holds),
        receipts=_receipts_due(ctx, holds),
        erasure_requests=[r.request_id for r in erasures if r.request_id not in held_requests],
        months=dict(months),
    )


def _quarantine_due(ctx: RetentionContext, holds: list[Hold]) -> list[RemovedObject]:
    """Quarantined data past its dataset's `quarantine_retention` (the rejection record itself stays)."""
    store = ctx.store
    by_batch: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)  # → (key, name in the folder)
    for key in store.list_keys(batch_prefix(QUARANTINE)):
        if (split := split_batch_key(key, QUARANTINE)) is not None:
            by_batch[(split[0].dataset, split[0].batch_id)].append((key, split[1]))
    due = []
    for (dataset, batch_id), entries in sorted(by_batch.items()):
        # Any file named rejection.json stays, a subfolder's too (as the suffix test before layout did).
        data_keys = [key for key, name in entries if name.rpartition("/")[2] != REJECTION_FILE]
        if not data_keys or any(held_by(h, dataset, batch_id) for h in holds):
            continue
        contract = ctx.registry.contract(dataset)
        period = parse_duration(contract.quarantine_retention if contract else "P30D")
        started = _quarantined_on(store, BatchRef(dataset, batch_id))
        if started is None or period.add_to(started) >= ctx.as_of:
            continue
        reason = f"quarantine retention {period} from {started} ended"
        due += [RemovedObject(key=k, sha256_before=object_sha256(store, k), reason=reason) for k in data_keys]
    return due


def _quarantined_on(store: ObjectStore, ref: BatchRef) -> date | None:
    """When the batch's quarantine retention starts: its rejection's date, else its manifest's."""
    if store.exists(ref.rejection):
        return Rejection.model_validate_json(store.get_bytes(ref.rejection)).rejected_at.date()
    if store.exists(ref.manifest_header):
        return ManifestHeader.model_validate_json(store.get_bytes(ref.manifest_header)).created_at.date()
    return None


def _receipts_due(ctx: RetentionContext, holds: list[Hold]) -> list[RemovedObject]:
    """Receipt records past keep_until. The law sets a minimum here, so the real date also
    has to be past it: an as-of date in the future never removes a receipt early."""
    cutoff = min(ctx.as_of, ctx.now().date())
    due = []
    for key in ctx.store.list_keys(folder_prefix(RECEIPTS)):
        receipt = read_receipt(ctx.store.get_bytes(key))  # v1 or v2
        if receipt.keep_until < cutoff and not any(held_by(h, receipt.dataset, receipt.batch_id) for h in holds):
            reason = f"receipt record kept until {receipt.keep_until} ({receipt.keep_rule})"
            due.append(RemovedObject(key=key, sha256_before=object_sha256(ctx.store, key), reason=reason))
    return due


def dry_run(plan: Plan) -> DryRun:
    rows = [
        {"dataset": dataset, "expiry": month, "records": counts["purge"], "held": counts["held"]}
        for (dataset, month), counts in sorted(plan.months.items())
        if counts["purge"] or counts["held"]
    ]
    deleted = sum(1 for f in plan.files if f.purge.num_rows == f.total)
    return DryRun(
        as_of=plan.as_of,
        rows=rows,
        files_deleted=deleted,
        files_rewritten=len(plan.files) - deleted,
        quarantine_objects=len(plan.quarantine),
        receipts=len(plan.receipts),
        retained=plan.retained,
        erasure_requests=plan.erasure_requests,
    )
