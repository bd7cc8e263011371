"""Acquisition staff's API: upload a batch, list batches, approve another's, start intake."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from kakunin.approvals import Approval, NotApprovable
from kakunin.disposal import check_note
from kakunin.web import batches
from kakunin.web.auth import WebUser, ports, requires, requires_change
from kakunin.web.roles import Role
from kakunin.web.uploads import Upload, UploadResult

router = APIRouter(prefix="/api", tags=["batches"])
ACQ, AUD, ENG = Role.ACQUISITION, Role.AUDITOR, Role.ENGINEER


class ApprovalRequest(BaseModel):
    """What an approval may say: one line, no personal data (it goes into the audit log)."""

    note: str | None = Field(default=None, description="one line, at most 200 characters; no personal data")

    @field_validator("note")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else check_note(value)


class Refusal(BaseModel):
    """An error answer: `{"error": {"code", "message"}}`."""

    error: dict[str, str]


def refused(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def as_upload(file: UploadFile) -> Upload:
    """The client's file: its name only for display, its bytes as a stream (never a path)."""
    return Upload(filename=file.filename or "", stream=file.file)


def required_file(name: str, file: UploadFile | None, what: str) -> UploadFile:
    if file is None or isinstance(file, str):
        raise RequestValidationError(
            [{"loc": ("body", name), "msg": f"no {what}: send it as the multipart field `{name}`", "type": "missing"}]
        )
    return file


@router.get(
    "/batches",
    summary="The batches you may see (acquisition: your own; auditor, engineer: all)",
    openapi_extra={"x-kakunin-roles": [ACQ.value, AUD.value, ENG.value]},
)
def list_batches(request: Request, user: Annotated[WebUser, Depends(requires(ACQ, AUD, ENG))]) -> batches.BatchList:
    return batches.BatchList(batches=batches.own_batches(ports(request).store(), user))


@router.get(
    "/batches/{batch_id}",
    summary="One batch with its findings (acquisition: your own, or one you may approve; else 404)",
    responses={404: {"model": Refusal}},
    openapi_extra={"x-kakunin-roles": [ACQ.value, AUD.value, ENG.value]},
)
def get_batch(
    batch_id: str, request: Request, user: Annotated[WebUser, Depends(requires(ACQ, AUD, ENG))]
) -> batches.BatchDetail:
    return batches.one_batch(ports(request).store(), user, batch_id)


@router.post(
    "/batches",
    summary="Upload a batch: the provenance document, the data file and its evidence files",
    description="The gate's answer either way (200): `decision` accepted (with `batch_id`) or rejected (with "
    "`rejection_id`), and the same findings as `kakunin provenance check --json`. Client file names are shown, "
    "never used as paths.",
    responses={400: {"model": Refusal}, 413: {"model": Refusal}, 422: {"model": Refusal}},
    openapi_extra={"x-kakunin-roles": [ACQ.value]},
)
def upload_batch(
    request: Request,
    user: Annotated[WebUser, Depends(requires_change(ACQ))],
    document: Annotated[UploadFile | None, File(description="provenance.yaml or provenance.json")] = None,
    data: Annotated[UploadFile | None, File(description="the data file (CSV or Parquet)")] = None,
    evidence: Annotated[list[UploadFile] | None, File(description="evidence files the document names")] = None,
) -> UploadResult:
    doc = required_file("document", document, "provenance document")
    rows = required_file("data", data, "data file")
    with user.acting():
        return batches.upload(
            ports(request),
            document=as_upload(doc),
            data=as_upload(rows),
            evidence=[as_upload(f) for f in evidence or [] if not isinstance(f, str)],
        )


@router.post(
    "/batches/{batch_id}/approve",
    summary="Approve another user's pending batch (four eyes, 二者確認)",
    description="409 `approval.refused` when you submitted it, it is already approved, or it is no longer pending.",
    responses={404: {"model": Refusal}, 409: {"model": Refusal}},
    openapi_extra={"x-kakunin-roles": [ACQ.value]},
    response_model=Approval,
)
def approve_batch(
    batch_id: str,
    request: Request,
    user: Annotated[WebUser, Depends(requires_change(ACQ))],
    body: Annotated[ApprovalRequest | None, Body()] = None,
) -> Approval | JSONResponse:
    try:
        with user.acting():
            return batches.approve_batch(ports(request).store(), user, batch_id, note=body.note if body else None)
    except NotApprovable as refusal:
        return refused("approval.refused", str(refusal), 409)


@router.post(
    "/intake-runs",
    summary="Start a kakunin_intake run (it takes in every landed batch)",
    responses={503: {"model": Refusal}},
    openapi_extra={"x-kakunin-roles": [ACQ.value, ENG.value]},
    response_model=batches.RunStarted,
)
def start_intake(
    request: Request, user: Annotated[WebUser, Depends(requires_change(ACQ, ENG))]
) -> batches.RunStarted | JSONResponse:
    try:
        with user.acting():
            return batches.trigger_intake(ports(request), user)
    except batches.IntakeNotWired as missing:
        return refused("intake.unavailable", str(missing), 503)
