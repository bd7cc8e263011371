"""The evidence pack (証跡パック): one period's controls, gathered from the store for an auditor.

`evidence` reads what the store already holds — the audit log, manifests, purge
certificates, receipt records, the export register, holds, data-subject requests, the
daily reviews and their sign-offs — and runs `lineage verify`. It returns ids, counts,
codes, dates and user ids only, never personal data: a pack can be handed out whole.

Days are calendar days in the business time zone (`KAKUNIN_TIMEZONE`, default Asia/Tokyo,
+09:00), the zone staff date things in; `start` and `end` are both included. An event
belongs to the day its timestamp falls on there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, tzinfo

from pydantic import ValidationError

from kakunin.audit.formats import ReviewReport, SignOff
from kakunin.audit.pack_formats import (
    RECEIPT_HORIZON_DAYS,
    UNKNOWN_PROVIDER,
    Batches,
    EvidencePack,
    Exports,
    ExportTally,
    HoldLine,
    MonthRecords,
    ProviderBatches,
    ReceiptDue,
    RequestLine,
    ReviewLine,
    VerifySummary,
)
from kakunin.batches import Rejection
from kakunin.clock import business_timezone
from kakunin.contracts import Registry
from kakunin.exports.store import export_receipts
from kakunin.keys import hmac_key_if_set
from kakunin.layout import (
    AUDIT_CHAIN,
    AUDIT_REVIEWS,
    HOLDS,
    MANIFEST_FILE,
    MANIFESTS,
    QUARANTINE,
    RECEIPTS,
    REJECTION_FILE,
    folder_prefix,
    object_id,
    placed_hold_id,
    released_hold_id,
    sign_off_key,
)
from kakunin.lineage.chain import Chain, closed_certificates
from kakunin.lineage.formats import AuditAction, AuditEntry, Hold, HoldRelease, ManifestHeader
from kakunin.lineage.receipts import read_receipt
from kakunin.lineage.verify import verify
from kakunin.storage import ObjectStore, load
from kakunin.subjects.register import request_statuses

__all__ = ["EvidencePack", "evidence"]


def evidence(
    store: ObjectStore, registry: Registry, *, start: date, end: date, now: datetime, zone: tzinfo | None = None
) -> EvidencePack:
    """Gather the pack of `start`..`end` (inclusive, days in `zone`, default the business zone) as of `now`."""
    zone = zone or business_timezone()
    if start > end:
        raise ValueError(f"the period starts after it ends: {start} > {end}")

    def within(at: datetime) -> bool:
        return start <= at.astimezone(zone).date() <= end

    entries = [e for e in audit_entries(store) if within(e.at)]
    today = now.astimezone(zone).date()
    reviews = reviews_of(store, start=start, end=end, today=today, zone=zone)
    return EvidencePack(
        start=start,
        end=end,
        timezone=str(zone),
        created_at=now,
        batches=batches_of(entries, providers_of(store)),
        months=months_of(store, start=start, end=end, zone=zone),
        receipts_due=receipts_due(store, end=end),
        exports=exports_of(store, entries, within),
        holds=holds_of(store, start=start, end=end, zone=zone),
        requests=requests_of(store, start=start, end=end, today=today, zone=zone),
        reviews=[line for line, _ in reviews],
        anomalies_by_kind=dict(sorted(Counter(a.kind.value for _, r in reviews for a in r.anomalies).items())),
        verify=verify_summary(store, registry, today=today),
    )


def audit_entries(store: ObjectStore) -> list[AuditEntry]:
    """Every readable entry of the audit log, in order (verify reports the unreadable ones)."""
    found = []
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            found.append(AuditEntry.model_validate_json(data))
        except ValidationError:
            continue
    return found


def providers_of(store: ObjectStore) -> dict[str, str]:
    """batch id → its provider's corporate number, from receipt records and rejections."""
    providers: dict[str, str] = {}
    for key in store.list_keys(folder_prefix(QUARANTINE)):
        if key.endswith(f"/{REJECTION_FILE}"):
            rejection = load(store, key, Rejection)
            number = rejection.provider.corporate_number if rejection.provider else None
            providers[rejection.batch_id] = number or UNKNOWN_PROVIDER
    for key in store.list_keys(folder_prefix(RECEIPTS)):
        receipt = read_receipt(store.get_bytes(key))
        providers[receipt.batch_id] = receipt.provider.corporate_number or UNKNOWN_PROVIDER
    return providers


