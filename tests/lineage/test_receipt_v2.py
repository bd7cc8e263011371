"""The receipt record (kakunin.receipt/v2) holds exactly its ground's block; v1 receipts still load and verify."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake import manifest
from kakunin.intake.run import run_batch
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.lineage.formats import ReceiptProvider, ReceiptV1, read_receipt
from kakunin.lineage.receipts import Receipt
from kakunin.lineage.trace import first_record_id, trace
from kakunin.lineage.verify import verify
from kakunin.retention.plan import make_plan
from kakunin.retention.purge import RetentionContext
from kakunin.storage import LocalStore
from kakunin_dev.sample_edits import keep_columns
from kakunin_dev.samples import write_batch
from kakunin_dev.samples_v2 import ENTRUSTED_COLUMNS, V2_GROUNDS
from tests.conftest import RECEIVED_ON, TODAY
from tests.intake.conftest import make_context

COMMON = {
    "kind",
    "dataset",
    "batch_id",
    "created_at",
    "keep_until",
    "keep_rule",
    "received_on",
    "provenance_document_id",
    "provenance_document_sha256",
    "provider",
    "acquisition",
    "legal_ground",
    "data_items",
    "purposes",
    "subject_key_columns",
    "manifest_key",
    "records",
}
BLOCK = {
    "consent": ("consent", {"mechanism", "purposes", "obtained_between", "evidence"}),
    "opt_out": ("opt_out", {"ppc_filing_id", "published_on", "items"}),
    "entrustment": ("entrustment", {"client", "scope", "return_by", "evidence"}),
    "business_succession": ("succession", {"predecessor", "effective_on", "purposes", "evidence"}),
    "joint_use": ("joint_use", {"responsible", "users", "items", "purposes", "notified_on", "evidence"}),
    "legal_obligation": ("legal_obligation", {"law", "evidence"}),
}


def _publish(tmp: Path, store: LocalStore, registry: Registry, ground: str, n: int) -> BatchRef:
    folder = write_batch(
        tmp / f"{ground}-{n}",
        document_id=f"PRV-2026-{810000 + n:06d}",
        received_on=RECEIVED_ON,
        rows=8,
        seed=200 + n,
        mutation=V2_GROUNDS[ground],
        data_mutation=keep_columns(ENTRUSTED_COLUMNS) if ground == "entrustment" else None,
    )
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    assert run_batch(ref, make_context(store, registry)).decision == "published"
    return ref


def _stored(store: LocalStore, ref: BatchRef) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(store.get_bytes(ref.receipt))
    return data


@pytest.mark.parametrize("ground", list(BLOCK))
def test_a_receipt_holds_exactly_its_grounds_block(
    ground: str, tmp_path: Path, store: LocalStore, registry: Registry
) -> None:
    ref = _publish(tmp_path, store, registry, ground, 1)
    stored = _stored(store, ref)
    block, fields = BLOCK[ground]
    assert stored["kind"] == "kakunin.receipt/v2"
    assert set(stored) == COMMON | {block}  # no other ground's fields, not even as null
    assert set(stored[block]) == fields
    assert stored["legal_ground"] == ground
    assert set(stored["acquisition"]) == {"source", "method", "description", "received_by", "upstream"}
    assert isinstance(read_receipt(store.get_bytes(ref.receipt)), Receipt)
    assert verify(store, today=TODAY).intact


def test_an_opt_out_receipt_carries_the_filing_received_by_and_the_whole_chain(
    tmp_path: Path, store: LocalStore, registry: Registry
) -> None:
    stored = _stored(store, _publish(tmp_path, store, registry, "opt_out", 2))
    assert stored["opt_out"] == {
        "ppc_filing_id": "OPT-2023-004512",
        "published_on": "2024-05-20",
        "items": [
            "identity.customer_number",
            "identity.name",
            "identity.name_kana",
            "contact.email",
            "contact.phone",
            "contact.postal_code",
            "contact.address",
            "demographic.birth_date",
        ],
    }
    assert stored["acquisition"]["received_by"] == "consent"
    assert stored["acquisition"]["upstream"] == [
        {
            "legal_name": "株式会社元収集者",
            "address": "福岡県福岡市中央区天神1-1",
            "corporate_number": None,
            "legal_ground": "collected",
            "collection_method": "web_form",
            "evidence": ["privacy-notice"],
        }
    ]


def test_an_entrustment_receipt_names_the_client_and_return_by(
    tmp_path: Path, store: LocalStore, registry: Registry
) -> None:
    stored = _stored(store, _publish(tmp_path, store, registry, "entrustment", 3))
    assert stored["entrustment"] == {
        "client": {"legal_name": "株式会社委託元", "address": "東京都新宿区西新宿1-1", "representative": None},
        "scope": "委託元の指示によるDM発送のみ",
        "return_by": "2027-03-20",
        "evidence": ["contract-2026"],
    }
    assert stored["acquisition"]["received_by"] is None  # the client collected it itself
    assert "consent" not in stored
    assert "opt_out" not in stored


def test_a_consent_receipt_keeps_the_period_as_from_and_to(
    tmp_path: Path, store: LocalStore, registry: Registry
) -> None:
    stored = _stored(store, _publish(tmp_path, store, registry, "consent", 4))
    assert stored["consent"]["obtained_between"] == {"from": "2024-04-20", "to": "2026-10-31"}
    assert "ppc_filing_id" not in json.dumps(stored)


@pytest.mark.parametrize(
    ("ground", "blocks"),
    [
        pytest.param("consent", {}, id="no-block"),
        pytest.param("consent", {"opt_out": {"ppc_filing_id": "X", "published_on": None, "items": []}}, id="other"),
    ],
)
def test_a_v2_receipt_with_a_block_not_its_grounds_is_refused(ground: str, blocks: dict[str, Any]) -> None:
    base = _v1_fields() | {"kind": "kakunin.receipt/v2", "legal_ground": ground}
    base |= {"acquisition": {"source": "x", "method": "y", "description": None, "received_by": None, "upstream": []}}
    for old in ("acquisition_source", "acquisition_method", "acquisition_description", "consent_mechanism"):
        del base[old]
    del base["ppc_filing_id"]
    with pytest.raises(ValueError, match="carries the consent block and no other"):
        Receipt.model_validate(base | blocks)


def _v1_fields() -> dict[str, Any]:
    return {
        "kind": "kakunin.receipt/v1",
        "dataset": "jp_customer_leads",
        "batch_id": "b",
        "created_at": "2026-11-26T00:00:00Z",
        "keep_until": "2029-11-26",
        "keep_rule": "3 years",
        "received_on": "2026-11-20",
        "provenance_document_id": "PRV-2026-000001",
        "provenance_document_sha256": "0" * 64,
        "provider": {
            "kind": "business",
            "legal_name": "株式会社サンプルデータ",
            "address": "東京都",
            "representative": "代表",
            "corporate_number": None,
        },
        "acquisition_source": "data_subjects",
        "acquisition_method": "web_form",
        "acquisition_description": None,
        "legal_ground": "consent",
        "consent_mechanism": "web_checkbox",
        "ppc_filing_id": None,
        "data_items": [],
        "purposes": ["marketing_email"],
        "subject_key_columns": ["customer_no"],
        "manifest_key": "lineage/manifests/x/manifest.parquet",
        "records": 1,
    }


def _v1_receipt(ref: BatchRef, ctx: Any, inputs: Any, now: datetime) -> ReceiptV1:
    """The receipt as the writer before provenance v2 made it (that release's `_receipt`)."""
    document = inputs.document
    return ReceiptV1(
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        created_at=now - timedelta(days=3 * 366),
        keep_until=now.date() - timedelta(days=2),  # written long ago: due for removal
        keep_rule="3 years from the record's creation (APPI Art. 30(4))",
        received_on=document.received_on,
        provenance_document_id=document.document_id,
        provenance_document_sha256=inputs.gate.document_sha256,
        provider=ReceiptProvider(
            kind=document.provider.kind.value,
            legal_name=document.provider.legal_name,
            address=document.provider.address,
            representative=document.provider.representative,
            corporate_number=document.provider.corporate_number,
        ),
        acquisition_source=document.acquisition.source.value,
        acquisition_method=document.acquisition.method.value,
        acquisition_description=document.acquisition.description,
        legal_ground=document.legal_ground.value,
        consent_mechanism=document.consent.mechanism.value if document.consent else None,
        ppc_filing_id=None,
        data_items=[{"column": i.column, "category": i.category} for i in document.data_items],
        purposes=document.purposes,
        subject_key_columns=["customer_no"],
        manifest_key=ref.manifest_parquet,
        records=inputs.assigned.published,
    )


def test_v1_receipts_in_an_existing_store_still_load_verify_trace_and_expire(
    tmp_path: Path, store: LocalStore, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(manifest, "_receipt", _v1_receipt)
        old = _publish(tmp_path, store, registry, "consent", 5)
    new = _publish(tmp_path, store, registry, "consent", 6)
    assert _stored(store, old)["kind"] == "kakunin.receipt/v1"
    assert _stored(store, new)["kind"] == "kakunin.receipt/v2"
    assert isinstance(read_receipt(store.get_bytes(old.receipt)), ReceiptV1)
    assert verify(store, today=TODAY).intact
    record_id = first_record_id(store)
    assert record_id is not None
    assert trace(store, record_id).provider == "株式会社サンプルデータ"
    ctx = RetentionContext(
        store=store, registry=registry, as_of=date.today(), actor="test", now=lambda: datetime.now(UTC)
    )
    assert [r.key for r in make_plan(ctx).receipts] == [old.receipt]  # the v1 one is past its keep_until
