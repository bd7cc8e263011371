"""Releasing an export (持ち出し) for one purpose: plan it, select it, measure it, then write it or refuse it.

`plan_export` is pure: is the purpose registered, is it one of the dataset's, which columns
may go (no more than the purpose needs, APPI Art. 18). `release` does the rest: selects the
live records carrying the purpose (`kakunin.exports.selection`), measures the take-out limits
against the register, and either refuses (only an EXPORT_REFUSED audit entry is written) or
puts the files and the receipt in the store, delivers the copy if one was asked for, and logs
an EXPORT entry. Neither entry nor receipt holds personal data: ids, counts and codes only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from kakunin import audit
from kakunin.codes import ReasonCode
from kakunin.contracts import DatasetContract, PurposeRegister, Registry
from kakunin.errors import InputError, KakuninError
from kakunin.exports import store as export_store
from kakunin.exports import takeout
from kakunin.exports.formats import ExportReceipt, LimitCheck
from kakunin.exports.selection import Excluders, Selection, select_records
from kakunin.hashing import sha256_file
from kakunin.layout import EXPORT_DATA, EXPORT_MANIFEST, export_key
from kakunin.lineage.formats import AuditAction, StoredObject
from kakunin.storage import ObjectStore

__all__ = [
    "DELIVERY_FORMATS",
    "ExportOutcome",
    "ExportPlan",
    "ExportRefused",
    "Refusal",
    "Request",
    "excluders",
    "plan_export",
    "release",
]

DELIVERY_FORMATS = (".parquet", ".csv")


class ExportPlan(BaseModel):
    """What an export for `purpose` may release: these columns of `dataset` (besides source_record_id)."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    purpose: str
    columns: list[str]


class Refusal(BaseModel):
    """Why an export was not released: its reason code, a message saying what to do, the limits measured."""

    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    message: str
    limits: list[LimitCheck] = []


class ExportOutcome(BaseModel):
    """A released export's receipt, or the refusal; the audit entry's sequence either way."""

    model_config = ConfigDict(frozen=True)

    receipt: ExportReceipt | None = None
    refusal: Refusal | None = None
    audit_sequence: int


class ExportRefused(InputError):
    """An export refused by the rules (exit 1: a negative verdict; a retry cannot change it)."""

    code = "refused"
    exit_code = 1


def plan_export(
    contract: DatasetContract, purposes: PurposeRegister, purpose: str, columns: list[str] | None
) -> ExportPlan | Refusal:
    """The columns an export for `purpose` releases, or why it may not be released at all."""
    if purpose not in purposes.ids:
        return Refusal(
            code=ReasonCode.EXPORT_PURPOSE_UNREGISTERED,
            message=f"purpose {purpose!r} is not in purposes.yaml (目的外利用); "
            f"registered: {', '.join(sorted(purposes.ids))}",
        )
    allowed = contract.export_columns.get(purpose) if purpose in contract.allowed_purposes else None
    if allowed is None:
        exportable = ", ".join(sorted(contract.export_columns)) or "none"
        return Refusal(
            code=ReasonCode.EXPORT_PURPOSE_NOT_ALLOWED,
            message=f"{contract.dataset} may not be exported for {purpose!r} (目的外利用): it is not one of the "
            f"dataset's purposes with export_columns; exportable purposes: {exportable}",
        )
    if columns is None:
        return ExportPlan(dataset=contract.dataset, purpose=purpose, columns=list(allowed))
    outside = [c for c in columns if c not in allowed]
    if outside or not columns or len(set(columns)) != len(columns):
        problem = f"not needed for it: {', '.join(outside)}" if outside else "each column once, at least one"
        return Refusal(
            code=ReasonCode.EXPORT_COLUMNS,
            message=f"--columns for {purpose!r} must be among its export_columns ({problem}); "
            f"allowed: {', '.join(allowed)}",
        )
    return ExportPlan(dataset=contract.dataset, purpose=purpose, columns=list(columns))


