"""The retention run: plan what must go, open a certificate, destroy, close the certificate.

Curated data is partitioned by expiry month, so a run reads only partitions whose month
has begun by the as-of date: a partition wholly past its time is deleted as whole files
(its record ids read for the certificate), a partition the as-of date falls in is
rewritten without its expired records, and later partitions are not opened. The cost
follows what has expired, not the size of the store.

The certificate is written (open) before anything is destroyed, naming every file and
record it will remove, and closed after, with each file's hash before and after. A run
that dies midway leaves the open certificate; the next run finishes exactly that plan
first, so nothing is purged twice and nothing planned is forgotten.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin import audit
from kakunin.batches import REJECTION_FILE, Rejection
from kakunin.contracts import Registry
from kakunin.durations import parse_duration
from kakunin.errors import InputError, KakuninError
from kakunin.hashing import sha256_bytes
from kakunin.leases import DEFAULT_TTL, Lease, acquire, new_owner
from kakunin.leases import read as read_lease
from kakunin.leftovers import find_leftovers, remove_leftovers
from kakunin.lineage.chain import Chain, canonical_json
from kakunin.lineage.formats import (
    CERTIFICATE_CHAIN,
    CERTIFICATES,
    PURGED_RECORDS_SCHEMA,
    AuditAction,
    BatchPurge,
    Certificate,
    CertificateLink,
    FileAction,
    Hold,
    ManifestHeader,
    Receipt,
    RemovedObject,
    ReplannedFile,
    Retained,
    StoredObject,
    certificate_key,
    certificate_records_key,
    manifest_prefix,
)
from kakunin.retention.erasure import pending_requests, records_of_subject
from kakunin.retention.holds import active_holds
from kakunin.storage import ObjectStore, delete_prefix, object_sha256
from kakunin.yaml_io import dump_json

log = logging.getLogger(__name__)

RETENTION_LEASE = "retention"
JOURNAL = "journal/retention"


class RetentionBusy(KakuninError):
    """Another retention run holds the lease: this one does nothing and says so."""

    code = "busy"


class InjectedFailure(RuntimeError):
    """Raised by the `fail_at` test hook to simulate a run killed at a given point."""


@dataclass
class RetentionContext:
    store: ObjectStore
    registry: Registry
    as_of: date
    now: Callable[[], datetime]
    actor: str
    fail_at: set[str] = field(default_factory=set)
    future_as_of: bool = False  # the as-of date is after today, and the caller explicitly allowed it
    lease_ttl: timedelta = DEFAULT_TTL
    lease: Lease | None = None

    def checkpoint(self, name: str) -> None:
        if name in self.fail_at:
            raise InjectedFailure(f"injected failure at {name}")

    def renew(self) -> None:
        """Extend the run's lease between units of work; `LeaseLost` stops a run that was taken over."""
        if self.lease is not None:
            self.lease.renew()


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


