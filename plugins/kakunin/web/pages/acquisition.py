"""Pages for acquisition staff: upload (a document, or the step-by-step form), their batches, approvals.

Form posts answer with a 303 back to the batch's page and a flash chosen by a fixed word in the
query (`?done=approved`): nothing a user typed, and no personal data, ever goes into a URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from kakunin.approvals import NotApprovable, load_intake_policy
from kakunin.disposal import check_note
from kakunin.errors import InputError, StorageNotFound
from kakunin.provenance.messages_ja import japanese
from kakunin.web import batches
from kakunin.web.app import PREFIX, render
from kakunin.web.auth import WebUser, ports, requires, requires_change
from kakunin.web.roles import Role
from kakunin.web.uploads import Upload, UploadResult

router = APIRouter(include_in_schema=False)
ACQ, AUD, ENG = Role.ACQUISITION, Role.AUDITOR, Role.ENGINEER

FLASHES = {
    "approved": "Approved: recorded with your name in the audit log / 承認しました(監査ログに記録).",
    "triggered": "kakunin_intake started: the batch is taken in within minutes / 取込みを開始しました.",
}


def _page(request: Request, user: WebUser, template: str, status_code: int = 200, **context: Any) -> Response:
    return render(request, user, template, status_code=status_code, ja=japanese, acquisition=ACQ, **context)


def _upload_page(
    request: Request, user: WebUser, *, result: UploadResult | None = None, error: str = "", status_code: int = 200
) -> Response:
    settings = ports(request).settings()
    return _page(
        request,
        user,
        "upload.html",
        status_code=status_code,
        result=result,
        error=error,
        error_code="upload.invalid" if error else "",
        max_mb=settings.max_upload_bytes // (1024 * 1024),
        max_evidence=settings.max_evidence_files,
    )


def _file(value: Any) -> Upload | None:
    """A multipart file field as an Upload (a browser sends an empty, unnamed part for a file not chosen)."""
    if not isinstance(value, UploadFile) or (not value.filename and not value.size):
        return None
    return Upload(filename=value.filename or "", stream=value.file)


@router.get("/upload")
async def upload_form(request: Request, user: Annotated[WebUser, Depends(requires(ACQ))]) -> Response:
    return _upload_page(request, user)


@router.post("/upload")
async def upload(request: Request, user: Annotated[WebUser, Depends(requires_change(ACQ))]) -> Response:
    form = await request.form()
    document, data = _file(form.get("document")), _file(form.get("data"))
    evidence = [u for u in (_file(v) for v in form.getlist("evidence")) if u is not None]
    missing = [
        label
        for label, u in (("provenance document / 確認記録", document), ("data file / データファイル", data))
        if u is None
    ]
    if missing or document is None or data is None:
        return _upload_page(request, user, error=f"Choose the {' and the '.join(missing)}.", status_code=422)
    wired = ports(request)

    def submit() -> UploadResult:  # in a worker thread: the gate and the store writes must not stall the server
        with user.acting():
            return batches.upload(wired, document=document, data=data, evidence=evidence)

    try:
        result = await run_in_threadpool(submit)
    except InputError as bad:
        return _upload_page(request, user, error=str(bad), status_code=400)
    return _upload_page(request, user, result=result)


@router.get("/batches")
def batch_list(
    request: Request, user: Annotated[WebUser, Depends(requires(ACQ, AUD, ENG))], done: str = ""
) -> Response:
    found = batches.own_batches(ports(request).store(), user)
    return _page(request, user, "batches.html", batches=found, all=batches.sees_all(user), flash=FLASHES.get(done, ""))


def _batch_page(
    request: Request, user: WebUser, batch_id: str, *, flash: str = "", bad: bool = False, status_code: int = 200
) -> Response:
    batch = batches.one_batch(ports(request).store(), user, batch_id)
    return _page(request, user, "batch.html", status_code=status_code, batch=batch, flash=flash, flash_bad=bad)


@router.get("/batches/{batch_id}")
def batch_page(
    batch_id: str, request: Request, user: Annotated[WebUser, Depends(requires(ACQ, AUD, ENG))], done: str = ""
) -> Response:
    return _batch_page(request, user, batch_id, flash=FLASHES.get(done, ""))


def _back(batch_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/batches/{batch_id}?done={done}", status_code=303)


@router.post("/batches/{batch_id}/approve")
def approve(
    batch_id: str,
    request: Request,
    user: Annotated[WebUser, Depends(requires_change(ACQ))],
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        checked = check_note(note) if note.strip() else None
    except ValueError as bad:
        return _batch_page(request, user, batch_id, flash=str(bad), bad=True, status_code=400)
    try:
        with user.acting():
            batches.approve_batch(ports(request).store(), user, batch_id, note=checked)
    except NotApprovable as refusal:
        return _batch_page(
            request, user, batch_id, flash=f"Not approved / 承認できません: {refusal}", bad=True, status_code=409
        )
    return _back(batch_id, "approved")


@router.post("/intake")
def intake(
    request: Request,
    user: Annotated[WebUser, Depends(requires_change(ACQ, ENG))],
    batch_id: Annotated[str, Form()] = "",
) -> Response:
    store = ports(request).store()
    try:
        shown = batches.one_batch(store, user, batch_id).batch_id if batch_id else ""
    except StorageNotFound:
        shown = ""
    try:
        with user.acting():
            batches.trigger_intake(ports(request), user)
    except batches.IntakeNotWired as missing:
        if shown:
            return _batch_page(request, user, shown, flash=str(missing), bad=True, status_code=503)
        return render(
            request, user, "error.html", status_code=503, status=503, code="intake.unavailable", message=str(missing)
        )
    if shown:
        return _back(shown, "triggered")
    return RedirectResponse(f"{PREFIX}/batches?done=triggered", status_code=303)


@router.get("/approvals")
def approvals(request: Request, user: Annotated[WebUser, Depends(requires(ACQ))]) -> Response:
    settings = ports(request).settings()
    policy = load_intake_policy(settings.expectations_root)
    found = batches.to_approve(ports(request).store(), user)
    return _page(request, user, "approvals.html", batches=found, policy=policy)
