"""What the auditors' API and pages show, computed once for both (no FastAPI here).

Each function reads the store as the matching CLI command does and, where the CLI writes an
audit entry (trace, verify, the subject request register), writes the same one: the caller wraps
the call in `WebUser.acting()` so the entry names the web user, vouched for by Airflow. Nothing
returned holds personal data: ids, codes, counts, dates, purposes, company names.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from kakunin import audit
from kakunin.audit.charts import Figure, chart_svg
from kakunin.contracts import Registry
from kakunin.errors import StorageNotFound
from kakunin.layout import CERTIFICATES, RECEIPTS, folder_prefix, open_certificate_run
from kakunin.lineage.chain import closed_certificates, linked_manifests
from kakunin.lineage.formats import AuditAction, Certificate, ManifestHeader, read_receipt
from kakunin.lineage.verify import VerifyReport
from kakunin.storage import ObjectStore, load

UNKNOWN = "unknown"


def web_detail(where: str, **extra: str | int | bool) -> audit.Detail:
    """The `detail` of an entry the web app writes: which route or page showed it (never a value)."""
    kind = "route" if where.startswith("/api/") else "page"
    return {"via": "web", kind: where, **extra}


# ── trace ────────────────────────────────────────────────────────────────────────────


def trace_record(
    store: ObjectStore, registry: Registry, record_id: str, *, now: datetime, where: str
) -> dict[str, Any]:
    """`kakunin lineage trace --json RECORD_ID`, with its TRACE entry (the web route in its detail).

    An id that is not a record id is an `InputError` (400); one no manifest holds is
    `StorageNotFound` (404): the CLI refuses both with a message and writes no entry.
    """
    from kakunin.errors import UnknownRecord
    from kakunin.keys import hmac_key_if_set
    from kakunin.lineage.trace import trace, trace_json
    from kakunin.subjects.find import stop_id_for

    try:
        found = trace(
            store,
            record_id.strip().lower(),
            hmac_key=hmac_key_if_set(),
            contract_for=registry.contract,
            stop_for=stop_id_for(store),
        )
    except UnknownRecord as exc:
        raise StorageNotFound(str(exc)) from exc
    audit.record(
        store,
        AuditAction.TRACE,
        at=now,
        dataset=found.dataset,
        record_ids=[found.record_id],
        detail=web_detail(where),
    )
    return trace_json(found)


# ── verify ───────────────────────────────────────────────────────────────────────────


def run_verify(store: ObjectStore, registry: Registry, *, today: date, now: datetime, where: str) -> VerifyReport:
    """`kakunin lineage verify --json` (keyed when KAKUNIN_HMAC_KEY is set), with its VERIFY entry."""
    from kakunin.keys import hmac_key_if_set
    from kakunin.lineage.verify import verify

    key = hmac_key_if_set()
    report = verify(store, today=today, key=key, contract_for=registry.contract if key is not None else None)
    detail: audit.Detail = {"intact": report.intact, "problems": len(report.problems), "manifests": report.manifests}
    audit.record(store, AuditAction.VERIFY, at=now, detail={**detail, "mode": report.mode, **web_detail(where)})
    return report


# ── datasets ─────────────────────────────────────────────────────────────────────────


class Tally(BaseModel):
    """One bar: a key (provider, purpose, month) and its live records."""

    key: str
    label: str | None = Field(default=None, description="the provider's legal name, for a provider tally")
    records: int


class DatasetCounts(BaseModel):
    """A dataset's live records (published, not purged), three ways."""

    dataset: str
    live: int
    batches: int
    by_provider: list[Tally] = Field(description="by the provider's corporate number (法人番号)")
    by_purpose: list[Tally] = Field(description="a record with several purposes counts under each")
    by_expiry_month: list[Tally] = Field(description="by the month of retention_until (YYYY-MM)")


def purged_ids(store: ObjectStore) -> pa.Array:
    """Every record id a closed purge certificate names (one column read per certificate)."""
    chunks = []
    for certificate in closed_certificates(store):
        with store.open_input(certificate.records.key) as handle:
            chunks.append(pq.read_table(handle, columns=["record_id"]).column("record_id").combine_chunks())
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def _add(counter: Counter[str], counts: pa.Array) -> None:
    for item in counts.to_pylist():  # one per distinct value, not per row
        counter[str(item["values"])] += int(item["counts"])