def _curated_files(store: ObjectStore) -> list[tuple[str, str, str, str]]:
    """(key, dataset, month, batch_id) of every published curated file whose lineage is written.

    A batch still between publish and lineage is left alone: intake finishes it first.
    """
    files = []
    written: dict[tuple[str, str], bool] = {}
    for key in store.list_keys("curated/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[2].startswith("expiry=") and parts[3].startswith("part-"):
            batch_id = parts[3].removeprefix("part-").removesuffix(".parquet")
            if (parts[1], batch_id) not in written:
                header = f"{manifest_prefix(parts[1], batch_id)}/manifest.json"
                written[(parts[1], batch_id)] = store.exists(header)
            if written[(parts[1], batch_id)]:
                files.append((key, parts[1], parts[2].removeprefix("expiry="), batch_id))
    return files


def _month_key(month: str) -> tuple[int, int]:
    """`YYYY-MM` (or a longer year, from records published before per-record clamping) as numbers.

    Compared as text, "10002-01" would sort before "2026-05" and look long expired.
    """
    year, _, number = month.rpartition("-")
    try:
        return int(year), int(number)
    except ValueError:
        return (0, 0)  # not a month we wrote: open it rather than skip it


def _held_by(hold: Hold, dataset: str, batch_id: str) -> bool:
    return hold.dataset == dataset and (hold.scope == "dataset" or (hold.scope == "batch" and hold.target == batch_id))


def make_plan(ctx: RetentionContext) -> Plan:
    """Everything a run would remove as of `ctx.as_of`, and everything held back."""
    store = ctx.store
    holds = active_holds(store)
    erasures = pending_requests(store)
    erasure_targets: dict[str, dict[str, str]] = defaultdict(dict)  # curated file → record id → reason
    request_of: dict[str, str] = {}
    for request in erasures:
        for row in records_of_subject(store, request.dataset, request.subject_digest).to_pylist():
            erasure_targets[row["curated_file"]][row["record_id"]] = f"erasure request {request.request_id}"
            request_of[row["record_id"]] = request.request_id
    held_requests: set[str] = set()
    as_of_month = (ctx.as_of.year, ctx.as_of.month)
    files: list[FilePlan] = []
    retained_counts: dict[str, int] = defaultdict(int)
    months: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"purge": 0, "held": 0})
    for key, dataset, month, batch_id in _curated_files(store):
        if _month_key(month) > as_of_month and key not in erasure_targets:
            continue  # not a day of it has begun to expire: never opened
        with store.reading(key) as path:
            table = pq.read_table(path, columns=["record_id", "retention_until"])
        ids = table.column("record_id").combine_chunks()
        expired = pc.less(table.column("retention_until"), pa.scalar(ctx.as_of, pa.date32())).combine_chunks()
        reason = pc.if_else(expired, pa.scalar("retention period ended"), pa.scalar(None, pa.string()))
        targets = erasure_targets.get(key, {})
        if targets:
            erased = pc.is_in(ids, value_set=pa.array(list(targets), pa.string()))
            named = pa.array([targets.get(i) for i in ids.to_pylist()], pa.string())
            reason = pc.if_else(erased, named, reason)
        to_purge = pc.is_valid(reason)
        held: dict[str, int] = {}
        for hold in holds:
            if hold.scope == "record":
                mask = pc.and_(to_purge, pc.equal(ids, hold.target)) if hold.dataset == dataset else None
            else:
                mask = to_purge if _held_by(hold, dataset, batch_id) else None
            if mask is not None and (count := pc.sum(mask).as_py() or 0):
                held[hold.hold_id] = count
                retained_counts[hold.hold_id] += count
                held_requests.update(request_of[i] for i in ids.filter(mask).to_pylist() if i in request_of)
                to_purge = pc.and_(to_purge, pc.invert(mask))
        months[(dataset, month)]["held"] += sum(held.values())
        if not pc.any(to_purge).as_py():
            continue
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
        months[(dataset, month)]["purge"] += purge.num_rows
        files.append(FilePlan(key=key, dataset=dataset, batch_id=batch_id, total=len(ids), purge=purge, held=held))
    by_id = {h.hold_id: h for h in holds}
    retained = [
        Retained(hold_id=h, scope=by_id[h].scope, target=by_id[h].target, reason=by_id[h].reason, records=n)
        for h, n in sorted(retained_counts.items())
    ]
    return Plan(
        as_of=ctx.as_of,
        files=files,
        retained=retained,
        quarantine=_quarantine_due(ctx, holds),
        receipts=_receipts_due(ctx, holds),
        erasure_requests=[r.request_id for r in erasures if r.request_id not in held_requests],
        months=dict(months),
    )


