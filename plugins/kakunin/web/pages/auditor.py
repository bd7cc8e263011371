"""Pages for auditors (read-only): datasets, trace, receipts, certificates, audit log, subject requests,
exports, verify. They show what the API answers (`kakunin.web.views`), and write the same audit entries,
naming the page.

Routes are sync (`def`): FastAPI runs them in a worker thread, so reading the store never blocks.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kakunin import clock
from kakunin.contracts import Registry
from kakunin.errors import InputError, StorageNotFound
from kakunin.lineage.formats import AuditAction
from kakunin.storage import ObjectStore
from kakunin.web import views
from kakunin.web.app import PREFIX, render
from kakunin.web.auth import WebUser, ports, requires, requires_change, same_site_view
from kakunin.web.roles import Role

router = APIRouter(include_in_schema=False)

Auditor = Annotated[WebUser, Depends(requires(Role.AUDITOR))]
AuditorChange = Annotated[WebUser, Depends(requires_change(Role.AUDITOR))]
Reader = Annotated[WebUser, Depends(requires(Role.AUDITOR, Role.ENGINEER))]
Text = Annotated[str, Query(max_length=200)]


def _store(request: Request) -> ObjectStore:
    return ports(request).store()


def _registry(request: Request) -> Registry:
    return Registry(ports(request).settings().expectations_root)


def svg_data_uri(svg: str) -> str:
    """An SVG as a `data:` URI for an `<img>` (the CSP allows img data:, and an image runs no script)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@router.get("/datasets")
def datasets_page(request: Request, user: Reader) -> Response:
    """Live records per dataset: by provider, purpose, expiry month; each chart with its numbers beneath."""
    counts = views.dataset_counts(_store(request))
    shown = [
        (
            dataset,
            [
                (figure, svg_data_uri(svg) if svg is not None else None)
                for figure, svg in views.dataset_figures(dataset)
            ],
        )
        for dataset in counts
    ]
    return render(request, user, "datasets.html", datasets=shown)


@router.get("/trace")
def trace_page(request: Request, user: Auditor, record_id: Text = "") -> Response:
    """The form, and with `record_id` the record's story (a TRACE entry in the audit log names the user)."""
    wanted = record_id.strip()
    if not wanted:
        return render(request, user, "trace.html", record_id="", story=None, problem=None)
    same_site_view(request)
    try:
        with user.acting():
            story = views.trace_record(_store(request), _registry(request), wanted, now=clock.now_utc(), where="/trace")
    except StorageNotFound as exc:
        return render(request, user, "trace.html", 404, record_id=wanted, story=None, problem=str(exc))
    except InputError as exc:
        return render(request, user, "trace.html", 400, record_id=wanted, story=None, problem=str(exc))
    return render(request, user, "trace.html", record_id=wanted, story=story, problem=None)


@router.get("/receipts")
def receipts_page(request: Request, user: Auditor) -> Response:
    return render(request, user, "receipts.html", receipts=views.receipts(_store(request)))


@router.get("/certificates")
def certificates_page(request: Request, user: Auditor) -> Response:
    return render(request, user, "certificates.html", certificates=views.certificates(_store(request)))


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: {text!r} is not a day (YYYY-MM-DD)") from None


@router.get("/audit")
def audit_page(
    request: Request,
    user: Auditor,
    actor: Text = "",
    action: Text = "",
    from_day: Annotated[str, Query(alias="from", max_length=20)] = "",
    to_day: Annotated[str, Query(alias="to", max_length=20)] = "",
    dataset: Text = "",
) -> Response:
    """The audit log with the filter form; the newest 500 entries that match, newest first."""
    from pydantic import ValidationError

    from kakunin.audit.log import LogFilter

    form = {"actor": actor, "action": action, "from": from_day, "to": to_day, "dataset": dataset}
    actions = [a.value for a in AuditAction]
    try:
        filters = LogFilter(
            actor=actor.strip() or None,
            action=action.strip() or None,
            from_day=_day(from_day.strip(), "from") if from_day.strip() else None,
            to_day=_day(to_day.strip(), "to") if to_day.strip() else None,
            dataset=dataset.strip() or None,
            limit=500,
        )
    except (ValidationError, InputError) as exc:
        message = str(exc.errors()[0]["msg"]) if isinstance(exc, ValidationError) else str(exc)
        message = message.removeprefix("Value error, ").replace("--from", "from").replace("--to", "to")
        return render(request, user, "audit.html", 422, form=form, actions=actions, entries=[], problem=message)
    found = list(reversed(views.audit_entries(_store(request), filters)))
    return render(request, user, "audit.html", form=form, actions=actions, entries=found, problem=None)


@router.get("/subjects")
def subjects_page(request: Request, user: Reader) -> Response:
    """The request register with deadlines, overdue ones marked; the view is a READ entry naming the user."""
    same_site_view(request)
    with user.acting():
        found = views.subject_requests(_store(request), today=clock.today(), now=clock.now_utc(), where="/subjects")
    return render(request, user, "subjects.html", requests=found, today=clock.today())


@router.get("/exports")
def exports_page(request: Request, user: Reader) -> Response:
    found = [views.ExportLine.model_validate(r) for r in views.exports(_store(request))]
    return render(request, user, "exports.html", exports=found)


@router.get("/verify")
def verify_form(request: Request, user: Auditor) -> Response:
    return render(request, user, "verify.html", report=None, action=f"{PREFIX}/verify")


@router.post("/verify")
def verify_page(request: Request, user: AuditorChange) -> Response:
    """Run verify now (keyed when KAKUNIN_HMAC_KEY is set) and show the verdict; a VERIFY entry names the user."""
    with user.acting():
        report = views.run_verify(
            _store(request), _registry(request), today=clock.today(), now=clock.now_utc(), where="/verify"
        )
    return render(request, user, "verify.html", report=report, action=f"{PREFIX}/verify")