def batches_of(entries: Iterable[AuditEntry], providers: dict[str, str]) -> Batches:
    """The period's batch decisions; a batch counts once per decision however often it was logged."""
    decided: dict[str, dict[str, AuditEntry]] = {a: {} for a in (AuditAction.ACCEPT, AuditAction.REJECT)}
    decided[AuditAction.PUBLISH] = {}
    for entry in entries:
        if entry.action in decided and entry.batch_id:
            decided[entry.action].setdefault(entry.batch_id, entry)
    accepted, rejected, published = (decided[a] for a in (AuditAction.ACCEPT, AuditAction.REJECT, AuditAction.PUBLISH))
    at_gate = {b for b, e in rejected.items() if e.detail.get("stage", "provenance") == "provenance"}
    received = set(accepted) | at_gate
    tally: dict[str, Counter[str]] = {}
    for label, batch_ids in (("received", received), ("accepted", accepted), ("rejected", rejected)):
        for batch_id in batch_ids:
            tally.setdefault(providers.get(batch_id, UNKNOWN_PROVIDER), Counter())[label] += 1
    for batch_id in published:
        tally.setdefault(providers.get(batch_id, UNKNOWN_PROVIDER), Counter())["published"] += 1
    return Batches(
        received=len(received),
        accepted=len(accepted),
        rejected=len(rejected),
        published=len(published),
        rejected_by_stage=dict(
            sorted(Counter(str(e.detail.get("stage", "provenance")) for e in rejected.values()).items())
        ),
        by_reason=dict(sorted(Counter(code for e in rejected.values() for code in set(e.codes)).items())),
        by_provider=[ProviderBatches(provider=p, **counts) for p, counts in sorted(tally.items())],
    )


def months_in(start: date, end: date) -> list[str]:
    """Every month the period touches, as YYYY-MM."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def months_of(store: ObjectStore, *, start: date, end: date, zone: tzinfo) -> list[MonthRecords]:
    """Records published and purged in the period, by month (a month cut by the period counts its part)."""
    published: Counter[str] = Counter()
    purged: Counter[str] = Counter()
    for key in store.list_keys(folder_prefix(MANIFESTS)):
        if key.endswith(f"/{MANIFEST_FILE}"):
            header = load(store, key, ManifestHeader)
            day = header.created_at.astimezone(zone).date()
            if start <= day <= end:
                published[f"{day:%Y-%m}"] += header.counts.published
    for certificate in closed_certificates(store):
        closed = (certificate.closed_at or certificate.opened_at).astimezone(zone).date()
        if start <= closed <= end:
            purged[f"{closed:%Y-%m}"] += certificate.purged_count
    return [MonthRecords(month=m, published=published[m], purged=purged[m]) for m in months_in(start, end)]


def receipts_due(store: ObjectStore, *, end: date) -> list[ReceiptDue]:
    """Receipt records whose keep_until falls in the 90 days after the period (soonest first)."""
    horizon = end + timedelta(days=RECEIPT_HORIZON_DAYS)
    due = []
    for key in store.list_keys(folder_prefix(RECEIPTS)):
        receipt = read_receipt(store.get_bytes(key))
        if end < receipt.keep_until <= horizon:
            due.append(ReceiptDue(dataset=receipt.dataset, batch_id=receipt.batch_id, keep_until=receipt.keep_until))
    return sorted(due, key=lambda r: (r.keep_until, r.dataset, r.batch_id))


def _tallies(pairs: Iterable[tuple[str, int]]) -> list[ExportTally]:
    exports: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    for key, count in pairs:
        exports[key] += 1
        rows[key] += count
    return [ExportTally(key=k, exports=exports[k], rows=rows[k]) for k in sorted(exports)]


def exports_of(store: ObjectStore, entries: list[AuditEntry], within: Callable[[datetime], bool]) -> Exports:
    """The period's exports from the register (by purpose, by person) and its refusals from the log."""
    released = [r for r in export_receipts(store) if within(r.created_at)]
    refused = [e for e in entries if e.action == AuditAction.EXPORT_REFUSED]
    return Exports(
        exports=len(released),
        rows=sum(r.rows for r in released),
        alerted=sum(1 for r in released if r.alert),
        refused=len(refused),
        refused_by_code=dict(sorted(Counter(code for e in refused for code in set(e.codes)).items())),
        by_purpose=_tallies((r.purpose, r.rows) for r in released),
        by_person=_tallies((r.requested_by, r.rows) for r in released),
    )