def _quarantine_due(ctx: RetentionContext, holds: list[Hold]) -> list[RemovedObject]:
    """Quarantined data past its dataset's `quarantine_retention` (the rejection record itself stays)."""
    store = ctx.store
    by_batch: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in store.list_keys("quarantine/"):
        parts = key.split("/")
        if len(parts) >= 4:
            by_batch[(parts[1], parts[2])].append(key)
    due = []
    for (dataset, batch_id), keys in sorted(by_batch.items()):
        data_keys = [k for k in keys if not k.endswith(f"/{REJECTION_FILE}")]
        if not data_keys or any(_held_by(h, dataset, batch_id) for h in holds):
            continue
        contract = ctx.registry.contract(dataset)
        period = parse_duration(contract.quarantine_retention if contract else "P30D")
        started = _quarantined_on(store, dataset, batch_id)
        if started is None or period.add_to(started) >= ctx.as_of:
            continue
        reason = f"quarantine retention {period} from {started} ended"
        due += [RemovedObject(key=k, sha256_before=object_sha256(store, k), reason=reason) for k in data_keys]
    return due


def _quarantined_on(store: ObjectStore, dataset: str, batch_id: str) -> date | None:
    rejection_key = f"quarantine/{dataset}/{batch_id}/{REJECTION_FILE}"
    if store.exists(rejection_key):
        return Rejection.model_validate_json(store.get_bytes(rejection_key)).rejected_at.date()
    header_key = f"{manifest_prefix(dataset, batch_id)}/manifest.json"
    if store.exists(header_key):
        return ManifestHeader.model_validate_json(store.get_bytes(header_key)).created_at.date()
    return None


def _receipts_due(ctx: RetentionContext, holds: list[Hold]) -> list[RemovedObject]:
    """Receipt records past keep_until. The law sets a minimum here, so the real date also
    has to be past it: an as-of date in the future never removes a receipt early."""
    cutoff = min(ctx.as_of, ctx.now().date())
    due = []
    for key in ctx.store.list_keys("lineage/receipts/"):
        receipt = Receipt.model_validate_json(ctx.store.get_bytes(key))
        if receipt.keep_until < cutoff and not any(_held_by(h, receipt.dataset, receipt.batch_id) for h in holds):
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


def _batches(store: ObjectStore, records: pa.Table) -> list[BatchPurge]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for dataset, batch_id in zip(
        records.column("dataset").to_pylist(), records.column("batch_id").to_pylist(), strict=True
    ):
        counts[(dataset, batch_id)] += 1
    out = []
    for (dataset, batch_id), count in sorted(counts.items()):
        header_key = f"{manifest_prefix(dataset, batch_id)}/manifest.json"
        document = (
            ManifestHeader.model_validate_json(store.get_bytes(header_key)).provenance_document_id
            if store.exists(header_key)
            else None
        )
        out.append(BatchPurge(dataset=dataset, batch_id=batch_id, provenance_document_id=document, records=count))
    return out


def open_certificate(ctx: RetentionContext, plan: Plan) -> Certificate:
    """Write the purged-records list and the open certificate, before anything is destroyed."""
    store = ctx.store
    now = ctx.now()
    run_id = f"PC-{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"
    records = pa.concat_tables([f.purge for f in plan.files]) if plan.files else PURGED_RECORDS_SCHEMA.empty_table()
    records_key = certificate_records_key(run_id)
    with store.writing(records_key) as path:
        pq.write_table(records, path, compression="zstd")
    files = [
        FileAction(
            key=f.key,
            action="delete" if f.purge.num_rows == f.total else "rewrite",
            method="whole-file delete" if f.purge.num_rows == f.total else "rewrite without the purged records",
            sha256_before=object_sha256(store, f.key),
            records_removed=f.purge.num_rows,
            records_kept=f.total - f.purge.num_rows,
        )
        for f in plan.files
    ]
    certificate = Certificate(
        run_id=run_id,
        status="open",
        as_of=plan.as_of,
        actor=ctx.actor,
        opened_at=now,
        policy=[
            "curated records whose retention_until is before as_of (APPI Art. 22; GDPR Art. 5(1)(e))",
            "quarantined data older than its dataset's quarantine_retention",
            "receipt records past keep_until (APPI Art. 30(4))",
            "records named by pending erasure requests (APPI Art. 35; GDPR Art. 17)",
            "records under an active legal hold are retained",
        ],
        records=StoredObject(key=records_key, sha256=object_sha256(store, records_key), rows=records.num_rows),
        purged_count=records.num_rows,
        batches=_batches(store, records),
        files=files,
        retained=plan.retained,
        quarantine_removed=plan.quarantine,
        receipts_removed=plan.receipts,
        erasure_requests=plan.erasure_requests,
        future_as_of=ctx.future_as_of,
    )
    audit.prepare_once(store, _journal(run_id, AuditAction.PURGE_OPEN))
    store.put_bytes(certificate_key(run_id, open_=True), dump_json(certificate))
    _audit_opened(ctx, certificate)
    return certificate


