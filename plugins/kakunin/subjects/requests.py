"""The request register as staff use it: register a request, take one up for an action, close it.

Every action on a person's data (開示, 利用停止, …) answers a request with a received date
and a deadline, so the register can show what was late. An action given `--request ID`
answers that request; without it, the action registers one itself (received today) and
closes it when done. Each step is an audit entry with ids and counts, never an identifier.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kakunin import audit
from kakunin.clock import local_date
from kakunin.errors import InputError
from kakunin.lineage.formats import AuditAction
from kakunin.storage import ObjectStore
from kakunin.subjects.find import FoundRecord
from kakunin.subjects.formats import IdentifierDigest, Regime, RequestClosing, RequestKind, SubjectRequest
from kakunin.subjects.register import (
    DuePolicy,
    RequestStatus,
    new_id,
    regime_of,
    request_of,
    request_statuses,
    write_closing,
    write_request,
)

REQUEST_PREFIX = "SR"


def regimes_of(records: list[FoundRecord]) -> set[Regime]:
    """The regime of each record reached: GDPR for EU-origin records, APPI for the others (and for none)."""
    return {regime_of(r.eu_origin) for r in records} or {Regime.APPI}


def build_request(
    kind: RequestKind,
    *,
    identifiers: list[IdentifierDigest],
    records: list[FoundRecord],
    reference: str,
    received_on: date,
    policy: DuePolicy,
    actor: str,
    now: datetime,
) -> SubjectRequest:
    """A request as received: its deadline is the earliest of the regimes its records fall under."""
    if not reference.strip():
        raise InputError("--reference must name the request (a letter or ticket number, no personal data)")
    if received_on > local_date(now):
        raise InputError(f"--received-on {received_on} is in the future")
    regimes = regimes_of(records)
    return SubjectRequest(
        request_id=new_id(REQUEST_PREFIX, now),
        request=kind,
        received_on=received_on,
        due_on=policy.due_on(received_on, regimes),
        regimes=sorted(regimes),
        identifiers=identifiers,
        record_ids=sorted({r.record_id for r in records}),
        reference=reference.strip(),
        requested_by=actor,
        recorded_at=now,
    )


def register(store: ObjectStore, request: SubjectRequest) -> SubjectRequest:
    """Write the request and its audit entry."""
    write_request(store, request)
    audit.record(
        store,
        AuditAction.SUBJECT_REQUEST,
        at=request.recorded_at,
        actor=request.requested_by,
        record_ids=request.record_ids,
        detail={
            "request_id": request.request_id,
            "request": request.request.value,
            "step": "registered",
            "received_on": request.received_on.isoformat(),
            "due_on": request.due_on.isoformat(),
            "records": len(request.record_ids),
        },
    )
    return request


def open_request(store: ObjectStore, request_id: str, kind: RequestKind, *, today: date) -> SubjectRequest:
    """The open request `request_id` of `kind`; `InputError` when it is unknown, of another kind, or closed."""
    request = request_of(store, request_id.strip())
    if request is None:
        raise InputError(f"no request {request_id!r} in the register (see `kakunin subject requests`)")
    if request.request is not kind:
        raise InputError(f"request {request_id} asks for {request.request.value}, not {kind.value}")
    status = status_of(store, request.request_id, today=today)
    if status is not None and status.state != "open":
        raise InputError(f"request {request_id} is already closed ({status.closed_at:%Y-%m-%d}: {status.outcome})")
    return request


def status_of(store: ObjectStore, request_id: str, *, today: date) -> RequestStatus | None:
    return next((s for s in request_statuses(store, today=today) if s.request.request_id == request_id), None)


def close(store: ObjectStore, request: SubjectRequest, *, outcome: str, actor: str, now: datetime) -> RequestClosing:
    """Close the request with what was done (no personal data) and log it."""
    closing = RequestClosing(request_id=request.request_id, closed_at=now, closed_by=actor, outcome=outcome)
    write_closing(store, closing)
    audit.record(
        store,
        AuditAction.SUBJECT_REQUEST,
        at=now,
        actor=actor,
        record_ids=request.record_ids,
        detail={
            "request_id": request.request_id,
            "request": request.request.value,
            "step": "closed",
            "late": local_date(now) > request.due_on,
        },
    )
    return closing


def status_json(status: RequestStatus) -> dict[str, Any]:
    """One line of `subject requests --json`."""
    request = status.request
    return {
        "request_id": request.request_id,
        "request": request.request.value,
        "reference": request.reference,
        "received_on": request.received_on.isoformat(),
        "due_on": request.due_on.isoformat(),
        "regimes": [r.value for r in request.regimes],
        "state": status.state,
        "closed_at": status.closed_at.isoformat() if status.closed_at else None,
        "outcome": status.outcome,
        "overdue": status.overdue,
        "closed_late": status.closed_late,
        "records": len(request.record_ids),
    }


def requests_text(statuses: list[RequestStatus]) -> str:
    """The register as a table staff read."""
    if not statuses:
        return "no requests in the register\n"
    head = f"{'request':<31} {'kind':<9} {'received':<10} {'due':<10} {'state':<6} {'closed':<10} {'flag':<8} records"
    lines = [head]
    for status in statuses:
        request = status.request
        flag = "OVERDUE" if status.overdue else "late" if status.closed_late else "-"
        closed = f"{status.closed_at:%Y-%m-%d}" if status.closed_at else "-"
        lines.append(
            f"{request.request_id:<31} {request.request.value:<9} {request.received_on} {request.due_on} "
            f"{status.state:<6} {closed:<10} {flag:<8} {len(request.record_ids)}"
        )
    return "\n".join(lines) + "\n"