def holds_of(store: ObjectStore, *, start: date, end: date, zone: tzinfo) -> list[HoldLine]:
    """Holds placed or released in the period, or in force at its end (hold ids and scopes, never reasons)."""
    keys = list(store.list_keys(folder_prefix(HOLDS)))
    releases = {
        hold_id: load(store, key, HoldRelease).released_at.astimezone(zone).date()
        for key in keys
        if (hold_id := released_hold_id(key)) is not None
    }
    lines = []
    for key in sorted(keys):
        if placed_hold_id(key) is None:
            continue
        hold = load(store, key, Hold)
        placed, released = hold.placed_at.astimezone(zone).date(), releases.get(hold.hold_id)
        in_force_at_end = placed <= end and (released is None or released > end)
        touched = start <= placed <= end or (released is not None and start <= released <= end)
        if in_force_at_end or touched:
            lines.append(
                HoldLine(
                    hold_id=hold.hold_id,
                    scope=hold.scope,
                    dataset=hold.dataset,
                    placed_on=placed,
                    placed_by=hold.placed_by,
                    released_on=released,
                )
            )
    return sorted(lines, key=lambda h: (h.placed_on, h.hold_id))


def requests_of(store: ObjectStore, *, start: date, end: date, today: date, zone: tzinfo) -> list[RequestLine]:
    """Subject requests received in the period, or open at its end, with their deadlines (as of `today`)."""
    lines = []
    for status in request_statuses(store, today=today):
        request = status.request
        closed_on = status.closed_at.astimezone(zone).date() if status.closed_at else None
        open_at_end = request.received_on <= end and (closed_on is None or closed_on > end)
        if start <= request.received_on <= end or open_at_end:
            lines.append(
                RequestLine(
                    request_id=request.request_id,
                    request=str(request.request),
                    received_on=request.received_on,
                    due_on=request.due_on,
                    state="closed" if closed_on else "open",
                    closed_on=closed_on,
                    overdue=status.overdue,
                    closed_late=status.closed_late,
                )
            )
    return lines


def reviews_of(
    store: ObjectStore, *, start: date, end: date, today: date, zone: tzinfo
) -> list[tuple[ReviewLine, ReviewReport]]:
    """The daily reviews of the period's days (audit/reviews) with their sign-offs; none is fine."""
    found = []
    for key in sorted(store.list_keys(folder_prefix(AUDIT_REVIEWS))):
        if object_id(key, AUDIT_REVIEWS) is None:
            continue
        report = load(store, key, ReviewReport)
        if not start <= report.day <= end:
            continue
        signed = sign_off_key(report.report_id)
        sign_off = load(store, signed, SignOff) if store.exists(signed) else None
        line = ReviewLine(
            report_id=report.report_id,
            day=report.day,
            verified=report.verified,
            anomalies=len(report.anomalies),
            sign_off_due=report.sign_off_due,
            signed_by=sign_off.signed_by if sign_off else None,
            signed_on=sign_off.signed_at.astimezone(zone).date() if sign_off else None,
            overdue=sign_off is None and today > report.sign_off_due,
            signed_late=sign_off is not None and sign_off.signed_at.astimezone(zone).date() > report.sign_off_due,
        )
        found.append((line, report))
    return sorted(found, key=lambda pair: (pair[0].day, pair[0].report_id))


def verify_summary(store: ObjectStore, registry: Registry, *, today: date) -> VerifySummary:
    """`lineage verify` as the pack states it: keyed when KAKUNIN_HMAC_KEY is set."""
    key = hmac_key_if_set()
    report = verify(store, today=today, key=key, contract_for=registry.contract if key is not None else None)
    return VerifySummary(
        intact=report.intact,
        mode=report.mode,
        manifests=report.manifests,
        certificates=report.certificates,
        audit_entries=report.audit_entries,
        records=report.records,
        problems_by_check=dict(sorted(Counter(p.check for p in report.problems).items())),
        problems=list(report.problems),
    )
