"""The auditors' (and engineers') API: trace, verify, the audit log, datasets, receipts, purges,
subject requests, exports. Each answer is what the matching CLI command's `--json` prints.

The routes are sync (`def`): they read the store and FastAPI runs them in a worker thread, so a
long verify never blocks the server. Every one that writes an audit entry does it as the user.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from kakunin import clock
from kakunin.contracts import Registry
from kakunin.lineage.trace import TraceAnswer
from kakunin.lineage.verify import VerifyReport
from kakunin.storage import ObjectStore
from kakunin.web import views
from kakunin.web.auth import WebUser, ports, requires, requires_change
from kakunin.web.roles import Role

router = APIRouter(prefix="/api", tags=["audit"])

Auditor = Annotated[WebUser, Depends(requires(Role.AUDITOR))]
AuditorChange = Annotated[WebUser, Depends(requires_change(Role.AUDITOR))]
Reader = Annotated[WebUser, Depends(requires(Role.AUDITOR, Role.ENGINEER))]


def store_of(request: Request) -> ObjectStore:
    return ports(request).store()


def registry_of(request: Request) -> Registry:
    return Registry(ports(request).settings().expectations_root)


@router.get(
    "/records/{record_id}",
    summary="Trace a record (as `kakunin lineage trace --json`)",
    responses={404: {"description": "no manifest holds the record"}, 400: {"description": "not a record id"}},
)
def trace_record(record_id: str, request: Request, user: Auditor) -> TraceAnswer:
    """Where the record came from, under which purposes and ground, until when, and where it is now.

    Written to the audit log as a TRACE by the user. An id no manifest holds answers 404 (the CLI
    refuses it too and writes no entry); a trace whose record is gone answers 200 with status
    `purged` or `missing`.
    """
    with user.acting():
        found = views.trace_record(
            store_of(request), registry_of(request), record_id, now=clock.now_utc(), where="/api/records"
        )
    return TraceAnswer.model_validate(found)


@router.post("/verify", summary="Verify the lineage now (as `kakunin lineage verify --json`)")
def verify_now(request: Request, user: AuditorChange) -> VerifyReport:
    """Every chain, file hash and record checked (keyed with KAKUNIN_HMAC_KEY when set); a VERIFY entry
    names the user. 200 whether or not the lineage is intact: see `intact` and `problems`."""
    with user.acting():
        return views.run_verify(
            store_of(request), registry_of(request), today=clock.today(), now=clock.now_utc(), where="/api/verify"
        )


class AuditLine(BaseModel):
    """One entry of `kakunin audit log --json`."""

    sequence: int
    at: datetime
    actor: str
    actor_authenticated_by: str | None
    action: str
    dataset: str | None
    batch_id: str | None
    document_id: str | None
    record_ids: list[str]
    codes: list[str]
    detail: dict[str, str | int | float | bool | None]
    self_declared: bool = Field(description="true when no authenticator vouches for the actor")


class AuditLog(BaseModel):
    count: int
    entries: list[AuditLine]


@router.get("/audit", summary="The audit log, filtered (as `kakunin audit log --json`)")
def audit_log(
    request: Request,
    user: Auditor,
    actor: Annotated[str | None, Query(max_length=200, description="only this actor (case ignored)")] = None,
    action: Annotated[str | None, Query(max_length=64, description="only this action (read, trace, ...)")] = None,
    from_day: Annotated[date | None, Query(alias="from", description="from this day (YYYY-MM-DD, inclusive)")] = None,
    to_day: Annotated[date | None, Query(alias="to", description="up to this day (inclusive)")] = None,
    dataset: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="only the newest N")] = None,
) -> AuditLog:
    """Oldest first (newest last); days in KAKUNIN_TIMEZONE. A bad filter (unknown action, from after to)
    answers 422 with the reason."""
    filters = log_filter(actor, action, from_day, to_day, dataset, limit)
    found = views.audit_entries(store_of(request), filters)
    return AuditLog(count=len(found), entries=[AuditLine.model_validate(e) for e in found])


def log_filter(
    actor: str | None,
    action: str | None,
    from_day: date | None,
    to_day: date | None,
    dataset: str | None,
    limit: int | None,
) -> Any:
    """The `LogFilter` of the form's fields (blank fields ignored); a 422 with the reason when it is not one."""
    from kakunin.audit.log import LogFilter

    def given(value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    try:
        return LogFilter(
            actor=given(actor),
            action=given(action),
            from_day=from_day,
            to_day=to_day,
            dataset=given(dataset),
            limit=limit,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ").replace("--from", "from").replace("--to", "to")
        where = ("query", *[str(p) for p in error.get("loc", ())]) if error.get("loc") else ("query",)
        raise RequestValidationError([{"loc": where, "msg": message, "type": "value_error"}]) from exc


class Datasets(BaseModel):
    datasets: list[views.DatasetCounts]


@router.get("/datasets", summary="Live records per dataset by provider, purpose and expiry month")
def datasets(request: Request, user: Reader) -> Datasets:
    """Counts only (no record, no personal data), from the lineage manifests less the purged records."""
    return Datasets(datasets=views.dataset_counts(store_of(request)))


class Receipts(BaseModel):
    count: int
    receipts: list[views.ReceiptLine]


@router.get("/receipts", summary="Receipt records (確認記録) of published batches")
def receipts(request: Request, user: Auditor) -> Receipts:
    found = views.receipts(store_of(request))
    return Receipts(count=len(found), receipts=found)


class Certificates(BaseModel):
    count: int
    certificates: list[views.CertificateLine]


@router.get("/certificates", summary="Purge certificates (削除証明)")
def certificates(request: Request, user: Auditor) -> Certificates:
    found = views.certificates(store_of(request))
    return Certificates(count=len(found), certificates=found)


class SubjectRequests(BaseModel):
    requests: list[views.SubjectRequestLine]


@router.get("/subject-requests", summary="Data-subject requests with their deadlines (as `subject requests --json`)")
def subject_requests(request: Request, user: Reader) -> SubjectRequests:
    """The register (ids, kinds, dates, states, counts); the view is a READ entry in the audit log."""
    with user.acting():
        found = views.subject_requests(
            store_of(request), today=clock.today(), now=clock.now_utc(), where="/api/subject-requests"
        )
    return SubjectRequests(requests=found)


class Exports(BaseModel):
    count: int
    exports: list[views.ExportLine]


@router.get("/exports", summary="The export register (as `kakunin exports --json`)")
def exports(request: Request, user: Reader) -> Exports:
    found = views.exports(store_of(request))
    return Exports(count=len(found), exports=[views.ExportLine.model_validate(r) for r in found])
