"""`kakunin intake run`: every pending batch through the same six steps the DAG runs, in one process."""

from __future__ import annotations

import json

from pydantic import BaseModel

from kakunin.batches import REJECTION_FILE, Rejection, short_rule_name
from kakunin.intake.steps import STEPS, BatchRef, IntakeContext, StepOutcome, find_pending
from kakunin.lineage.formats import ManifestHeader, manifest_prefix


class BatchResult(BaseModel):
    """One line of the intake summary."""

    batch: str
    decision: str
    received: int | None
    published: int | None
    quarantined: int | None
    codes: list[str]
    steps: list[StepOutcome]


def run_batch(ref: BatchRef, ctx: IntakeContext) -> BatchResult:
    """Run (or finish) one batch; a step that already ran is skipped, so this repairs a half-done batch."""
    outcomes = [step(ref, ctx) for _, step in STEPS]
    return summarise(ref, ctx, outcomes)


def summarise(ref: BatchRef, ctx: IntakeContext, outcomes: list[StepOutcome]) -> BatchResult:
    store = ctx.store
    if store.exists(ref.quarantine(REJECTION_FILE)):
        rejection = Rejection.model_validate_json(store.get_bytes(ref.quarantine(REJECTION_FILE)))
        codes = sorted({f.code.value for f in rejection.findings if f.severity == "error"})
        return BatchResult(
            batch=str(ref),
            decision=f"rejected ({rejection.stage})",
            received=None,
            published=0,
            quarantined=None,
            codes=codes,
            steps=outcomes,
        )
    header = ManifestHeader.model_validate_json(
        store.get_bytes(f"{manifest_prefix(ref.dataset, ref.batch_id)}/manifest.json")
    )
    warnings = ["parse.value"] if header.counts.parse_failed else []
    warnings += [short_rule_name(r.rule) for r in header.gx.rules if not r.success]
    return BatchResult(
        batch=str(ref),
        decision="published",
        received=header.counts.received,
        published=header.counts.published,
        quarantined=header.counts.quarantined,
        codes=warnings,
        steps=outcomes,
    )


def run_intake(ctx: IntakeContext, *, batch_id: str | None = None) -> list[BatchResult]:
    """Every pending batch (or just `batch_id`), oldest first."""
    pending = find_pending(ctx.store)
    if batch_id is not None:
        pending = [ref for ref in pending if ref.batch_id == batch_id]
    return [run_batch(ref, ctx) for ref in pending]


def results_json(results: list[BatchResult]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in results], ensure_ascii=False, indent=2)