def _journal(run_id: str, action: AuditAction) -> str:
    """Where a run notes the audit log's head before a decision, for `audit.record_once`."""
    return f"{JOURNAL}/{run_id}/audit-{action}.json"


def _audit_opened(ctx: RetentionContext, certificate: Certificate) -> None:
    detail: dict[str, Any] = {"certificate": certificate.run_id, "records": certificate.purged_count}
    if certificate.future_as_of:
        detail.update(as_of=certificate.as_of.isoformat(), future_as_of=True)
    audit.record_once(
        ctx.store,
        AuditAction.PURGE_OPEN,
        marker_key=_journal(certificate.run_id, AuditAction.PURGE_OPEN),
        at=certificate.opened_at,
        actor=ctx.actor,
        detail=detail,
        match={"certificate": certificate.run_id},
    )


def _audit_closed(ctx: RetentionContext, closed: Certificate) -> None:
    """The purge entry, once; then the run's journal goes (every entry of the certificate is logged)."""
    _audit_opened(ctx, closed)
    audit.record_once(
        ctx.store,
        AuditAction.PURGE,
        marker_key=_journal(closed.run_id, AuditAction.PURGE),
        at=closed.closed_at or ctx.now(),
        actor=ctx.actor,
        detail={
            "certificate": closed.run_id,
            "records": closed.purged_count,
            "files": len(closed.files),
            "retained": sum(r.records for r in closed.retained),
            "replanned": len(closed.replanned),
        },
        match={"certificate": closed.run_id},
    )
    delete_prefix(ctx.store, f"{JOURNAL}/{closed.run_id}/")


def finish_journals(ctx: RetentionContext) -> None:
    """Log what a killed run did not (its certificate closed, the entry missing), and drop journals of
    runs that died before their certificate was written."""
    store = ctx.store
    runs = sorted({key.split("/")[2] for key in store.list_keys(f"{JOURNAL}/") if key.count("/") == 3})
    for run_id in runs:
        if store.exists(certificate_key(run_id)):
            _audit_closed(ctx, Certificate.model_validate_json(store.get_bytes(certificate_key(run_id))))
        elif not store.exists(certificate_key(run_id, open_=True)):
            delete_prefix(store, f"{JOURNAL}/{run_id}/")


def _rewrite_without(store: ObjectStore, key: str, purged: pa.Array) -> None:
    """Rewrite `key` keeping every record not in `purged`, streamed, replaced atomically."""
    with store.reading(key) as source, store.writing(key) as target:
        parquet = pq.ParquetFile(source)
        with pq.ParquetWriter(target, parquet.schema_arrow, compression="zstd") as writer:
            for batch in parquet.iter_batches(batch_size=250_000):
                keep = pc.invert(pc.is_in(batch.column("record_id"), value_set=purged))
                writer.write_batch(batch.filter(keep))


@dataclass
class _Departures:
    """Where carrying out a certificate departs from its plan (holds placed since, files changed since)."""

    spared: list[pa.Array] = field(default_factory=list)  # planned record ids not purged after all
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # hold id → records it kept
    replanned: list[ReplannedFile] = field(default_factory=list)
    files: list[FileAction] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.spared or self.replanned)


