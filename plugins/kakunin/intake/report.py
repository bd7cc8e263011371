"""What one intake run did to each of its batches: published, rejected (with reason codes) or unfinished.

Read back from the store after the steps ran (the rejection record in quarantine, the
manifest header in lineage), so the report says what is durable, not what a task logged.
The DAG's `report` task writes it to the run note and hands it to a notifier; the text
names batches, stages and reason codes only, never personal data.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from kakunin.batches import Rejection
from kakunin.layout import BatchRef
from kakunin.lineage.formats import ManifestHeader
from kakunin.storage import ObjectStore, load


class BatchState(StrEnum):
    PUBLISHED = "published"
    REJECTED = "rejected"
    UNFINISHED = "unfinished"  # neither: a step failed or another worker still holds it


class BatchResult(BaseModel):
    batch: str
    dataset: str
    state: BatchState
    stage: str | None = None  # where a rejected batch was refused: provenance, parse or accuracy
    codes: list[str] = []
    received: int | None = None
    published: int | None = None
    quarantined: int | None = None


class IntakeReport(BaseModel):
    batches: list[BatchResult]

    def of(self, state: BatchState) -> list[BatchResult]:
        return [b for b in self.batches if b.state is state]

    def headline(self) -> str:
        """One line: how many batches ended which way."""
        counts = {state: len(self.of(state)) for state in BatchState}
        parts = [f"{counts[s]} {s.value}" for s in BatchState if counts[s] or s is not BatchState.UNFINISHED]
        return f"kakunin_intake: {len(self.batches)} batch(es): " + ", ".join(parts)

    def note(self) -> str:
        """The run note (Markdown): the headline, then every rejected or unfinished batch on its own line."""
        lines = [self.headline()]
        rejected = self.of(BatchState.REJECTED)
        if rejected:
            lines += ["", "Rejected:"]
            lines += [f"- `{b.batch}` at {b.stage}: {', '.join(b.codes) or 'no code'}" for b in rejected]
        unfinished = self.of(BatchState.UNFINISHED)
        if unfinished:
            lines += ["", "Unfinished (the next run resumes them):"]
            lines += [f"- `{b.batch}`" for b in unfinished]
        return "\n".join(lines)


def batch_result(store: ObjectStore, ref: BatchRef) -> BatchResult:
    """Where one batch stands now, from its rejection record or its manifest header."""
    if store.exists(ref.rejection):
        rejection = load(store, ref.rejection, Rejection)
        codes = sorted({f.code.value for f in rejection.findings})
        return BatchResult(
            batch=str(ref), dataset=ref.dataset, state=BatchState.REJECTED, stage=rejection.stage, codes=codes
        )
    if store.exists(ref.manifest_header):
        counts = load(store, ref.manifest_header, ManifestHeader).counts
        return BatchResult(
            batch=str(ref),
            dataset=ref.dataset,
            state=BatchState.PUBLISHED,
            received=counts.received,
            published=counts.published,
            quarantined=counts.quarantined,
        )
    return BatchResult(batch=str(ref), dataset=ref.dataset, state=BatchState.UNFINISHED)


def build_report(store: ObjectStore, refs: list[BatchRef]) -> IntakeReport:
    """The report of a run over `refs` (the batches it found pending)."""
    return IntakeReport(batches=[batch_result(store, ref) for ref in refs])
