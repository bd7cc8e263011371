"""Entrusted data stays apart (委託, APPI Art. 27(5)(i)): intake's own guard, after the provenance gate's checks.

Data a client entrusted to us may be handled only on its instructions, so it lives in
datasets of its own: a dataset whose contract allows `entrusted_processing` and nothing
else (`jp_entrusted_mailing`). The gate's `ground.entrustment` already refuses an
entrusted document with other purposes; this guard judges the batch against the contract
it is about to be published into, at the gate and again at publish (a contract may change
while a batch is in flight), so entrusted records can never reach a table of our own, and
our own data never reaches an entrusted table, where retention returns everything at the
client's `return_by`.
"""

from __future__ import annotations

from kakunin.codes import ReasonCode
from kakunin.contracts import DatasetContract
from kakunin.intake.context import IntakeContext, StepOutcome, StepStatus
from kakunin.intake.outcomes import reject, remove_staged
from kakunin.layout import BatchRef
from kakunin.lineage.formats import ENTRUSTED_PROCESSING
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import LegalGround, ProvenanceDocument


def misplaced_entrusted(document: ProvenanceDocument, contract: DatasetContract) -> Finding | None:
    """Why the batch may not be published into `contract`'s dataset, or None when entrusted data stays apart."""
    entrusted = document.legal_ground is LegalGround.ENTRUSTMENT
    allowed = ", ".join(contract.allowed_purposes)
    if entrusted and contract.allowed_purposes != [ENTRUSTED_PROCESSING]:
        return Finding.of(
            ReasonCode.GROUND_ENTRUSTMENT,
            "dataset",
            f"entrusted data (委託) is published only to a dataset whose contract allows {ENTRUSTED_PROCESSING} "
            f"alone, such as jp_entrusted_mailing; {contract.dataset} allows [{allowed}]",
        )
    if not entrusted and ENTRUSTED_PROCESSING in contract.allowed_purposes:
        return Finding.of(
            ReasonCode.GROUND_ENTRUSTMENT,
            "legal_ground",
            f"{contract.dataset} holds entrusted data (委託, purpose {ENTRUSTED_PROCESSING}): only batches under "
            f"ground entrustment are published to it; this batch's ground is {document.legal_ground.value}",
        )
    return None


def refuse_misplaced(
    ref: BatchRef,
    ctx: IntakeContext,
    document: ProvenanceDocument,
    document_sha256: str | None,
    *,
    uncommitted: list[str] | None = None,
) -> StepOutcome | None:
    """Reject the whole batch if it would mix entrusted data with ours; else None.

    At the gate nothing is staged yet; at publish (`uncommitted`: the batch's curated files,
    which no commit names yet) the staged files and any already renamed are removed first.
    """
    finding = misplaced_entrusted(document, ctx.contract(ref))
    if finding is None:
        return None
    step = "gate" if uncommitted is None else "publish"
    remove_staged(ref, ctx.store)
    for key in uncommitted or []:
        if ctx.store.exists(key):
            ctx.store.delete(key)
    reject(
        ref,
        ctx,
        stage="provenance",
        findings=[finding],
        document_id=document.document_id,
        document_sha256=document_sha256,
    )
    return StepOutcome(batch=str(ref), step=step, status=StepStatus.REJECTED, detail=finding.code.value)
