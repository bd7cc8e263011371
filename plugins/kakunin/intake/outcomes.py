"""How a batch leaves intake: rejected to quarantine, or cleared away once its lineage is linked.

Both ends log their audit entry exactly once and remove what they remove in an order a
rerun can finish, so a crash anywhere in here is repaired by the next run. `skip` judges
a step by the batch's furthest durable state, so no step ever runs again behind it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from kakunin import audit
from kakunin.approvals import approval_detail
from kakunin.batches import RejectedProvider, Rejection
from kakunin.hashing import sha256_bytes
from kakunin.intake.context import IntakeContext, StepOutcome, StepStatus
from kakunin.intake.work import CURATED_COMPRESSION, FAILED_ROWS, gate_record, is_linked, is_rejected
from kakunin.layout import BatchRef, batch_prefix, parse_curated_key
from kakunin.lineage.formats import AuditAction, ManifestHeader
from kakunin.provenance.findings import Finding
from kakunin.storage import ObjectStore, delete_prefix
from kakunin.yaml_io import dump_json

log = logging.getLogger(__name__)


def reject(
    ref: BatchRef,
    ctx: IntakeContext,
    *,
    stage: Literal["provenance", "parse", "accuracy"],
    findings: list[Finding],
    document_id: str | None,
    document_sha256: str | None,
    provider: RejectedProvider | None = None,
    failed_rows: pa.Table | None = None,
) -> None:
    """Move the whole batch to quarantine with its findings; nothing of it is published.

    The decision is written first and the files moved after, `_submission.json` last, so a
    crash midway leaves a batch that is already rejected and whose move any later step
    finishes (`finish_rejection`).
    """
    store = ctx.store
    ctx.renew_lease()
    audit.prepare_once(store, ref.audit_marker(AuditAction.REJECT))
    if failed_rows is not None and failed_rows.num_rows:
        with store.writing(ref.quarantine(FAILED_ROWS)) as path:
            pq.write_table(failed_rows, path, compression=CURATED_COMPRESSION)
    rejection = Rejection(
        batch_id=ref.batch_id,
        dataset=ref.dataset,
        document_id=document_id,
        document_sha256=document_sha256,
        stage=stage,
        rejected_at=ctx.now(),
        findings=findings,
        provider=provider,
    )
    store.put_bytes(ref.rejection, dump_json(rejection))
    ctx.maybe_fail("rejection-written")
    finish_rejection(ref, ctx)
    log.info("batch %s rejected at %s: %s", ref, stage, ", ".join(sorted({f.code.value for f in findings})))


def finish_rejection(ref: BatchRef, ctx: IntakeContext) -> None:
    """Log the rejection (once), clear the work files, move what is left from landing to quarantine.

    Every part is idempotent, so a rerun after a crash anywhere in here finishes it.
    """
    store = ctx.store
    data = store.get_bytes(ref.rejection)
    rejection = Rejection.model_validate_json(data)
    _record_once(
        ref,
        ctx,
        AuditAction.REJECT,
        at=ctx.now(),
        document_id=rejection.document_id,
        codes=sorted({f.code.value for f in rejection.findings}),
        detail={"stage": rejection.stage, "rejection_sha256": sha256_bytes(data)},  # verify checks it
    )
    delete_prefix(store, ref.work() + "/")
    keys = list(store.list_keys(ref.landing() + "/"))
    for key in [k for k in keys if k != ref.submission] + [k for k in keys if k == ref.submission]:
        store.rename(key, ref.quarantine(key[len(ref.landing()) + 1 :]))
    delete_prefix(store, ref.landing() + "/")


def clear_published(ref: BatchRef, ctx: IntakeContext) -> None:
    """After lineage: log the publication (once), remove stray staged files, then work files, then
    landing with `_submission.json` last (so a crash anywhere here is finished by a rerun)."""
    store = ctx.store
    audit_publish(ref, ctx)
    remove_staged(ref, store)
    delete_prefix(store, ref.work() + "/")
    for key in list(store.list_keys(ref.landing() + "/")):
        if key != ref.submission:
            store.delete(key)
    delete_prefix(store, ref.landing() + "/")


def remove_staged(ref: BatchRef, store: ObjectStore) -> int:
    """Delete the batch's staged (`_pending-*`) curated files; returns how many there were."""
    staged = []
    for key in store.list_keys(batch_prefix("curated", ref.dataset)):
        found = parse_curated_key(key)
        if found is not None and found.pending and found.ref == ref:
            staged.append(key)
    for key in staged:
        store.delete(key)
    return len(staged)


