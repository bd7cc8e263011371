"""The step-by-step form that writes the provenance document for acquisition staff.

Staff fill in fields instead of YAML; the server writes the document (`provenance.form`),
hashes and names the evidence files, and sends the batch through the same gate as every
upload (`uploads.submit_upload`). The answer is the same form again, with what they typed
and each finding inside the field it concerns, in English and Japanese.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from kakunin import clock
from kakunin.contracts import Registry
from kakunin.errors import InputError
from kakunin.hashing import sha256_stream
from kakunin.provenance.findings import Finding
from kakunin.provenance.form import (
    EVIDENCE_SECTION,
    EVIDENCE_SLOTS,
    STEPS,
    SUPPORTS,
    Condition,
    EvidenceItem,
    FormField,
    Step,
    all_fields,
    applies,
    document_from_form,
    field_for_finding,
    supports_ticked,
)
from kakunin.provenance.messages_ja import japanese
from kakunin.provenance.model import EvidenceKind
from kakunin.web import batches
from kakunin.web.app import PREFIX, render
from kakunin.web.auth import WebUser, ports, requires, requires_change
from kakunin.web.roles import Role
from kakunin.web.uploads import Upload, UploadResult, display_name, evidence_file_name
from kakunin.yaml_io import dump_yaml

router = APIRouter(include_in_schema=False)
PATH = "/upload/form"
Values = dict[str, str | list[str]]


@dataclass(frozen=True)
class Group:
    """Fields shown together: a block that applies only under a condition, or one repeated slot."""

    fields: tuple[FormField, ...]
    when: Condition | None
    slot: tuple[str, str] | None  # (English, Japanese) heading of a repeated block
    open: bool


@dataclass(frozen=True)
class ShownFinding:
    """A finding as the page shows it: the gate's message and the code's Japanese meaning."""

    code: str
    severity: str
    path: str
    message: str
    ja: str
    article: str | None


def _slot_of(path: str) -> tuple[str, tuple[str, str]] | None:
    """The repeated block a field belongs to, with its heading."""
    if path.startswith("acquisition.upstream["):
        n = int(path.split("[", 1)[1].split("]", 1)[0]) + 1
        return path.split("]", 1)[0] + "]", (f"Earlier holder {n}", f"上流の提供元 {n}")
    if path.startswith("contractors["):
        n = int(path.split("[", 1)[1].split("]", 1)[0]) + 1
        if ".subcontractors[" in path:
            return path.rsplit("]", 1)[0] + "]", (f"Sub-contractor of contractor {n}", f"委託先{n}の再委託先")
        return path.split("]", 1)[0] + "]", (f"Contractor {n}", f"委託先 {n}")
    if path.startswith("evidence["):
        n = int(path.split("[", 1)[1].split("]", 1)[0]) + 1
        return path.split("]", 1)[0] + "]", (f"Evidence file {n}", f"証跡ファイル {n}")
    return None


def _groups(step: Step, values: Values, findings: dict[str, list[ShownFinding]]) -> list[Group]:
    """The step's fields in runs that share a condition and a slot; a run is open when it applies and matters."""
    runs: list[tuple[tuple[Any, Any], list[FormField]]] = []
    for f in step.fields:
        slot = _slot_of(f.path)
        key = (f.when, slot[0] if slot else None)
        if runs and runs[-1][0] == key:
            runs[-1][1].append(f)
        else:
            runs.append((key, [f]))
    groups = []
    for (when, slot_key), fields in runs:
        slot = _slot_of(fields[0].path)
        filled = any(_filled(values.get(f.path)) for f in fields)
        flagged = any(f.path in findings for f in fields)
        first = (
            slot_key is None
            or slot_key.startswith("evidence[")
            or slot_key in {"acquisition.upstream[0]", "contractors[0]"}
        )
        is_open = flagged or (applies(fields[0], values) and (slot_key is None or filled or first))
        groups.append(Group(tuple(fields), when, slot[1] if slot else None, is_open))
    return groups


def _filled(value: str | list[str] | None) -> bool:
    return bool(value.strip() if isinstance(value, str) else value)


def _registry(request: Request) -> Registry:
    return Registry(ports(request).settings().expectations_root)


