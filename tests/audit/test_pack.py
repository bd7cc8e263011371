"""The evidence pack's gathering, on a small store written by hand (no intake): what each figure counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kakunin import audit
from kakunin.audit.charts import chart_svg, figures
from kakunin.audit.formats import Anomaly, AnomalyKind, ChainVerdict, ReviewReport, SignOff
from kakunin.audit.pack import batches_of, evidence, months_in, receipts_due
from kakunin.audit.pack_html import render_html
from kakunin.contracts import Registry
from kakunin.exports.formats import ExportReceipt
from kakunin.exports.store import write_receipt
from kakunin.layout import BatchRef, hold_key, review_key, sign_off_key
from kakunin.lineage.formats import AuditAction, AuditEntry, Hold, HoldRelease, StoredObject
from kakunin.lineage.receipts import ReceiptProvider, ReceiptV1
from kakunin.storage import LocalStore, ObjectStore
from kakunin.yaml_io import dump_json

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
START, END = date(2026, 11, 1), date(2026, 11, 30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def entry(action: AuditAction, batch_id: str, *, codes: tuple[str, ...] = (), stage: str | None = None) -> AuditEntry:
    detail: dict[str, str | int | float | bool | None] = {"stage": stage} if stage else {}
    return AuditEntry(
        sequence=1, at=NOW, actor="a", action=action, batch_id=batch_id, codes=list(codes), detail=detail, previous=None
    )


def test_batches_count_each_decision_once_and_receipt_only_what_the_gate_decided() -> None:
    entries = [
        entry(AuditAction.ACCEPT, "b1"),
        entry(AuditAction.ACCEPT, "b1"),  # a rerun logged twice still counts once
        entry(AuditAction.PUBLISH, "b1"),
        entry(AuditAction.REJECT, "b2", codes=("provider.missing", "consent.missing"), stage="provenance"),
        entry(AuditAction.ACCEPT, "b3"),
        entry(AuditAction.REJECT, "b3", codes=("accuracy.threshold",), stage="accuracy"),
        entry(AuditAction.VERIFY, "b9"),
    ]
    got = batches_of(entries, {"b1": "1234567890123", "b2": "1234567890123"})
    assert (got.received, got.accepted, got.rejected, got.published) == (3, 2, 2, 1)
    assert got.rejected_by_stage == {"accuracy": 1, "provenance": 1}
    assert got.by_reason == {"accuracy.threshold": 1, "consent.missing": 1, "provider.missing": 1}
    assert [(p.provider, p.received, p.accepted, p.rejected, p.published) for p in got.by_provider] == [
        ("1234567890123", 2, 1, 1, 1),
        ("unknown", 1, 1, 1, 0),
    ]


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        pytest.param(date(2026, 11, 3), date(2026, 11, 4), ["2026-11"], id="one-month"),
        pytest.param(date(2026, 11, 30), date(2027, 2, 1), ["2026-11", "2026-12", "2027-01", "2027-02"], id="new-year"),
    ],
)
def test_months_in_lists_every_month_the_period_touches(start: date, end: date, months: list[str]) -> None:
    assert months_in(start, end) == months


def _export(store: ObjectStore, export_id: str, created: str, *, purpose: str, person: str, rows: int) -> None:
    stored = StoredObject(key=f"exports/jp_customer_leads/{export_id}/data.parquet", sha256="0" * 64, rows=rows)
    write_receipt(
        store,
        ExportReceipt(
            export_id=export_id,
            dataset="jp_customer_leads",
            purpose=purpose,
            columns=["customer_no"],
            requested_by=person,
            actor=person,
            created_at=at(created),
            rows=rows,
            source_batches=[],
            retention_until=None,
            data=stored,
            manifest=stored,
            alert=rows > 100,
        ),
    )


def _hold(store: ObjectStore, hold_id: str, placed: str, released: str | None = None) -> None:
    hold = Hold(
        hold_id=hold_id,
        scope="dataset",
        dataset="jp_customer_leads",
        target="jp_customer_leads",
        reason="litigation L-1",
        placed_by="legal",
        placed_at=at(placed),
    )
    store.put_bytes(hold_key(hold_id), dump_json(hold))
    if released:
        release = HoldRelease(hold_id=hold_id, reason="settled", released_by="legal", released_at=at(released))
        store.put_bytes(hold_key(hold_id, released=True), dump_json(release))


def _review(store: ObjectStore, report_id: str, day: date, *, anomalies: list[AnomalyKind], signed: bool) -> None:
    report = ReviewReport(
        report_id=report_id,
        day=day,
        created_at=NOW,
        created_by="airflow:kakunin_audit",
        verified=True,
        chains=[ChainVerdict(name="audit", ok=True)],
        entries=3,
        people=[],
        anomalies=[Anomaly(kind=k, actor="staff-1", summary="1 export of 500 rows") for k in anomalies],
        sign_off_due=date(2026, 11, 25),
    )
    store.put_bytes(review_key(report_id), dump_json(report))
    if signed:
        sign_off = SignOff(
            report_id=report_id,
            report_sha256="1" * 64,
            signed_by="reviewer-1",
            signed_at=at("2026-11-24T15:30:00+00:00"),  # the 25th in Tokyo
            note="read",
        )
        store.put_bytes(sign_off_key(report_id), dump_json(sign_off))


@pytest.fixture
def small(tmp_path: Path) -> ObjectStore:
    store = LocalStore(tmp_path / "store")
    audit.record(store, AuditAction.ACCEPT, at=at("2026-10-31T15:30:00+00:00"), batch_id="b1")  # Nov 1 in Tokyo
    audit.record(store, AuditAction.ACCEPT, at=at("2026-10-31T14:30:00+00:00"), batch_id="b0")  # Oct 31 in Tokyo
    refused = at("2026-11-10T01:00:00+00:00")
    audit.record(store, AuditAction.EXPORT_REFUSED, at=refused, codes=["export.over_limit"])
    _export(store, "x1", "2026-11-02T01:00:00+00:00", purpose="marketing_email", person="staff-1", rows=500)
    _export(store, "x2", "2026-11-03T01:00:00+00:00", purpose="marketing_email", person="staff-2", rows=20)
    _export(store, "x3", "2026-11-04T01:00:00+00:00", purpose="product_research", person="staff-1", rows=7)
    _export(store, "x4", "2026-12-01T01:00:00+00:00", purpose="product_research", person="staff-1", rows=9)
    _hold(store, "h-released", "2026-10-01T00:00:00+00:00", "2026-11-05T00:00:00+00:00")
    _hold(store, "h-standing", "2026-09-01T00:00:00+00:00")
    _hold(store, "h-old", "2026-09-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00")
    _review(store, "r-signed", date(2026, 11, 24), anomalies=[AnomalyKind.VOLUME, AnomalyKind.OFF_HOURS], signed=True)
    _review(store, "r-unsigned", date(2026, 11, 24), anomalies=[AnomalyKind.VOLUME], signed=False)
    _review(store, "r-december", date(2026, 12, 1), anomalies=[AnomalyKind.BULK_READ], signed=False)
    return store


def test_the_pack_counts_the_periods_days_in_tokyo(small: ObjectStore, registry: Registry) -> None:
    pack = evidence(small, registry, start=START, end=END, now=NOW, zone=TOKYO)

    assert (pack.batches.accepted, pack.batches.received) == (1, 1)  # b0 fell on Oct 31 in Tokyo
    assert pack.exports.refused_by_code == {"export.over_limit": 1}
    assert (pack.exports.exports, pack.exports.rows, pack.exports.alerted) == (3, 527, 1)
    by_purpose = [(t.key, t.exports, t.rows) for t in pack.exports.by_purpose]
    assert by_purpose == [("marketing_email", 2, 520), ("product_research", 1, 7)]
    assert [(t.key, t.exports, t.rows) for t in pack.exports.by_person] == [("staff-1", 2, 507), ("staff-2", 1, 20)]
    assert [(h.hold_id, h.released_on) for h in pack.holds] == [
        ("h-standing", None),
        ("h-released", date(2026, 11, 5)),
    ]
    assert [(r.report_id, r.signed_by, r.signed_on, r.overdue) for r in pack.reviews] == [
        ("r-signed", "reviewer-1", date(2026, 11, 25), False),
        ("r-unsigned", None, None, True),
    ]
    assert pack.anomalies_by_kind == {"off-hours": 1, "volume": 2}
    assert [m.month for m in pack.months] == ["2026-11"]


def test_the_pack_holds_no_hold_reason_and_the_page_escapes_what_it_shows(
    small: ObjectStore, registry: Registry
) -> None:
    _export(
        small,
        "x5",
        "2026-11-05T01:00:00+00:00",
        purpose="marketing_email",
        person="--></svg><script>x()</script>",
        rows=1,
    )
    pack = evidence(small, registry, start=START, end=END, now=NOW, zone=TOKYO)
    assert "litigation L-1" not in pack.model_dump_json()
    page = render_html(pack)
    assert "&lt;script&gt;x()&lt;/script&gt;" in page  # in the table; the chart draws it as glyphs
    assert "<script" not in page
    assert page.count("</svg>") == len([f for f in figures(pack) if chart_svg(f)])
    assert "default-src &#x27;none&#x27;" in page


def test_a_chart_carries_its_figures_numbers_and_ids_of_its_own(small: ObjectStore, registry: Registry) -> None:
    pack = evidence(small, registry, start=START, end=END, now=NOW, zone=TOKYO)
    shown = {f.id: f for f in figures(pack)}
    svg = chart_svg(shown["exports-by-person"])
    assert svg is not None
    assert svg.startswith("<svg")
    ids = [part.split('"')[0] for part in svg.split(' id="')[1:]]
    assert ids
    assert all(i.startswith("exports-by-person-") for i in ids)
    assert chart_svg(shown["holds"]) is None  # a list, not a chart
    assert chart_svg(shown["batches-by-reason"]) is None  # nothing was rejected: the table says "none"


def test_a_reversed_period_is_refused(small: ObjectStore, registry: Registry) -> None:
    with pytest.raises(ValueError, match="starts after it ends"):
        evidence(small, registry, start=END, end=START, now=NOW, zone=TOKYO)


def _receipt(store: ObjectStore, batch_id: str, keep_until: date) -> None:
    provider = ReceiptProvider(kind="corporation", legal_name=None, address=None, representative=None,
                               corporate_number="1234567890123")  # fmt: skip
    receipt = ReceiptV1(
        dataset="jp_customer_leads", batch_id=batch_id, created_at=NOW, keep_until=keep_until, keep_rule="3y",
        received_on=date(2026, 11, 1), provenance_document_id="PRV-1", provenance_document_sha256="2" * 64,
        provider=provider, acquisition_source="web", acquisition_method="form", acquisition_description=None,
        legal_ground="consent", consent_mechanism=None, ppc_filing_id=None, data_items=[], purposes=[],
        subject_key_columns=["customer_no"], manifest_key="m", records=1,
    )  # fmt: skip
    store.put_bytes(BatchRef("jp_customer_leads", batch_id).receipt, dump_json(receipt))


def test_receipts_due_are_those_kept_until_within_90_days_after_the_period(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    for batch_id, keep_until in [
        ("on-the-end", date(2026, 11, 30)),  # its last day is in the period: not "due after" it
        ("day-90", date(2027, 2, 28)),
        ("day-1", date(2026, 12, 1)),
        ("day-91", date(2027, 3, 1)),
    ]:
        _receipt(store, batch_id, keep_until)
    assert [(r.batch_id, r.keep_until) for r in receipts_due(store, end=END)] == [
        ("day-1", date(2026, 12, 1)),
        ("day-90", date(2027, 2, 28)),
    ]