def skip(ref: BatchRef, ctx: IntakeContext, step: str, done_key: str) -> StepOutcome | None:
    """The outcome of a step that has nothing to do, judged by the batch's furthest durable state.

    A later state means this step is done even if its own output was already cleared away:
    a published batch whose cleanup was cut short is never gated, parsed or rejected again.
    """
    store = ctx.store
    if is_rejected(ref, store):
        finish_rejection(ref, ctx)
        return StepOutcome(batch=str(ref), step=step, status=StepStatus.SKIPPED)
    committed = step != "publish" and store.exists(ref.commit)
    if committed or is_linked(ref, store):
        return StepOutcome(batch=str(ref), step=step, status=StepStatus.ALREADY_DONE)
    if store.exists(done_key):
        if step == "gate":
            audit_accept(ref, ctx)
        return StepOutcome(batch=str(ref), step=step, status=StepStatus.ALREADY_DONE)
    return None


def _record_once(
    ref: BatchRef,
    ctx: IntakeContext,
    action: AuditAction,
    *,
    at: datetime,
    document_id: str | None,
    codes: list[str],
    detail: audit.Detail,
) -> None:
    """The batch's audit entry for `action`, once (its marker says whether it is due)."""
    audit.record_once(
        ctx.store,
        action,
        marker_key=ref.audit_marker(action),
        at=at,
        actor=ctx.actor,
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        document_id=document_id,
        codes=codes,
        detail=detail,
        key=ctx.hmac_key,
    )


def audit_accept(ref: BatchRef, ctx: IntakeContext) -> None:
    """The accept entry, once (the gate's warnings are its codes)."""
    record, document = gate_record(ref, ctx.store)
    _record_once(
        ref,
        ctx,
        AuditAction.ACCEPT,
        at=ctx.now(),
        document_id=document.document_id,
        codes=list(dict.fromkeys(f.code.value for f in record.findings if f.severity == "warning")),
        detail={"stage": "provenance", **approval_detail(ctx.store, ref)},
    )


def audit_publish(ref: BatchRef, ctx: IntakeContext) -> None:
    """The publish entry, once; its detail comes from the linked header (the work files may be gone)."""
    store = ctx.store
    if not store.exists(ref.audit_marker(AuditAction.PUBLISH)):
        return
    data = store.get_bytes(ref.manifest_header)
    header = ManifestHeader.model_validate_json(data)
    record, _ = gate_record(ref, store)
    _record_once(
        ref,
        ctx,
        AuditAction.PUBLISH,
        at=header.created_at,
        document_id=header.provenance_document_id,
        codes=[f.code.value for f in record.findings] + (["subject.erased"] if header.counts.erased else []),
        detail={
            "manifest": ref.manifest_header,
            "manifest_sha256": sha256_bytes(data),
            "received": header.counts.received,
            "published": header.counts.published,
            "quarantined": header.counts.quarantined,
            **subjects_detail(header),
        },
    )


def subjects_detail(header: ManifestHeader) -> audit.Detail:
    """The publish entry's data-subject counts: rows erased (when any) and the leaked-copy signal (when checked)."""
    detail: audit.Detail = {"erased": header.counts.erased} if header.counts.erased else {}
    if header.overlap is not None:
        detail |= {
            "overlap_rows": header.overlap.rows,
            "overlap_ratio": round(header.overlap.ratio, 4),
            "overlap_providers": header.overlap.providers,
        }
    return detail