def excluders(store: ObjectStore, dataset: str, *, now: datetime) -> Excluders:
    """What keeps records out now: pending erasure requests, stops in force, the business day."""
    from kakunin import clock
    from kakunin.retention.erasure import pending_requests
    from kakunin.subjects.register import read_index, stops_in_force

    pending = pending_requests(store)
    request_digests = {i.digest for r in pending for i in r.identifiers}
    stops = stops_in_force(store)
    erasure_ids = {record for r in pending for record in r.record_ids}
    if request_digests:
        erasure_ids |= set(read_index(store, digests=request_digests, dataset=dataset).column("record_id").to_pylist())
    stopped = stops.stopped_ids(read_index(store, digests=stops.digests, dataset=dataset)) if stops.active else set()
    return Excluders(
        erasure_ids=frozenset(erasure_ids),
        erasure_subject_digests=frozenset(r.subject_digest for r in pending if r.subject_digest),
        stopped_ids=frozenset(stopped),
        today=now.astimezone(clock.business_timezone()).date(),
    )


@dataclass(frozen=True)
class Request:
    """One export asked for: by whom, for which purpose, which columns, and where the copy goes."""

    dataset: str
    purpose: str
    requested_by: str
    columns: list[str] | None = None
    delivered_to: Path | None = None
    schedule: str | None = None


def release(
    store: ObjectStore,
    registry: Registry,
    *,
    dataset: str,
    purpose: str,
    requested_by: str,
    columns: list[str] | None = None,
    now: datetime,
    policy: takeout.TakeoutPolicy,
    delivered_to: Path | None = None,
    schedule: str | None = None,
) -> ExportOutcome:
    """Release an export of `dataset` for `purpose` or refuse it; either way one audit entry says so.

    `delivered_to`: where the copy handed out is written (.parquet or .csv; never over a file).
    `schedule`: the scheduled export's name, for one run by the DAG.
    """
    request = Request(dataset, purpose, requested_by, columns, delivered_to, schedule)
    contract = registry.contract(request.dataset)
    if contract is None:
        raise InputError(f"unknown dataset {request.dataset!r}: no contract is registered for it")
    plan = plan_export(contract, registry.purposes, request.purpose, request.columns)
    if isinstance(plan, Refusal):
        return _refuse(store, request, plan, now=now)
    selection = select_records(store, plan.dataset, plan.purpose, plan.columns, excluders(store, plan.dataset, now=now))
    checks = takeout.measure(
        policy,
        person=request.requested_by,
        purpose=plan.purpose,
        rows=selection.released.num_rows,
        columns=len(plan.columns),
        at=now,
        earlier=export_store.export_receipts(store),
    )
    if takeout.refused(checks):
        over = [c for c in checks if c.exceeded]
        figures = "; ".join(f"{c.limit} {c.measured} > {c.allowed}" for c in over)
        message = (
            f"over the take-out limit (持ち出し上限) for {request.requested_by} and {plan.purpose}: {figures}; "
            "ask for fewer rows or columns, or have the limit raised in expectations/takeout-policy.yaml"
        )
        return _refuse(
            store, request, Refusal(code=ReasonCode.EXPORT_OVER_LIMIT, message=message, limits=checks), now=now
        )
    return _write(store, request, plan, selection, checks, now=now)