def _page(
    request: Request,
    user: WebUser,
    values: Values,
    *,
    result: UploadResult | None = None,
    document_yaml: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    registry = _registry(request)
    findings: dict[str, list[ShownFinding]] = {}
    general: list[ShownFinding] = []
    for finding in result.findings if result else []:
        shown = _shown(finding)
        where = field_for_finding(finding.path)
        (findings.setdefault(where, []) if where else general).append(shown)
    contracts = {d: registry.contract(d) for d in registry.dataset_ids()}
    return render(
        request,
        user,
        "document_form.html",
        status_code=status_code,
        form_action=PREFIX + PATH,
        upload_href=PREFIX + "/upload",
        steps=[(step, _groups(step, values, findings)) for step in STEPS],
        values=values,
        findings=findings,
        general=general,
        evidence_section=EVIDENCE_SECTION,
        result=result,
        document_yaml=document_yaml,
        error=error,
        datasets=list(contracts),
        contract_items={
            d: [f"{c.name}: {c.category}" for c in contract.personal_columns]
            for d, contract in contracts.items()
            if contract is not None
        },
        purposes=[(p.id, f"{p.title_en} / {p.title_ja}") for p in registry.purposes.purposes],
        support_options=[(key, f"{en} / {ja}") for key, (en, ja) in SUPPORTS.items()],
    )


def _shown(finding: Finding) -> ShownFinding:
    return ShownFinding(
        code=finding.code.value,
        severity=finding.severity.value,
        path=finding.path,
        message=finding.message,
        ja=japanese(finding.code),
        article=finding.article,
    )


@router.get(PATH)
def document_form(request: Request, user: Annotated[WebUser, Depends(requires(Role.ACQUISITION))]) -> Response:
    values: Values = {
        "received_on": clock.today().isoformat(),
        "submitted_by": user.name,
        "provider.country": "JP",
        "provider.kind": "business",
    }
    return _page(request, user, values)


def _values(form: FormData) -> Values:
    """The typed values of every field (files apart), as the form sent them."""
    values: Values = {}
    for f in all_fields():
        if f.kind == "file":
            continue
        if f.kind == "multi":
            values[f.path] = [v for v in form.getlist(f.path) if isinstance(v, str)]
        else:
            raw = form.get(f.path)
            values[f.path] = raw if isinstance(raw, str) else ""
    return values


def _file(form: FormData, name: str) -> UploadFile | None:
    found = form.get(name)
    return found if isinstance(found, UploadFile) and (found.filename or found.size) else None


def _evidence(form: FormData, values: Values) -> tuple[list[EvidenceItem], list[Upload]]:
    """Each chosen evidence file: numbered E1.. in slot order, named by the server, hashed by the server."""
    items: list[EvidenceItem] = []
    uploads: list[Upload] = []
    for slot in range(EVIDENCE_SLOTS):
        upload = _file(form, f"evidence[{slot}].file")
        if upload is None:
            continue
        n = len(items) + 1
        raw_kind = values.get(f"evidence[{slot}].kind")
        try:
            kind = EvidenceKind(raw_kind if isinstance(raw_kind, str) else "")
        except ValueError:
            name = display_name(upload.filename)
            raise InputError(
                f"evidence file {slot + 1} ({name}): choose its kind / 証跡の種類を選んでください"
            ) from None
        file = evidence_file_name(n, upload.filename or "")
        items.append(EvidenceItem(f"E{n}", kind, file, sha256_stream(upload.file), supports_ticked(values, slot)))
        uploads.append(Upload(filename=upload.filename or "", stream=upload.file))
    return items, uploads


@router.post(PATH)
async def submit_document_form(
    request: Request, user: Annotated[WebUser, Depends(requires_change(Role.ACQUISITION))]
) -> Response:
    form = await request.form()
    values = _values(form)
    wired = ports(request)
    data = _file(form, "data")
    if data is None:
        message = "choose the data file (CSV or Parquet) / データファイルを選んでください"
        return _page(request, user, values, error=message, status_code=400)
    registry = _registry(request)
    dataset = values.get("dataset")
    contract = registry.contract(dataset) if isinstance(dataset, str) and dataset in registry.dataset_ids() else None

    def submit() -> tuple[UploadResult, str]:
        items, uploads = _evidence(form, values)
        text = dump_yaml(document_from_form(values, evidence=items, contract=contract))
        document = Upload(filename="provenance.yaml", stream=io.BytesIO(text.encode("utf-8")))
        with user.acting():
            result = batches.upload(
                wired, document=document, data=Upload(filename=data.filename or "", stream=data.file), evidence=uploads
            )
        return result, text

    try:
        result, text = await run_in_threadpool(submit)
    except InputError as exc:
        return _page(request, user, values, error=str(exc), status_code=400)
    return _page(request, user, values, result=result, document_yaml=text)
