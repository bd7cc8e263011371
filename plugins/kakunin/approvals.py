"""Approval (承認) of a submitted batch by a second user, and the intake policy that asks for it.

The provenance document names its approver (`approved_by`), but anybody can type a name.
`kakunin provenance approve BATCH_ID` ties the approval to a user id instead: the approver is
the acting user (`kakunin.audit.current()`: the Airflow user where one vouches, else
self-declared), recorded once in `landing/<dataset>/<batch>/_approval.json` and in the audit
log (`approve`). Four eyes (二者確認): the approver may be neither the user who submitted the
batch nor the document's `submitted_by`; such an attempt is refused and logged
(`approve-refused`, code `four_eyes`).

`expectations/intake-policy.yaml` says whether intake waits for that approval:
`approval: document` (the default) takes the document's `approved_by` as today;
`approval: required` leaves an unapproved batch pending in landing (承認待ち) until approved;
`approval: authenticated` does too, and accepts only users Airflow vouches for on both sides (a
batch submitted and approved in the web app, or by DAG runs): a typed name approves nothing.
Either way the gate refuses a batch whose submitting user is the document's approver.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kakunin import audit
from kakunin.batches import BatchSummary, Submission
from kakunin.codes import ReasonCode
from kakunin.errors import KakuninError
from kakunin.keys import hmac_key_from_env
from kakunin.layout import BatchRef
from kakunin.lineage.formats import AuditAction
from kakunin.provenance.document import DOCUMENT_NAMES, read_document
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument
from kakunin.scratch import scratch_dir
from kakunin.storage import ObjectStore, load
from kakunin.yaml_io import dump_json

__all__ = [
    "APPROVAL_FILE",
    "AWAITING",
    "POLICY_FILE",
    "Approval",
    "IntakePolicy",
    "NotApprovable",
    "approval_detail",
    "approve",
    "awaiting_approval",
    "load_intake_policy",
    "read_approval",
    "refusal",
    "same_user",
    "self_approval",
    "unvouched",
    "with_awaiting",
]

APPROVAL_FILE = "_approval.json"
POLICY_FILE = "intake-policy.yaml"
AWAITING = "awaiting approval (承認待ち)"


class IntakePolicy(BaseModel):
    """`expectations/intake-policy.yaml`: what intake asks of a batch besides its document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approval: Literal["document", "required", "authenticated"] = Field(
        default="document",
        description="`document`: the document's approved_by is the approval; `required`: a second user must "
        "also approve (`kakunin provenance approve`, or the web app) before intake takes the batch in; "
        "`authenticated`: as required, and both the submitter and the approver must be Airflow users "
        "(the web app or a DAG run), never self-declared",
    )

    @property
    def needs_approval(self) -> bool:
        return self.approval != "document"


def load_intake_policy(expectations_root: Path) -> IntakePolicy:
    """The policy file if present, else the default (`approval: document`, today's behaviour)."""
    from kakunin.contracts import _load_model

    path = expectations_root / POLICY_FILE
    return _load_model(path, IntakePolicy) if path.exists() else IntakePolicy()


