"""A reviewer's sign-off of a day's review report: written once, naming the report's bytes as read.

The reviewer may not sign off a day on which they themselves have anomalies (自己承認): someone
else must look at those. `sign_off_refusal` is the pure decision; `sign_off` does the I/O.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kakunin import audit
from kakunin.audit.formats import ReviewReport, SignOff
from kakunin.clock import local_date
from kakunin.codes import ReasonCode
from kakunin.errors import KakuninError, StorageError, StorageNotFound
from kakunin.hashing import sha256_bytes
from kakunin.layout import review_key, sign_off_key
from kakunin.lineage.formats import AuditAction
from kakunin.storage import ObjectStore, load
from kakunin.yaml_io import dump_json

__all__ = ["ReviewStatus", "SignOffRefused", "review_statuses", "sign_off", "sign_off_refusal"]

EXIT_REFUSED = 1


class SignOffRefused(KakuninError):
    """A sign-off that may not be written (already signed, or the reviewer's own anomalies); exit 1."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = EXIT_REFUSED


def sign_off_refusal(report: ReviewReport, *, by: str, already_signed: bool) -> SignOffRefused | None:
    """Why `by` may not sign `report` off, or None when they may."""
    if already_signed:
        return SignOffRefused(
            f"report {report.report_id} is already signed off: a sign-off is written once", code="already_signed"
        )
    own = [a for a in report.anomalies if a.actor.strip().casefold() == by.strip().casefold()]  # E1024 is e1024
    if own:
        kinds = ", ".join(sorted({a.kind.value for a in own}))
        return SignOffRefused(
            f"{by} has {len(own)} anomaly(ies) of their own on {report.day} ({kinds}): another reviewer must "
            "sign this report off (自己承認 is not allowed)",
            code=ReasonCode.FOUR_EYES.value,
        )
    return None


def sign_off(store: ObjectStore, report_id: str, *, by: str, note: str, now: datetime) -> SignOff:
    """Write the sign-off of `report_id` once (the report's sha256 as read) and log AUDIT_SIGN_OFF."""
    key = review_key(report_id)
    if not store.exists(key):
        raise StorageNotFound(f"no review report {report_id} (see `kakunin audit reviews`)")
    data = store.get_bytes(key)
    try:
        report = ReviewReport.model_validate_json(data)
    except ValidationError as exc:
        raise StorageError(f"{key} is not a review report; run `kakunin lineage verify`") from exc
    refusal = sign_off_refusal(report, by=by, already_signed=store.exists(sign_off_key(report_id)))
    if refusal is not None:
        raise refusal
    signed = SignOff(
        report_id=report_id,
        report_sha256=sha256_bytes(data),
        signed_by=by,
        signed_by_authenticated_by=audit.vouched_for(by),
        signed_at=now,
        note=note,
    )
    if not store.put_bytes_if_absent(sign_off_key(report_id), dump_json(signed)):
        raise SignOffRefused(
            f"report {report_id} was signed off meanwhile: a sign-off is written once", code="already_signed"
        )
    audit.record(
        store,
        AuditAction.AUDIT_SIGN_OFF,
        at=now,
        actor=by,
        document_id=report_id,
        detail={"day": report.day.isoformat(), "report_sha256": signed.report_sha256},
    )
    return signed


class ReviewStatus(BaseModel):
    """One line of `kakunin audit reviews`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str
    day: date
    verified: bool
    anomalies: int
    status: Literal["signed", "unsigned", "overdue"]
    sign_off_due: date
    signed_late: bool = False  # signed off, but after sign_off_due (in the business time zone)
    signed_by: str | None = None
    signed_at: datetime | None = None


def review_statuses(store: ObjectStore, *, today: date) -> list[ReviewStatus]:
    """Every report with its status: signed, unsigned (still due), overdue (past due, unsigned)."""
    from kakunin.audit.review import reviews

    found = []
    for report in reviews(store):
        signed: SignOff | None = None
        if store.exists(sign_off_key(report.report_id)):
            try:
                signed = load(store, sign_off_key(report.report_id), SignOff)
            except ValidationError:
                signed = None
        status: Literal["signed", "unsigned", "overdue"] = (
            "signed" if signed else "overdue" if today > report.sign_off_due else "unsigned"
        )
        found.append(
            ReviewStatus(
                report_id=report.report_id,
                day=report.day,
                verified=report.verified,
                anomalies=len(report.anomalies),
                status=status,
                sign_off_due=report.sign_off_due,
                signed_by=signed.signed_by if signed else None,
                signed_at=signed.signed_at if signed else None,
                signed_late=signed is not None and local_date(signed.signed_at) > report.sign_off_due,
            )
        )
    return found
