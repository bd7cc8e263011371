"""Releasing an export: the purpose's records and columns only, live records only, limits to the row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kakunin import audit
from kakunin.codes import ReasonCode
from kakunin.contracts import Registry
from kakunin.exports.formats import SOURCE_RECORD_ID
from kakunin.exports.release import ExportPlan, Refusal, plan_export, release
from kakunin.exports.store import export_receipts, read_export, read_export_manifest
from kakunin.exports.takeout import Limits, Rule, TakeoutPolicy
from kakunin.layout import AUDIT_CHAIN, BatchRef
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import ObjectStore
from tests.exports.conftest import ROWS, Published

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
ROOMY = TakeoutPolicy(default=Limits(rows_per_day=1000, exports_per_day=10, columns=8))


def manifest_ids(store: ObjectStore, ref: BatchRef) -> set[str]:
    with store.open_input(ref.manifest_parquet) as handle:
        return set(pq.read_table(handle, columns=["record_id"]).column("record_id").to_pylist())


def entries(store: ObjectStore) -> list[AuditEntry]:
    return [AuditEntry.model_validate_json(data) for _, data in Chain(store, AUDIT_CHAIN).entries()]


def run(published: Published, registry: Registry, purpose: str, **options: Any) -> Any:
    arguments: dict[str, object] = {"requested_by": "E1024", "now": NOW, "policy": ROOMY} | options
    return release(published.store, registry, dataset="jp_customer_leads", purpose=purpose, **arguments)


# ── plan_export: pure ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("purpose", "columns", "expected"),
    [
        pytest.param("marketing_email", None, ["customer_no", "name_kanji", "email"], id="whole-list"),
        pytest.param("marketing_email", ["email"], ["email"], id="a-subset"),
        pytest.param("telemarketing", None, ReasonCode.EXPORT_PURPOSE_UNREGISTERED, id="unregistered"),
        pytest.param("service_delivery", None, ReasonCode.EXPORT_PURPOSE_NOT_ALLOWED, id="not-the-datasets"),
        pytest.param("marketing_email", ["birth_date"], ReasonCode.EXPORT_COLUMNS, id="not-needed"),
        pytest.param("marketing_email", ["nonsense"], ReasonCode.EXPORT_COLUMNS, id="unknown"),
        pytest.param("marketing_email", ["email", "email"], ReasonCode.EXPORT_COLUMNS, id="twice"),
    ],
)
def test_plan_export(registry: Registry, purpose: str, columns: list[str] | None, expected: object) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    plan = plan_export(contract, registry.purposes, purpose, columns)
    if isinstance(expected, ReasonCode):
        assert isinstance(plan, Refusal)
        assert plan.code is expected
    else:
        assert plan == ExportPlan(dataset="jp_customer_leads", purpose=purpose, columns=expected)


def test_a_column_refusal_names_the_allowed_columns(registry: Registry) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    refusal = plan_export(contract, registry.purposes, "marketing_email", ["birth_date"])
    assert isinstance(refusal, Refusal)
    assert "birth_date" in refusal.message
    assert "customer_no, name_kanji, email" in refusal.message


def test_an_entrusted_dataset_without_export_columns_cannot_be_exported(registry: Registry) -> None:
    contract = registry.contract("jp_entrusted_mailing")
    assert contract is not None
    refusal = plan_export(contract, registry.purposes, "entrusted_processing", None)
    assert isinstance(refusal, Refusal)
    assert refusal.code is ReasonCode.EXPORT_PURPOSE_NOT_ALLOWED


# ── release: the records that carry the purpose, their columns only ─────────────────────


def test_an_export_holds_exactly_the_records_carrying_the_purpose(published: Published, registry: Registry) -> None:
    store = published.store
    research = run(published, registry, "product_research")
    receipt = research.receipt
    rows = read_export(store, receipt)
    assert set(rows.column(SOURCE_RECORD_ID).to_pylist()) == manifest_ids(store, published.research)
    assert rows.column_names == [SOURCE_RECORD_ID, "customer_no", "birth_date", "last_purchase_on"]
    assert receipt.rows == ROWS
    assert receipt.source_batches == [published.research.batch_id]
    manifest = read_export_manifest(store, receipt)
    assert manifest.column(SOURCE_RECORD_ID).to_pylist() == rows.column(SOURCE_RECORD_ID).to_pylist()
    assert set(manifest.column("batch_id").to_pylist()) == {published.research.batch_id}

    email = run(published, registry, "marketing_email").receipt
    both = manifest_ids(store, published.email_only) | manifest_ids(store, published.research)
    assert set(read_export(store, email).column(SOURCE_RECORD_ID).to_pylist()) == both
    assert read_export(store, email).column_names == [SOURCE_RECORD_ID, "customer_no", "name_kanji", "email"]


def test_each_row_keeps_its_source_records_retention(published: Published, registry: Registry) -> None:
    receipt = run(published, registry, "product_research").receipt
    with published.store.open_input(published.research.manifest_parquet) as handle:
        source = pq.read_table(handle, columns=["record_id", "retention_until"]).to_pylist()
    expected = {r["record_id"]: r["retention_until"] for r in source}
    released = read_export_manifest(published.store, receipt).to_pylist()
    assert {r[SOURCE_RECORD_ID]: r["retention_until"] for r in released} == expected
    assert receipt.retention_until == max(expected.values())


def test_columns_narrow_the_export(published: Published, registry: Registry) -> None:
    receipt = run(published, registry, "marketing_email", columns=["customer_no"]).receipt
    assert read_export(published.store, receipt).column_names == [SOURCE_RECORD_ID, "customer_no"]
    assert receipt.columns == ["customer_no"]


def test_records_past_their_retention_are_not_released(published: Published, registry: Registry) -> None:
    later = NOW + timedelta(days=365 * 6)  # past P5Y, not yet purged
    outcome = run(published, registry, "product_research", now=later)
    assert outcome.receipt.rows == 0
    assert outcome.receipt.excluded == {"expired": ROWS}


# ── take-out limits: N allowed, N+1 refused, alert flags ───────────────────────────────


def test_rows_per_day_trips_at_exactly_the_limit(published: Published, registry: Registry) -> None:
    exact = TakeoutPolicy(rules=[Rule(purpose="product_research", rows_per_day=ROWS)])
    assert run(published, registry, "product_research", policy=exact).receipt is not None
    tight = TakeoutPolicy(rules=[Rule(person="E2048", purpose="product_research", rows_per_day=ROWS - 1)])
    refused = run(published, registry, "product_research", policy=tight, requested_by="E2048")
    assert refused.refusal.code is ReasonCode.EXPORT_OVER_LIMIT
    assert f"rows_per_day {ROWS} > {ROWS - 1}" in refused.refusal.message
    assert len(export_receipts(published.store)) == 1


def test_exports_per_day_counts_the_persons_earlier_exports(published: Published, registry: Registry) -> None:
    two = TakeoutPolicy(default=Limits(exports_per_day=2))
    for n in range(2):
        assert run(published, registry, "product_research", policy=two, now=NOW + timedelta(minutes=n)).receipt
    third = run(published, registry, "product_research", policy=two, now=NOW + timedelta(minutes=5))
    assert third.refusal is not None
    other = run(published, registry, "product_research", policy=two, requested_by="E2048")
    assert other.receipt is not None, "another person's count is their own"
    next_day = run(published, registry, "product_research", policy=two, now=NOW + timedelta(days=1))
    assert next_day.receipt is not None


def test_an_alerting_limit_lets_the_export_through_flagged(published: Published, registry: Registry) -> None:
    policy = TakeoutPolicy(default=Limits(rows_per_day=ROWS - 1, on_exceed="alert"))
    outcome = run(published, registry, "product_research", policy=policy)
    receipt = outcome.receipt
    assert receipt.alert
    assert receipt.rows == ROWS
    entry = entries(published.store)[-1]
    assert entry.action == AuditAction.EXPORT
    assert entry.codes == [ReasonCode.EXPORT_OVER_LIMIT.value]
    assert entry.detail["alert"] is True
    assert entry.detail["export_id"] == receipt.export_id


def test_a_refusal_writes_nothing_but_its_audit_entry(published: Published, registry: Registry) -> None:
    root = published.store.root
    before = {p for p in root.rglob("*") if p.is_file()}
    for purpose, columns in (("telemarketing", None), ("service_delivery", None), ("marketing_email", ["birth_date"])):
        assert run(published, registry, purpose, columns=columns).refusal is not None
    after = {p for p in root.rglob("*") if p.is_file()}
    assert not (root / "exports").exists()
    assert not (root / "lineage/exports").exists()
    assert all(p.is_relative_to(root / AUDIT_CHAIN) for p in after - before)
    refused = [e for e in entries(published.store) if e.action == AuditAction.EXPORT_REFUSED]
    assert [e.codes for e in refused] == [
        [ReasonCode.EXPORT_PURPOSE_UNREGISTERED.value],
        [ReasonCode.EXPORT_PURPOSE_NOT_ALLOWED.value],
        [ReasonCode.EXPORT_COLUMNS.value],
    ]


def test_the_receipt_names_an_authenticated_actor(published: Published, registry: Registry) -> None:
    with audit.acting_as(audit.Actor(id="airflow:kakunin_export/manual_1", authenticated_by="airflow")):
        receipt = run(published, registry, "product_research").receipt
    assert (receipt.actor, receipt.actor_authenticated_by) == ("airflow:kakunin_export/manual_1", "airflow")
    assert entries(published.store)[-1].actor_authenticated_by == "airflow"


def test_a_delivered_copy_is_named_and_hashed_in_the_receipt(
    published: Published, registry: Registry, tmp_path: Path
) -> None:
    from kakunin.hashing import sha256_file

    out = tmp_path / "research.parquet"
    receipt = run(published, registry, "product_research", delivered_to=out).receipt
    assert receipt.delivered.key == "research.parquet"
    assert receipt.delivered.sha256 == sha256_file(out)
    assert pq.read_table(out).equals(read_export(published.store, receipt))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary copy is left"


def test_records_no_longer_in_their_curated_file_are_not_released(published: Published, registry: Registry) -> None:
    with published.store.open_input(published.research.manifest_parquet) as handle:
        files = set(pq.read_table(handle, columns=["curated_file"]).column("curated_file").to_pylist())
    for key in files:  # as a purge that emptied the files would leave them: gone
        (published.store.root / key).unlink()
    outcome = run(published, registry, "marketing_email")
    released = set(read_export(published.store, outcome.receipt).column(SOURCE_RECORD_ID).to_pylist())
    assert released == manifest_ids(published.store, published.email_only)


def test_entrusted_records_past_their_return_date_are_expired() -> None:
    """Entrusted data goes back to the client by return_by, even while its retention runs on (委託)."""
    from datetime import date

    import pyarrow as pa

    from kakunin.exports.selection import Excluders, exclusions

    rows = pa.table(
        {
            "record_id": ["a", "b", "c"],
            "subject_digest": ["x", "y", "z"],
            "retention_until": pa.array([date(2030, 1, 1)] * 3, pa.date32()),
            "return_by": pa.array([date(2026, 11, 26), date(2026, 11, 27), None], pa.date32()),
        }
    )
    kept, excluded = exclusions(rows, Excluders(today=date(2026, 11, 27)))
    assert kept.column("record_id").to_pylist() == ["b", "c"]
    assert excluded == {"expired": 1}


def test_a_failed_registration_takes_the_written_files_back_out(
    published: Published, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Personal data that no receipt names would be reached by no purge."""
    from kakunin.exports import store as export_store

    def refuse(*_: object) -> str:
        raise OSError("the store refused the receipt")

    monkeypatch.setattr(export_store, "write_receipt", refuse)
    with pytest.raises(OSError, match="refused the receipt"):
        run(published, registry, "product_research")
    assert list(published.store.list_keys("exports/")) == []
