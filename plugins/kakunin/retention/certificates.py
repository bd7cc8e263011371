"""Purge certificates: opened before anything is destroyed, closed after, linked in a hash chain, each logged once.

A run notes the audit log's head in its journal before each decision, so a run killed between
the certificate and its audit entry is completed by the next (`finish_journals`), never doubled.
"""

from __future__ import annotations

import secrets
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kakunin import audit
from kakunin.hashing import sha256_bytes
from kakunin.layout import (
    CERTIFICATE_CHAIN,
    CERTIFICATES,
    RETENTION_JOURNAL,
    BatchRef,
    certificate_key,
    certificate_records_key,
    closed_certificate_run,
    folder_prefix,
    journal_audit_marker,
    journal_prefix,
    journal_run,
    open_certificate_run,
)
from kakunin.lineage import seal
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import (
    PURGED_RECORDS_SCHEMA,
    AuditAction,
    BatchPurge,
    Certificate,
    CertificateLink,
    FileAction,
    ManifestHeader,
    StoredObject,
)
from kakunin.retention.context import RetentionContext
from kakunin.retention.plan import Plan
from kakunin.storage import ObjectStore, delete_prefix, object_sha256
from kakunin.yaml_io import dump_json


def batches_of(store: ObjectStore, records: pa.Table) -> list[BatchPurge]:
    """Purged records per batch, counted by Arrow (a Python loop took ~1 s per million records)."""
    grouped = records.select(["dataset", "batch_id"]).group_by(["dataset", "batch_id"]).aggregate([([], "count_all")])
    counts = {
        (dataset, batch_id): count
        for dataset, batch_id, count in zip(
            grouped.column("dataset").to_pylist(),
            grouped.column("batch_id").to_pylist(),
            grouped.column("count_all").to_pylist(),
            strict=True,
        )
    }
    out = []
    for (dataset, batch_id), count in sorted(counts.items()):
        header_key = BatchRef(dataset, batch_id).manifest_header
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
        batches=batches_of(store, records),
        files=files,
        retained=plan.retained,
        quarantine_removed=plan.quarantine,
        receipts_removed=plan.receipts,
        erasure_requests=plan.erasure_requests,
        future_as_of=ctx.future_as_of,
    )
    audit.prepare_once(store, _journal(run_id, AuditAction.PURGE_OPEN))
    store.put_bytes(certificate_key(run_id, open_=True), dump_json(certificate))
    audit_opened(ctx, certificate)
    return certificate


def _journal(run_id: str, action: AuditAction) -> str:
    """Where a run notes the audit log's head before a decision, for `audit.record_once`."""
    return journal_audit_marker(run_id, action)


def audit_opened(ctx: RetentionContext, certificate: Certificate) -> None:
    """The purge-open entry, once, with the open certificate's hash: verify tells an edited plan from it."""
    detail: dict[str, Any] = {"certificate": certificate.run_id, "records": certificate.purged_count}
    opened_at = certificate_key(certificate.run_id, open_=True)
    if ctx.store.exists(opened_at):  # always, as the open certificate is written before this and never removed
        detail["certificate_sha256"] = object_sha256(ctx.store, opened_at)
    if certificate.future_as_of:
        detail.update(as_of=certificate.as_of.isoformat(), future_as_of=True)
    audit.record_once(
        ctx.store,
        AuditAction.PURGE_OPEN,
        marker_key=_journal(certificate.run_id, AuditAction.PURGE_OPEN),
        at=certificate.opened_at,
        actor=ctx.actor,
        key=ctx.hmac_key,
        detail=detail,
        match={"certificate": certificate.run_id},
    )


def _audit_closed(ctx: RetentionContext, closed: Certificate) -> None:
    """The purge entry, once; then the run's journal goes (every entry of the certificate is logged)."""
    audit_opened(ctx, closed)
    audit.record_once(
        ctx.store,
        AuditAction.PURGE,
        marker_key=_journal(closed.run_id, AuditAction.PURGE),
        at=closed.closed_at or ctx.now(),
        actor=ctx.actor,
        key=ctx.hmac_key,
        detail={
            "certificate": closed.run_id,
            "records": closed.purged_count,
            "files": len(closed.files),
            "retained": sum(r.records for r in closed.retained),
            "replanned": len(closed.replanned),
        },
        match={"certificate": closed.run_id},
    )
    delete_prefix(ctx.store, folder_prefix(journal_prefix(closed.run_id)))


def finish_journals(ctx: RetentionContext) -> None:
    """Log what a killed run did not (its certificate closed, the entry missing), and drop journals of
    runs that died before their certificate was written."""
    store = ctx.store
    runs = sorted({run for key in store.list_keys(folder_prefix(RETENTION_JOURNAL)) if (run := journal_run(key))})
    for run_id in runs:
        if store.exists(certificate_key(run_id)):
            _audit_closed(ctx, Certificate.model_validate_json(store.get_bytes(certificate_key(run_id))))
        elif not store.exists(certificate_key(run_id, open_=True)):
            delete_prefix(store, folder_prefix(journal_prefix(run_id)))


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
    link_closed_certificates(store, hmac_key=ctx.hmac_key)
    _audit_closed(ctx, closed)
    return closed


def link_closed_certificates(store: ObjectStore, *, hmac_key: bytes | None = None) -> None:
    """Give every closed certificate that no chain link names its link (repairs a crash after closing).

    Each link is sealed when `hmac_key` (KAKUNIN_HMAC_KEY) is given, see `kakunin.lineage.seal`.
    """
    chain = Chain(store, CERTIFICATE_CHAIN)
    linked = {CertificateLink.model_validate_json(data).certificate_key for _, data in chain.entries()}
    for key in sorted(store.list_keys(folder_prefix(CERTIFICATES))):
        if closed_certificate_run(key) is None or key in linked:
            continue
        data = store.get_bytes(key)

        def link(sequence: int, previous: str | None, key: str = key, data: bytes = data) -> bytes:
            entry = CertificateLink(
                sequence=sequence, previous=previous, certificate_key=key, certificate_sha256=sha256_bytes(data)
            )
            return seal.entry_bytes(entry, hmac_key)

        chain.append(link)


def open_certificates(store: ObjectStore) -> list[Certificate]:
    """Certificates opened by a run that did not close them (oldest first)."""
    keys = set(store.list_keys(folder_prefix(CERTIFICATES)))
    opened = {key: run for key in keys if (run := open_certificate_run(key)) is not None}
    return [
        Certificate.model_validate_json(store.get_bytes(key))
        for key in sorted(opened)
        if certificate_key(opened[key]) not in keys
    ]
