"""Batches as a web user sees them: the functions the acquisition API and its pages share.

Acquisition staff see the batches they submitted, plus the others' batches they may approve
(pending, not yet approved, submitted by someone else: four eyes needs them to see what they
sign) or approved while pending; anybody else's batch is "not found" to them, so an id does not reveal that it exists.
Auditors and engineers see every batch. Who submitted a batch comes from `_submission.json`
or `rejection.json`, and once intake has moved it on, from the audit log's `submit` entry.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kakunin import audit, clock
from kakunin.approvals import Approval, approve, read_approval, with_awaiting
from kakunin.audit.log import LogFilter, entries
from kakunin.batches import BatchSummary, Rejection, Submission, list_batches
from kakunin.contracts import Registry
from kakunin.errors import StorageNotFound
from kakunin.layout import BatchRef
from kakunin.lineage.formats import AuditAction
from kakunin.provenance.findings import Finding
from kakunin.storage import ObjectStore, load
from kakunin.web.auth import WebUser
from kakunin.web.roles import Role
from kakunin.web.settings import WebPorts
from kakunin.web.uploads import Upload, UploadResult, submit_upload

APPROVABLE = frozenset({"pending", "awaiting_approval"})


class BatchView(BatchSummary):
    """One batch as `kakunin batches` lists it, with its approval and what the caller may do with it."""

    awaiting_approval: bool = Field(
        description="intake leaves it in landing until a second user approves it (intake-policy.yaml)"
    )
    approved_by: str | None = Field(default=None, description="the user who approved it, once approved")
    may_approve: bool = Field(
        default=False, description="whether the caller may approve it: pending, not yet approved, not their own"
    )


class BatchList(BaseModel):
    """`GET /kakunin/api/batches`: the batches the caller may see, oldest first."""

    batches: list[BatchView]


class BatchDetail(BatchView):
    """`GET /kakunin/api/batches/{batch_id}`: one batch with the findings the gate recorded for it."""

    findings: list[Finding] = Field(
        description="the gate's findings: warnings of an accepted batch, the reasons of a rejected one "
        "(a published batch's are in its manifest: see reason_codes)"
    )
    submitted_at: datetime | None = None
    rejected_at: datetime | None = None


class RunStarted(BaseModel):
    """`POST /kakunin/api/intake-runs`: the `kakunin_intake` run just started."""

    run_id: str


class IntakeNotWired(Exception):
    """The app was mounted without a way to start DAG runs (a test app, or Airflow without the plugin's port)."""


def sees_all(user: WebUser) -> bool:
    return user.has(Role.AUDITOR, Role.ENGINEER)


def _submitters(store: ObjectStore) -> dict[str, str]:
    """Batch id → the actor of its `submit` audit entry (for batches whose landing folder intake has cleared)."""
    return {e.batch_id: e.actor for e in entries(store, LogFilter(action=AuditAction.SUBMIT.value)) if e.batch_id}


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.strip().casefold() == b.strip().casefold()


def all_batches(store: ObjectStore, user: WebUser) -> list[BatchView]:
    """Every batch in the store with its submitter, approval state and whether `user` may approve it."""
    summaries = with_awaiting(store, list_batches(store))
    submitters = _submitters(store) if any(b.submitted_by is None for b in summaries) else {}
    views: list[BatchView] = []
    for summary in summaries:
        submitted_by = summary.submitted_by or submitters.get(summary.batch_id)
        approval = (
            read_approval(store, BatchRef(summary.dataset, summary.batch_id)) if summary.state in APPROVABLE else None
        )
        may = (
            user.has(Role.ACQUISITION)
            and summary.state in APPROVABLE
            and approval is None
            and submitted_by is not None
            and not _same(submitted_by, user.name)
        )
        views.append(
            BatchView(
                **{**summary.model_dump(), "submitted_by": submitted_by},
                awaiting_approval=summary.state == "awaiting_approval",
                approved_by=approval.approved_by if approval else None,
                may_approve=may,
            )
        )
    return views


def _visible(view: BatchView, user: WebUser) -> bool:
    mine = _same(view.submitted_by, user.name) or _same(view.approved_by, user.name)
    return sees_all(user) or mine or view.may_approve


def own_batches(store: ObjectStore, user: WebUser) -> list[BatchView]:
    """What `/batches` lists: acquisition staff their own submissions, auditors and engineers every batch."""
    found = all_batches(store, user)
    return found if sees_all(user) else [b for b in found if _same(b.submitted_by, user.name)]


def to_approve(store: ObjectStore, user: WebUser) -> list[BatchView]:
    """Other users' pending batches `user` may approve (four eyes), oldest first."""
    return [b for b in all_batches(store, user) if b.may_approve]


def one_batch(store: ObjectStore, user: WebUser, batch_id: str) -> BatchDetail:
    """The batch with its findings; `StorageNotFound` when there is none or `user` may not see it."""
    view = next((b for b in all_batches(store, user) if b.batch_id == batch_id), None)
    if view is None or not _visible(view, user):
        raise StorageNotFound("no such batch among those you may see")  # the same words whether it exists or not
    ref = BatchRef(view.dataset, view.batch_id)
    findings: list[Finding] = []
    submitted_at = rejected_at = None
    if view.state == "rejected" and store.exists(ref.rejection):
        rejection = load(store, ref.rejection, Rejection)
        findings, rejected_at = rejection.findings, rejection.rejected_at
    elif view.state in APPROVABLE and store.exists(ref.submission):
        submission = load(store, ref.submission, Submission)
        findings, submitted_at = submission.findings, submission.submitted_at
    return BatchDetail(**view.model_dump(), findings=findings, submitted_at=submitted_at, rejected_at=rejected_at)


def approve_batch(store: ObjectStore, user: WebUser, batch_id: str, *, note: str | None) -> Approval:
    """The acting user approves a batch they can see; `NotApprovable` (logged) for their own or a decided one.

    Call it inside `user.acting()`: the approval and its audit entry name the user.
    """
    batch = one_batch(store, user, batch_id)
    summary = BatchSummary(**batch.model_dump(include=set(BatchSummary.model_fields)))
    return approve(store, summary, note=note, now=clock.now_utc())


def upload(ports: WebPorts, *, document: Upload, data: Upload, evidence: list[Upload]) -> UploadResult:
    """Check an uploaded batch and land it when accepted. Call it inside `user.acting()`."""
    settings = ports.settings()
    return submit_upload(
        document=document,
        data=data,
        evidence=evidence,
        store=ports.store(),
        registry=Registry(settings.expectations_root),
        today=clock.today(),
        now=clock.now_utc(),
        max_evidence=settings.max_evidence_files,
    )


def trigger_intake(ports: WebPorts, user: WebUser) -> RunStarted:
    """Start a `kakunin_intake` run as `user` and log it; `IntakeNotWired` when the app cannot start runs.

    Call it inside `user.acting()`: the `trigger` entry names the user.
    """
    if ports.trigger_intake is None:
        raise IntakeNotWired("this Kakunin app cannot start Airflow runs; ask an engineer to run kakunin_intake")
    run_id = ports.trigger_intake(user=user.name)
    audit.record(
        ports.store(),
        AuditAction.TRIGGER,
        at=clock.now_utc(),
        detail={"dag": "kakunin_intake", "run_id": run_id, "via": "web"},
    )
    return RunStarted(run_id=run_id)