class Approval(BaseModel):
    """`_approval.json`: who approved the batch, vouched for by whom, when, and why (no personal data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    dataset: str
    approved_by: str = Field(description="the approving user's id")
    authenticated_by: str | None = Field(default=None, description="`airflow`, or null: self-declared")
    at: datetime
    note: str | None = None


class NotApprovable(KakuninError):
    """An approval refused: four eyes, already approved, or the batch is no longer pending."""

    code = "not_approvable"
    exit_code = 1


def same_user(a: str | None, b: str | None) -> bool:
    """Whether two user ids name the same person (case and surrounding blanks ignored)."""
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def refusal(
    *, approver: str, submission: Submission, document: ProvenanceDocument | None, earlier: Approval | None
) -> tuple[str, ReasonCode | None] | None:
    """Why `approver` may not approve this batch (message, code), or None when they may."""
    if earlier is not None:
        return (
            f"batch {submission.batch_id} was already approved by {earlier.approved_by} "
            f"at {earlier.at:%Y-%m-%d %H:%M} UTC",
            None,
        )
    if submission.submitted_by is None:  # submitted before submitters were recorded: nobody can tell who it was
        return (
            f"batch {submission.batch_id} does not record who submitted it, so no approval can show a second "
            "user (二者確認): submit it again",
            ReasonCode.FOUR_EYES,
        )
    if same_user(approver, submission.submitted_by):
        return (
            f"{approver} submitted batch {submission.batch_id}; a second, different user must approve (二者確認)",
            ReasonCode.FOUR_EYES,
        )
    if document is not None and same_user(approver, document.submitted_by):
        return (
            f"{approver} is the document's submitted_by; a second, different user must approve (二者確認)",
            ReasonCode.FOUR_EYES,
        )
    return None


def read_approval(store: ObjectStore, ref: BatchRef) -> Approval | None:
    key = ref.landing(APPROVAL_FILE)
    return load(store, key, Approval) if store.exists(key) else None


def _landed_document(store: ObjectStore, ref: BatchRef, submission: Submission) -> ProvenanceDocument | None:
    """The landed document as its model (None when it cannot be read: the gate reports that)."""
    name = submission.document_file
    if name not in DOCUMENT_NAMES or not store.exists(ref.landing(name)):
        return None
    with scratch_dir("approve") as tmp:
        path = Path(tmp) / name
        path.write_bytes(store.get_bytes(ref.landing(name)))
        return read_document(path).document


def unvouched(approver: audit.Actor, submission: Submission) -> str | None:
    """Why `approval: authenticated` refuses: a self-declared approver or submitter (None: both vouched for)."""
    if approver.self_declared:
        return (
            f"{approver.id} is self-declared here; the intake policy (approval: authenticated) takes approvals only "
            "from Airflow users: approve in the web app (/kakunin/batches/<batch id>)"
        )
    if submission.submitted_by_authenticated_by is None:
        return (
            f"batch {submission.batch_id} was submitted by a self-declared user ({submission.submitted_by}); the "
            "intake policy (approval: authenticated) needs a submitter Airflow vouches for: submit it in the web app"
        )
    return None


def approve(
    store: ObjectStore, batch: BatchSummary, *, note: str | None, now: datetime, policy: IntakePolicy | None = None
) -> Approval:
    """Record the acting user's approval of a pending batch, once; `NotApprovable` (logged) when refused.

    `policy` defaults to the one in the expectations folder.
    """
    if batch.state not in {"pending", "awaiting_approval"}:
        raise NotApprovable(
            f"batch {batch.batch_id} is {batch.state.replace('_', ' ')}, not pending: nothing to approve"
        )
    hmac_key_from_env()  # intake relies on the approval: its entries must be sealed (ConfigError without the key)
    ref = BatchRef(batch.dataset, batch.batch_id)
    submission = load(store, ref.submission, Submission)
    approver = audit.current()
    if policy is None:
        from kakunin.contracts import default_expectations_root

        policy = load_intake_policy(default_expectations_root())
    why = refusal(
        approver=approver.id,
        submission=submission,
        document=_landed_document(store, ref, submission),
        earlier=read_approval(store, ref),
    )
    if why is None and policy.approval == "authenticated":
        strict = unvouched(approver, submission)
        why = (strict, ReasonCode.FOUR_EYES) if strict is not None else None
    if why is not None:
        message, code = why
        if code is not None:
            _log(store, AuditAction.APPROVE_REFUSED, ref, submission, now=now, codes=[code.value])
        raise NotApprovable(message)
    approval = Approval(
        batch_id=ref.batch_id,
        dataset=ref.dataset,
        approved_by=approver.id,
        authenticated_by=approver.authenticated_by,
        at=now,
        note=note,
    )
    if not store.put_bytes_if_absent(ref.landing(APPROVAL_FILE), dump_json(approval)):
        raise NotApprovable(f"batch {ref.batch_id} was approved by someone else just now")  # a race: once only
    _log(store, AuditAction.APPROVE, ref, submission, now=now, detail={"note": note} if note else None)
    return approval


def _log(
    store: ObjectStore,
    action: AuditAction,
    ref: BatchRef,
    submission: Submission,
    *,
    now: datetime,
    codes: list[str] | None = None,
    detail: audit.Detail | None = None,
) -> None:
    """The approve (or approve-refused) entry: ids and codes only; the actor is the acting user."""
    audit.record(
        store,
        action,
        at=now,
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        document_id=submission.document_id,
        codes=codes,
        detail=detail,
    )


def awaiting_approval(store: ObjectStore, ref: BatchRef, policy: IntakePolicy) -> bool:
    """Whether intake must leave this landed batch pending: approval is required and not given yet."""
    return policy.needs_approval and read_approval(store, ref) is None


def with_awaiting(store: ObjectStore, batches: list[BatchSummary]) -> list[BatchSummary]:
    """`kakunin batches`: pending batches intake leaves in landing until approved, marked `awaiting_approval`."""
    from kakunin.contracts import default_expectations_root

    policy = load_intake_policy(default_expectations_root())
    return [
        b.model_copy(update={"state": "awaiting_approval"})
        if b.state == "pending" and awaiting_approval(store, BatchRef(b.dataset, b.batch_id), policy)
        else b
        for b in batches
    ]


def approval_detail(store: ObjectStore, ref: BatchRef) -> audit.Detail:
    """The approver's user id for the accept entry, when the batch was approved with `approve`."""
    approval = read_approval(store, ref)
    if approval is None:
        return {}
    return {"approved_by": approval.approved_by, "approved_by_authenticated_by": approval.authenticated_by}


def self_approval(submission: Submission, document: ProvenanceDocument | None) -> Finding | None:
    """A `four_eyes` finding when the user who submitted the batch is the approver the document names."""
    if document is None or not same_user(submission.submitted_by, document.approved_by):
        return None
    return Finding.of(
        ReasonCode.FOUR_EYES,
        "approved_by",
        f"approved_by is {submission.submitted_by}, the user who submitted the batch; "
        "a second, different employee must approve (二者確認)",
    )