def _held_now(
    holds: list[Hold], rows: pa.Table, dataset: str, batch_id: str, out: _Departures, *, among: pa.Array | None = None
) -> pa.Array:
    """Mask of the planned `rows` an active hold covers now, counting each hold's records into `out`.

    `among` limits it to rows still in the file: a record this certificate already removed
    before a crash cannot be kept by a hold placed after it, and must not be counted as kept.
    """
    ids = rows.column("record_id").combine_chunks()
    held = pa.nulls(len(ids), pa.bool_()).fill_null(False)
    for hold in holds:
        if hold.scope == "record":
            mask = pc.equal(ids, hold.target) if hold.dataset == dataset else None
        else:
            mask = pa.nulls(len(ids), pa.bool_()).fill_null(True) if _held_by(hold, dataset, batch_id) else None
        if mask is None:
            continue
        if among is not None:
            mask = pc.and_(mask, among)
        fresh = pc.and_(mask, pc.invert(held))
        if count := pc.sum(fresh).as_py() or 0:
            out.held[hold.hold_id] += count
            held = pc.or_(held, fresh)
    return held


def _present(store: ObjectStore, key: str, ids: pa.Array) -> pa.Array:
    """Which of `ids` are still in the curated file `key`."""
    with store.reading(key) as path:
        in_file = pq.read_table(path, columns=["record_id"]).column("record_id").combine_chunks()
    return pc.is_in(ids, value_set=in_file)


def _purged_elsewhere(store: ObjectStore, certificate: Certificate, key: str) -> pa.Array:
    """Record ids of `key` that another closed certificate names (it changed the file, not this one)."""
    from kakunin.lineage.trace import closed_certificates

    found = [pa.array([], pa.string())]
    for other in closed_certificates(store):
        if other.run_id != certificate.run_id and any(f.key == key for f in other.files):
            with store.reading(other.records.key) as path:
                table = pq.read_table(path, columns=["record_id"], filters=[("curated_file", "=", key)])
            found.append(table.column("record_id").combine_chunks())
    return pa.concat_arrays(found)


def _carry_out_file(
    ctx: RetentionContext,
    certificate: Certificate,
    action: FileAction,
    rows: pa.Table,
    holds: list[Hold],
    out: _Departures,
) -> None:
    """Purge one planned file, sparing records held since the plan; a file changed since is re-planned."""
    store = ctx.store
    if not store.exists(action.key):
        out.files.append(action)  # deleted already, by this certificate before a crash
        return
    dataset, batch_id = rows.column("dataset")[0].as_py(), rows.column("batch_id")[0].as_py()
    ids = rows.column("record_id").combine_chunks()
    found = object_sha256(store, action.key)
    still_there = None if found == action.sha256_before else _present(store, action.key, ids)
    held = _held_now(holds, rows, dataset, batch_id, out, among=still_there)
    to_purge, spared = ids.filter(pc.invert(held)), ids.filter(held)
    if len(spared):
        out.spared.append(spared)
    if found == action.sha256_before:
        if not len(to_purge):
            return  # every planned record of this file is held now: the file is not touched
        if action.action == "delete" and not len(spared):
            store.delete(action.key)
            out.files.append(action)
            return
        _rewrite_without(store, action.key, to_purge)
    else:
        present = _present(store, action.key, to_purge)
        if pc.any(present).as_py():
            # Changed since the plan (another run rewrote it): purging from content the plan never
            # saw is not what this certificate promised. Leave it; the next plan reads it afresh.
            gone = to_purge.filter(pc.invert(present))
            elsewhere = pc.is_in(gone, value_set=_purged_elsewhere(store, certificate, action.key))
            out.spared += [to_purge.filter(present), gone.filter(elsewhere)]
            out.replanned.append(
                ReplannedFile(
                    key=action.key,
                    sha256_planned=action.sha256_before,
                    sha256_found=found,
                    records_planned=action.records_removed,
                    reason=f"changed after this certificate planned it; {pc.sum(present).as_py()} planned record(s) "
                    "still in it were left to the next plan",
                )
            )
            return
    if len(spared) or action.action == "rewrite":
        out.files.append(
            action.model_copy(
                update={
                    "action": "rewrite",
                    "method": "rewrite without the purged records",
                    "records_removed": len(to_purge),
                    "records_kept": action.records_kept + len(spared),
                }
            )
        )
    else:
        out.files.append(action)  # done already, by this certificate before a crash