def dataset_counts(store: ObjectStore) -> list[DatasetCounts]:
    """Live records per dataset by provider, purpose and expiry month, from the manifests (columns pruned)."""
    gone = purged_ids(store)
    live: Counter[str] = Counter()
    batches: Counter[str] = Counter()
    providers: dict[str, Counter[str]] = {}
    names: dict[str, str] = {}
    purposes: dict[str, Counter[str]] = {}
    months: dict[str, Counter[str]] = {}
    for header_key, manifest_key in linked_manifests(store):
        header = load(store, header_key, ManifestHeader)
        with store.open_input(manifest_key) as handle:
            table = pq.read_table(handle, columns=["record_id", "purposes", "retention_until"])
        if len(gone):
            table = table.filter(pc.invert(pc.is_in(table.column("record_id"), value_set=gone)))
        dataset, rows = header.dataset, table.num_rows
        batches[dataset] += 1
        live[dataset] += rows
        provider = UNKNOWN
        if store.exists(header.receipt.key):
            receipt = read_receipt(store.get_bytes(header.receipt.key))
            provider = receipt.provider.corporate_number or UNKNOWN
            if receipt.provider.legal_name:
                names.setdefault(provider, receipt.provider.legal_name)
        providers.setdefault(dataset, Counter())[provider] += rows
        if rows:
            flat = pc.list_flatten(table.column("purposes"))
            _add(purposes.setdefault(dataset, Counter()), pc.value_counts(flat))
            until = pc.min_element_wise(table.column("retention_until"), pa.scalar(date(9999, 12, 31), pa.date32()))
            month = pc.strftime(pc.cast(until, pa.timestamp("s")), format="%Y-%m")
            _add(months.setdefault(dataset, Counter()), pc.value_counts(month))
    return [
        DatasetCounts(
            dataset=dataset,
            live=live[dataset],
            batches=batches[dataset],
            by_provider=[
                Tally(key=k, label=names.get(k), records=n) for k, n in sorted(providers.get(dataset, {}).items())
            ],
            by_purpose=[Tally(key=k, records=n) for k, n in sorted(purposes.get(dataset, Counter()).items())],
            by_expiry_month=[Tally(key=k, records=n) for k, n in sorted(months.get(dataset, Counter()).items())],
        )
        for dataset in sorted(live)
    ]


def dataset_figures(counts: DatasetCounts) -> list[tuple[Figure, str | None]]:
    """The dataset's three charts (SVG text, None when there is nothing to draw) with the figures they show."""
    figures = [
        Figure(
            f"{counts.dataset}-provider",
            "提供元別",
            f"{counts.dataset}: live records by provider",
            ("provider", "records"),
            [(t.key, t.records) for t in counts.by_provider],
            ("records",),
        ),
        Figure(
            f"{counts.dataset}-purpose",
            "利用目的別",
            f"{counts.dataset}: live records by purpose",
            ("purpose", "records"),
            [(t.key, t.records) for t in counts.by_purpose],
            ("records",),
        ),
        Figure(
            f"{counts.dataset}-expiry",
            "保存期限(月)",
            f"{counts.dataset}: live records by expiry month",
            ("month", "records"),
            [(t.key, t.records) for t in counts.by_expiry_month],
            ("records",),
        ),
    ]
    return [(figure, chart_svg(figure)) for figure in figures]


# ── receipts and certificates ────────────────────────────────────────────────────────


class ReceiptLine(BaseModel):
    """A receipt record (確認記録) as the register lists it: the batch, its provider and ground, until when kept."""

    dataset: str
    batch_id: str
    created_at: datetime
    received_on: date
    keep_until: date
    keep_rule: str
    provider: str
    provider_corporate_number: str | None
    provenance_document_id: str
    legal_ground: str
    purposes: list[str]
    records: int
    approved_by_user: str | None = None
    key: str