def _write(
    store: ObjectStore,
    request: Request,
    plan: ExportPlan,
    selection: Selection,
    checks: list[LimitCheck],
    *,
    now: datetime,
) -> ExportOutcome:
    """The copy under a temporary name, the files, the receipt, the audit entry, then the copy's own name.

    A crash before the last step leaves a registered export whose copy was never handed out,
    never a copy handed out that the register does not know.
    """
    from kakunin.subjects.register import new_id

    export_id = new_id("EXP", now)
    pending = _write_pending_copy(selection.released, request.delivered_to) if request.delivered_to else None
    registered = False
    try:
        data, manifest = export_store.write_files(
            store, plan.dataset, export_id, selection.released, selection.manifest
        )
        actor = audit.current()
        receipt = ExportReceipt(
            export_id=export_id,
            dataset=plan.dataset,
            purpose=plan.purpose,
            columns=plan.columns,
            requested_by=request.requested_by,
            actor=actor.id,
            actor_authenticated_by=actor.authenticated_by,
            created_at=now,
            rows=selection.released.num_rows,
            excluded=selection.excluded,
            source_batches=selection.source_batches,
            retention_until=export_store.latest_retention(selection.manifest),
            data=data,
            manifest=manifest,
            delivered=pending[1] if pending else None,
            limits=checks,
            alert=takeout.alerted(checks),
            schedule=request.schedule,
        )
        receipt_sha256 = export_store.write_receipt(store, receipt)
        registered = True
        entry = audit.record(
            store,
            AuditAction.EXPORT,
            at=now,
            actor=receipt.actor,
            dataset=plan.dataset,
            codes=[ReasonCode.EXPORT_OVER_LIMIT.value] if receipt.alert else [],
            detail=_detail(request, plan.purpose, receipt.rows, len(plan.columns), receipt.excluded)
            | {
                "export_id": export_id,
                "receipt_sha256": receipt_sha256,  # verify compares the receipt with this
                "alert": receipt.alert,
                "delivered": receipt.delivered is not None,
            },
        )
        if pending and request.delivered_to:
            _put_in_place(pending[0], request.delivered_to)
    except Exception:
        if not registered:  # personal data no receipt names would be reached by no purge: take it back out
            for name in (EXPORT_DATA, EXPORT_MANIFEST):
                with contextlib.suppress(KakuninError):
                    store.delete(export_key(plan.dataset, export_id, name))
        raise
    finally:
        if pending:
            with contextlib.suppress(FileNotFoundError):
                pending[0].unlink()
    return ExportOutcome(receipt=receipt, audit_sequence=entry.sequence)


def _refuse(store: ObjectStore, request: Request, refusal: Refusal, *, now: datetime) -> ExportOutcome:
    """Only the audit entry: the reason code, and the limit figures when a limit refused it."""
    detail = _detail(request, request.purpose, None, None, {})
    for check in refusal.limits:
        detail[f"{check.limit}_measured"] = check.measured
        detail[f"{check.limit}_allowed"] = check.allowed
    entry = audit.record(
        store,
        AuditAction.EXPORT_REFUSED,
        at=now,
        dataset=request.dataset,
        codes=[refusal.code.value],
        detail=detail,
    )
    return ExportOutcome(refusal=refusal, audit_sequence=entry.sequence)


def _detail(
    request: Request, purpose: str, rows: int | None, columns: int | None, excluded: dict[str, int]
) -> audit.Detail:
    detail: audit.Detail = {"purpose": purpose, "requested_by": request.requested_by}
    if rows is not None:
        detail |= {"rows": rows, "columns": columns}
    if request.schedule:
        detail["schedule"] = request.schedule
    return detail | {f"excluded_{reason.replace('-', '_')}": count for reason, count in sorted(excluded.items())}


# ── the delivered copy: a file the person takes away, written whole or not at all ─────────────


def _write_pending_copy(table: pa.Table, target: Path) -> tuple[Path, StoredObject]:
    """Write `table` next to `target` under a hidden temporary name; its future name and hash."""
    import secrets

    if target.suffix not in DELIVERY_FORMATS:
        raise InputError(f"{target.name}: the file name must end in .parquet or .csv")
    if target.exists():
        raise InputError(f"{target} already exists; nothing was overwritten (name a new file)")
    pending = target.with_name(f".{target.name}.{secrets.token_hex(4)}.pending")
    if target.suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, pending)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, pending, compression="zstd")
    return pending, StoredObject(key=target.name, sha256=sha256_file(pending), rows=table.num_rows)


def _put_in_place(pending: Path, target: Path) -> None:
    """Give the copy its name without ever replacing a file that appeared there meanwhile."""
    try:
        os.link(pending, target)
    except FileExistsError:
        raise InputError(
            f"{target} appeared while the export was written; the export is registered, the copy "
            f"was not placed (find it by its receipt)"
        ) from None