def carry_out(ctx: RetentionContext, certificate: Certificate) -> Certificate:
    """Do what an open certificate says, idempotently, and close it.

    Holds are read again here, not taken from the plan: a hold placed after the plan (or
    after a crash, before the next run resumes it) keeps its records. A file found changed
    since the plan is re-planned rather than fatal. Either way the closed certificate lists
    what was actually purged and keeps a pointer to the plan.
    """
    store = ctx.store
    holds = active_holds(store)
    with store.reading(certificate.records.key) as path:
        planned = pq.read_table(path)
    out = _Departures()
    for index, action in enumerate(certificate.files):
        ctx.renew()
        rows = planned.filter(pc.equal(planned.column("curated_file"), action.key))
        _carry_out_file(ctx, certificate, action, rows, holds, out)
        ctx.checkpoint(f"file-{index}")
    for removed in [*certificate.quarantine_removed, *certificate.receipts_removed]:
        if store.exists(removed.key):
            store.delete(removed.key)
    ctx.checkpoint("before-close")
    return close_certificate(ctx, certificate, _as_carried_out(store, certificate, planned, out, holds))


def _as_carried_out(
    store: ObjectStore, certificate: Certificate, planned: pa.Table, out: _Departures, holds: list[Hold]
) -> Certificate:
    """The certificate as it will be closed: the plan, or what was done where that differs."""
    if not out.any:
        return certificate.model_copy(update={"files": out.files})
    spared = pa.concat_arrays(out.spared) if out.spared else pa.array([], pa.string())
    purged = planned.filter(pc.invert(pc.is_in(planned.column("record_id"), value_set=spared)))
    spared_rows = planned.filter(pc.is_in(planned.column("record_id"), value_set=spared))
    left = {r.removeprefix("erasure request ") for r in spared_rows.column("reason").to_pylist()}
    records_key = certificate_records_key(certificate.run_id, closed=True)
    with store.writing(records_key) as path:
        pq.write_table(purged, path, compression="zstd")
    retained = {r.hold_id: r for r in certificate.retained}
    by_id = {h.hold_id: h for h in holds}  # as read when carrying out: a hold released since still kept these
    for hold_id, count in out.held.items():
        hold = by_id[hold_id]
        before = retained[hold_id].records if hold_id in retained else 0
        retained[hold_id] = Retained(
            hold_id=hold_id, scope=hold.scope, target=hold.target, reason=hold.reason, records=before + count
        )
    return certificate.model_copy(
        update={
            "records": StoredObject(key=records_key, sha256=object_sha256(store, records_key), rows=purged.num_rows),
            "planned_records": certificate.records,
            "purged_count": purged.num_rows,
            "batches": _batches(store, purged),
            "files": out.files,
            "replanned": out.replanned,
            "retained": [retained[h] for h in sorted(retained)],
            "erasure_requests": [r for r in certificate.erasure_requests if r not in left],
        }
    )


def close_certificate(ctx: RetentionContext, certificate: Certificate, done: Certificate | None = None) -> Certificate:
    """Write the closed certificate create-only (a racing run cannot replace it), then link it.

    `done` is the certificate as carried out (see `carry_out`); by default, the plan itself.
    """
    store = ctx.store
    done = done or certificate
    files = [
        action.model_copy(update={"sha256_after": object_sha256(store, action.key)})
        if action.action == "rewrite"
        else action
        for action in done.files
    ]
    closed = done.model_copy(update={"status": "closed", "closed_at": ctx.now(), "files": files})
    audit.prepare_once(store, _journal(certificate.run_id, AuditAction.PURGE))
    if not store.put_bytes_if_absent(certificate_key(certificate.run_id), dump_json(closed)):
        closed = Certificate.model_validate_json(store.get_bytes(certificate_key(certificate.run_id)))
    ctx.checkpoint("closed")
    link_closed_certificates(store)
    _audit_closed(ctx, closed)
    return closed