def receipts(store: ObjectStore) -> list[ReceiptLine]:
    """Every receipt record in the store, newest first."""
    lines = []
    for key in store.list_keys(folder_prefix(RECEIPTS)):
        if not key.endswith(".json"):
            continue
        receipt = read_receipt(store.get_bytes(key))
        lines.append(
            ReceiptLine(
                dataset=receipt.dataset,
                batch_id=receipt.batch_id,
                created_at=receipt.created_at,
                received_on=receipt.received_on,
                keep_until=receipt.keep_until,
                keep_rule=receipt.keep_rule,
                provider=receipt.provider.legal_name,
                provider_corporate_number=receipt.provider.corporate_number,
                provenance_document_id=receipt.provenance_document_id,
                legal_ground=str(receipt.legal_ground),
                purposes=receipt.purposes,
                records=receipt.records,
                approved_by_user=getattr(receipt, "approved_by_user", None),
                key=key,
            )
        )
    return sorted(lines, key=lambda r: (r.created_at, r.batch_id), reverse=True)


class CertificateLine(BaseModel):
    """A purge certificate (削除証明): closed when the purge finished, open while (or if) it has not."""

    run_id: str
    status: Literal["open", "closed"]
    as_of: date
    actor: str
    opened_at: datetime
    closed_at: datetime | None
    purged_count: int
    batches: int
    files: int
    erasure_requests: list[str]
    policy: list[str]


def _certificate_line(certificate: Certificate) -> CertificateLine:
    return CertificateLine(
        run_id=certificate.run_id,
        status=certificate.status,
        as_of=certificate.as_of,
        actor=certificate.actor,
        opened_at=certificate.opened_at,
        closed_at=certificate.closed_at,
        purged_count=certificate.purged_count,
        batches=len(certificate.batches),
        files=len(certificate.files),
        erasure_requests=certificate.erasure_requests,
        policy=certificate.policy,
    )


def certificates(store: ObjectStore) -> list[CertificateLine]:
    """The closed certificates of the chain, and any purge still open (not in the chain yet), newest first."""
    lines = [_certificate_line(c) for c in closed_certificates(store)]
    closed = {line.run_id for line in lines}
    for key in store.list_keys(folder_prefix(CERTIFICATES)):
        run_id = open_certificate_run(key)
        if run_id is not None and run_id not in closed:
            lines.append(_certificate_line(load(store, key, Certificate)))
    return sorted(lines, key=lambda c: (c.opened_at, c.run_id), reverse=True)


# ── subject requests, exports, the audit log ─────────────────────────────────────────


class SubjectRequestLine(BaseModel):
    """One line of `kakunin subject requests --json`: a request, its deadline and where it stands."""

    request_id: str
    request: str
    reference: str
    received_on: date
    due_on: date
    regimes: list[str]
    state: str
    closed_at: str | None = Field(description="ISO 8601, as the CLI writes it")
    outcome: str | None
    overdue: bool
    closed_late: bool
    records: int


def subject_requests(store: ObjectStore, *, today: date, now: datetime, where: str) -> list[SubjectRequestLine]:
    """The request register with deadlines, and the READ entry the CLI writes for it (ids and counts only)."""
    from kakunin.subjects.register import request_statuses
    from kakunin.subjects.requests import status_json

    statuses = request_statuses(store, today=today)
    detail = web_detail(where, view="subject requests", requests=len(statuses))
    audit.record(store, AuditAction.READ, at=now, detail=detail)
    return [SubjectRequestLine.model_validate(status_json(s)) for s in statuses]


class ExportLine(BaseModel):
    """One line of `kakunin exports --json`: an export, who asked and who ran it, held or purged."""

    export_id: str
    created_at: str = Field(description="ISO 8601, as the CLI writes it")
    dataset: str
    purpose: str
    requested_by: str
    actor: str
    actor_authenticated_by: str | None
    rows: int
    columns: list[str]
    state: Literal["held", "purged"]
    alert: bool
    schedule: str | None
    delivered: str | None


def exports(store: ObjectStore) -> list[dict[str, Any]]:
    """The export register as `kakunin exports --json` lists it."""
    from kakunin.exports.store import export_receipts, register_row

    return [register_row(r, held=store.exists(r.manifest.key)) for r in export_receipts(store)]


def audit_entries(store: ObjectStore, filters: Any) -> list[dict[str, Any]]:
    """`kakunin audit log --json`'s entries for `filters` (a `LogFilter`)."""
    from kakunin.audit.log import entries, entry_json

    return [entry_json(e) for e in entries(store, filters)]
