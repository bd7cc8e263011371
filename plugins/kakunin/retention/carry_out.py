"""Carrying out an open certificate: delete or rewrite each planned file, idempotently, then close it.

Holds are read again here and files re-checked against the hashes the plan saw, so what is
destroyed is never more than the certificate promised, and a rerun after a crash resumes it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.errors import StorageLocked
from kakunin.layout import certificate_records_key
from kakunin.lineage.formats import (
    Certificate,
    FileAction,
    Hold,
    RemovedObject,
    ReplannedFile,
    Retained,
    StoredObject,
)
from kakunin.progress import Progress, report
from kakunin.retention.certificates import batches_of, close_certificate
from kakunin.retention.context import RetentionContext
from kakunin.retention.exports import purge_exports
from kakunin.retention.holds import active_holds
from kakunin.retention.plan import held_by
from kakunin.retention.subject_index import purge_subject_index
from kakunin.storage import ObjectStore, object_sha256

log = logging.getLogger(__name__)


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
            mask = pa.nulls(len(ids), pa.bool_()).fill_null(True) if held_by(hold, dataset, batch_id) else None
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
    with store.open_input(key) as handle:
        in_file = pq.read_table(handle, columns=["record_id"]).column("record_id").combine_chunks()
    return pc.is_in(ids, value_set=in_file)


def _purged_elsewhere(store: ObjectStore, certificate: Certificate, key: str) -> pa.Array:
    """Record ids of `key` that another closed certificate names (it changed the file, not this one)."""
    from kakunin.lineage.chain import closed_certificates

    found = [pa.array([], pa.string())]
    for other in closed_certificates(store):
        if other.run_id != certificate.run_id and any(f.key == key for f in other.files):
            with store.open_input(other.records.key) as handle:
                table = pq.read_table(handle, columns=["record_id"], filters=[("curated_file", "=", key)])
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
    versions: list[str] = []
    if found == action.sha256_before:
        if not len(to_purge):
            return  # every planned record of this file is held now: the file is not touched
        if action.action == "delete" and not len(spared):
            out.files.append(_with_versions(action, store.delete(action.key)))
            return
        _rewrite_without(store, action.key, to_purge)
        versions = store.prune_versions(action.key)  # on S3 the old version still held the purged records
    else:
        present = _present(store, action.key, to_purge)
        if pc.any(present).as_py():
            _leave_changed_file(store, certificate, action, found, to_purge, present, out)
            return
    out.files.append(_with_versions(_as_done(action, to_purge, spared), versions))


def _with_versions(action: FileAction, versions: list[str]) -> FileAction:
    """The action naming the store versions it destroyed (none on a local store: the field stays unset)."""
    return action.model_copy(update={"versions_removed": versions}) if versions else action


def _leave_changed_file(
    store: ObjectStore,
    certificate: Certificate,
    action: FileAction,
    found: str,
    to_purge: pa.Array,
    present: pa.Array,
    out: _Departures,
) -> None:
    """A file changed since the plan (another run rewrote it) and still holding planned records.

    Purging from content the plan never saw is not what this certificate promised. Leave it;
    the next plan reads it afresh. `present` masks the planned `to_purge` ids still in it.
    """
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


def _as_done(action: FileAction, to_purge: pa.Array, spared: pa.Array) -> FileAction:
    """The file's action as carried out: sparing held records turns a delete into a rewrite."""
    if len(spared) or action.action == "rewrite":
        return action.model_copy(
            update={
                "action": "rewrite",
                "method": "rewrite without the purged records",
                "records_removed": len(to_purge),
                "records_kept": action.records_kept + len(spared),
            }
        )
    return action  # done already, by this certificate before a crash


def carry_out(ctx: RetentionContext, certificate: Certificate, *, progress: Progress | None = None) -> Certificate:
    """Do what an open certificate says, idempotently, and close it.

    Holds are read again here, not taken from the plan: a hold placed after the plan (or
    after a crash, before the next run resumes it) keeps its records. A file found changed
    since the plan is re-planned rather than fatal. Either way the closed certificate lists
    what was actually purged and keeps a pointer to the plan. `progress` counts files.
    """
    store = ctx.store
    holds = active_holds(store)
    with store.reading(certificate.records.key) as path:
        planned = pq.read_table(path)
    out = _Departures()
    total = len(certificate.files)
    report(progress, 0, total, f"certificate {certificate.run_id}: {total} file(s)")
    for index, action in enumerate(certificate.files):
        ctx.renew()
        rows = planned.filter(pc.equal(planned.column("curated_file"), action.key))
        _carry_out_file(ctx, certificate, action, rows, holds, out)
        ctx.checkpoint(f"file-{index}")
        report(progress, index + 1, total, f"certificate {certificate.run_id}: {action.action} {action.key}")
    gone, locked = _remove_objects(ctx, [*certificate.quarantine_removed, *certificate.receipts_removed])
    ctx.checkpoint("before-close")
    done = _as_carried_out(store, certificate, planned, out, holds)
    done = done.model_copy(update={"subject_index": purge_subject_index(ctx, done)})
    exports, recall = purge_exports(ctx, done)  # held exports follow the records (kakunin.exports.reach)
    done = done.model_copy(update={"exports": exports, "exports_recall": recall})
    return close_certificate(ctx, certificate, _with_removed_versions(_without(done, locked), gone))


def _remove_objects(ctx: RetentionContext, objects: list[RemovedObject]) -> tuple[dict[str, list[str]], set[str]]:
    """Delete the planned quarantine objects and receipt records: (version ids removed per key, keys the
    store's Object Lock refused). A locked one is not purged yet: it is reported on the context
    (`ctx.deferred`) and left for a later run, which plans it again."""
    gone: dict[str, list[str]] = {}
    locked: set[str] = set()
    for removed in objects:
        if not ctx.store.exists(removed.key):
            continue
        try:
            gone[removed.key] = ctx.store.delete(removed.key)
        except StorageLocked as refused:
            locked.add(removed.key)
            ctx.deferred.append(f"not purged yet: {refused}; a later run removes it")
            log.warning("not purged yet: %s", refused)
    return gone, locked


def _without(certificate: Certificate, locked: set[str]) -> Certificate:
    """The certificate without the objects the store would not delete yet: it lists only what went."""
    if not locked:
        return certificate
    return certificate.model_copy(
        update={
            "quarantine_removed": [r for r in certificate.quarantine_removed if r.key not in locked],
            "receipts_removed": [r for r in certificate.receipts_removed if r.key not in locked],
        }
    )


def _with_removed_versions(certificate: Certificate, gone: dict[str, list[str]]) -> Certificate:
    """The certificate with the version ids each removed quarantine file and receipt record had."""
    if not any(gone.values()):
        return certificate

    def named(items: list[RemovedObject]) -> list[RemovedObject]:
        return [r.model_copy(update={"versions_removed": gone[r.key]}) if gone.get(r.key) else r for r in items]

    return certificate.model_copy(
        update={
            "quarantine_removed": named(certificate.quarantine_removed),
            "receipts_removed": named(certificate.receipts_removed),
        }
    )


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
            "batches": batches_of(store, purged),
            "files": out.files,
            "replanned": out.replanned,
            "retained": [retained[h] for h in sorted(retained)],
            "erasure_requests": [r for r in certificate.erasure_requests if r not in left],
        }
    )