def link_closed_certificates(store: ObjectStore) -> None:
    """Give every closed certificate that no chain link names its link (repairs a crash after closing)."""
    chain = Chain(store, CERTIFICATE_CHAIN)
    linked = {CertificateLink.model_validate_json(data).certificate_key for _, data in chain.entries()}
    for key in sorted(store.list_keys(f"{CERTIFICATES}/")):
        name = key.rsplit("/", 1)[1]
        if key.count("/") != 2 or not name.endswith(".json") or name.endswith(".open.json") or key in linked:
            continue
        data = store.get_bytes(key)

        def link(sequence: int, previous: str | None, key: str = key, data: bytes = data) -> bytes:
            entry = CertificateLink(
                sequence=sequence, previous=previous, certificate_key=key, certificate_sha256=sha256_bytes(data)
            )
            return canonical_json(entry.model_dump(mode="json"))

        chain.append(link)


def open_certificates(store: ObjectStore) -> list[Certificate]:
    """Certificates opened by a run that did not close them (oldest first)."""
    keys = set(store.list_keys(f"{CERTIFICATES}/"))
    opened = sorted(k for k in keys if k.endswith(".open.json"))
    return [
        Certificate.model_validate_json(store.get_bytes(k))
        for k in opened
        if k.removesuffix(".open.json") + ".json" not in keys
    ]


def check_as_of(as_of: date, *, today: date, allow_future: bool) -> bool:
    """Whether `as_of` is in the future; refuse one unless explicitly allowed.

    A purge as of a later day destroys records whose retention has not ended: that is
    a demo or a deliberate early purge, never a default. Returns True when it is allowed.
    """
    if as_of <= today:
        return False
    if not allow_future:
        raise InputError(
            f"as-of {as_of} is after today ({today}): that would purge records whose retention has not ended; "
            "pass --allow-future-as-of (DAG param allow_future_as_of) if that is really meant"
        )
    return True


def run_retention(ctx: RetentionContext) -> list[Certificate]:
    """Finish any interrupted run, then plan and carry out this one; returns the closed certificates.

    One run at a time: the run holds the `retention` lease throughout (renewed between
    files) and `RetentionBusy` is raised, with nothing done, when another run holds it.
    """
    lease = acquire(ctx.store, RETENTION_LEASE, owner=new_owner(), now=ctx.now, ttl=ctx.lease_ttl)
    if lease is None:
        holder = read_lease(ctx.store, RETENTION_LEASE)
        who = f" ({holder.owner}, since {holder.acquired_at:%Y-%m-%d %H:%M} UTC)" if holder else ""
        raise RetentionBusy(
            f"another retention run is in progress{who}; this run did nothing. "
            "Run again once it has finished (its certificate will show what it purged)."
        )
    ctx.lease = lease
    try:
        link_closed_certificates(ctx.store)
        finish_journals(ctx)
        removed = remove_leftovers(ctx.store, find_leftovers(ctx.store, now=ctx.now()))
        if removed:
            log.info("removed %d leftover object(s) of runs that did not finish", removed)
        closed = []
        for certificate in open_certificates(ctx.store):
            _audit_opened(ctx, certificate)
            closed.append(carry_out(ctx, certificate))
        ctx.renew()
        plan = make_plan(ctx)
        if plan.empty:
            return closed
        ctx.renew()
        certificate = open_certificate(ctx, plan)
        ctx.checkpoint("opened")
        closed.append(carry_out(ctx, certificate))
        return closed
    finally:
        ctx.lease = None
        lease.release()
