"""Entrusted data (委託) stays apart: only in an entrusted dataset, with client and return_by, gone by return_by."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kakunin.batches import Rejection, submit_batch
from kakunin.contracts import Registry, default_expectations_root
from kakunin.durations import add_months
from kakunin.intake.apart import misplaced_entrusted
from kakunin.intake.run import run_batch
from kakunin.intake.steps import STEPS
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.lineage.verify import verify
from kakunin.provenance.document import check_path
from kakunin.provenance.model import ProvenanceDocument
from kakunin.retention.purge import RetentionContext, run_retention
from kakunin.storage import LocalStore
from kakunin_dev.sample_edits import edit_rows, keep_columns, set_field
from kakunin_dev.samples import good_document, write_batch
from kakunin_dev.samples_v2 import ENTRUSTED_COLUMNS, V2_GROUNDS
from tests.conftest import RECEIVED_ON, TODAY
from tests.intake.conftest import make_context

RETURN_BY = add_months(RECEIVED_ON, 3)  # 2027-02-20: exactly the end of the P3M retention from received_on
SEND_ON = add_months(RECEIVED_ON, 1)  # the mail-out date the retention clock counts from: ends after RETURN_BY
CLIENT = "株式会社委託元"


def _registry(root: Path, *, send_on: bool = False, allowed: str = "[entrusted_processing]") -> Registry:
    """The shipped expectations, with jp_entrusted_mailing's contract optionally given a `send_on` date column
    (so a record's retention can run past return_by) or other allowed purposes."""
    shutil.copytree(default_expectations_root(), root)
    path = root / "jp_entrusted_mailing" / "contract.yaml"
    text = path.read_text(encoding="utf-8")
    if send_on:
        address = "  - {name: address,     type: string, personal: true, category: contact.address}\n"
        text = text.replace(address, address + "  - {name: send_on,     type: date,   nullable: true}\n")
    text = text.replace("allowed_purposes: [entrusted_processing]", f"allowed_purposes: {allowed}")
    path.write_text(text, encoding="utf-8")
    return Registry(root)


def _with_send_on(path: Path) -> None:
    """Keep the mailing columns and add `send_on`: one month after receipt, empty on every fifth row."""
    keep_columns(ENTRUSTED_COLUMNS)(path)

    def edit(rows: list[list[str]]) -> None:
        rows[0].append("send_on")
        for n, row in enumerate(rows[1:]):
            row.append("" if n % 5 == 0 else SEND_ON.isoformat())

    edit_rows(path, edit)


def _entrusted(doc: dict[str, Any], batch: Path) -> None:
    V2_GROUNDS["entrustment"](doc, batch)
    doc["entrustment"]["return_by"] = RETURN_BY
    doc["retention"] = {"period": "P3M", "clock": "column:send_on", "basis": "委託契約書第5条"}


def _submit(tmp: Path, store: LocalStore, registry: Registry, name: str, **options: Any) -> BatchRef:
    folder = write_batch(
        tmp / name, document_id=f"PRV-2026-{820000 + len(name):06d}", received_on=RECEIVED_ON, rows=20, **options
    )
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    return ref


def _retention(store: LocalStore, registry: Registry, as_of: date) -> RetentionContext:
    now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    return RetentionContext(store=store, registry=registry, as_of=as_of, actor="test", now=now, future_as_of=True)


def test_an_entrusted_batch_carries_client_and_return_by_and_is_purged_by_return_by(
    tmp_path: Path, store: LocalStore
) -> None:
    registry = _registry(tmp_path / "exp", send_on=True)
    entrusted = _submit(
        tmp_path, store, registry, "entrusted", seed=31, mutation=_entrusted, data_mutation=_with_send_on
    )
    ours = _submit(tmp_path, store, registry, "ours", seed=32, mutation=set_field("retention.period", "P1Y"))
    for ref in (entrusted, ours):
        assert run_batch(ref, make_context(store, registry)).decision == "published"

    rows = pq.read_table(store.root / entrusted.manifest_parquet).to_pylist()
    assert {(r["client"], r["return_by"]) for r in rows} == {(CLIENT, RETURN_BY)}
    assert max(r["retention_until"] for r in rows) > RETURN_BY  # the mail-out clock runs past the return date
    ours_rows = pq.read_table(store.root / ours.manifest_parquet).to_pylist()
    assert {(r["client"], r["return_by"]) for r in ours_rows} == {(None, None)}

    assert run_retention(_retention(store, registry, RETURN_BY)) == []  # return_by itself is still the client's day
    (certificate,) = run_retention(_retention(store, registry, date.fromordinal(RETURN_BY.toordinal() + 1)))
    assert [(b.batch_id, b.records) for b in certificate.batches] == [(entrusted.batch_id, len(rows))]
    purged = pq.read_table(store.root / certificate.records.key).to_pylist()
    late = [r for r in purged if r["retention_until"] > RETURN_BY]
    assert late, "records whose retention period is longer go too"
    assert {r["reason"] for r in late} == {"the client's return_by passed: entrusted data (委託) returned or deleted"}
    assert not list((store.root / "curated" / "jp_entrusted_mailing").rglob("part-*.parquet"))
    assert list((store.root / "curated" / "jp_customer_leads").rglob("part-*.parquet")), "our own batch stays"
    assert verify(store, today=TODAY).intact


def test_an_entrusted_batch_is_purged_by_return_by_when_its_manifest_keeps_no_footer_statistics(
    tmp_path: Path, store: LocalStore
) -> None:
    """Retention tells from the manifest's footer whether a batch has records past return_by; a manifest
    whose writer kept no statistics is read instead, and its records go all the same."""
    registry = _registry(tmp_path / "exp", send_on=True)
    entrusted = _submit(
        tmp_path, store, registry, "entrusted", seed=31, mutation=_entrusted, data_mutation=_with_send_on
    )
    assert run_batch(entrusted, make_context(store, registry)).decision == "published"
    manifest = store.root / entrusted.manifest_parquet
    rows = pq.read_table(manifest)
    pq.write_table(rows, manifest, write_statistics=False)
    assert pq.ParquetFile(manifest).metadata.row_group(0).column(0).statistics is None

    assert run_retention(_retention(store, registry, RETURN_BY)) == []
    (certificate,) = run_retention(_retention(store, registry, date.fromordinal(RETURN_BY.toordinal() + 1)))
    assert certificate.purged_count == rows.num_rows
    assert not list((store.root / "curated" / "jp_entrusted_mailing").rglob("part-*.parquet"))


def test_an_entrusted_document_naming_jp_customer_leads_is_refused(tmp_path: Path, registry: Registry) -> None:
    folder = write_batch(
        tmp_path / "b",
        document_id="PRV-2026-820101",
        received_on=RECEIVED_ON,
        rows=5,
        seed=41,
        mutation=lambda doc, batch: (V2_GROUNDS["entrustment"](doc, batch), doc.update(dataset="jp_customer_leads")),
    )
    verdict = check_path(folder, registry=registry, today=TODAY)
    assert verdict.decision == "rejected"
    assert ("purpose.not_permitted", "purposes[0]") in [(f.code.value, f.path) for f in verdict.findings]


def _document(**changes: Any) -> ProvenanceDocument:
    doc = good_document(document_id="PRV-2026-820201", received_on=RECEIVED_ON)
    if changes.pop("entrusted", False):
        V2_GROUNDS["entrustment"](doc, Path("unused"))
    doc.update(changes)
    return ProvenanceDocument.model_validate(doc)


@pytest.mark.parametrize(
    ("entrusted", "dataset", "allowed", "expected"),
    [
        pytest.param(True, "jp_entrusted_mailing", ["entrusted_processing"], None, id="entrusted-apart"),
        pytest.param(False, "jp_customer_leads", ["marketing_email"], None, id="ours-apart"),
        pytest.param(True, "jp_customer_leads", ["marketing_email"], "dataset", id="entrusted-into-ours"),
        pytest.param(True, "jp_mixed", ["entrusted_processing", "marketing_email"], "dataset", id="entrusted-mixed"),
        pytest.param(False, "jp_mixed", ["entrusted_processing", "marketing_email"], "legal_ground", id="ours-mixed"),
    ],
)
def test_the_guard_keeps_entrusted_and_own_data_apart(
    entrusted: bool, dataset: str, allowed: list[str], expected: str | None, registry: Registry
) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    finding = misplaced_entrusted(
        _document(entrusted=entrusted), contract.model_copy(update={"dataset": dataset, "allowed_purposes": allowed})
    )
    got = (finding.code.value, finding.path) if finding else None
    assert got == (("ground.entrustment", expected) if expected else None)


def test_publish_refuses_an_entrusted_batch_whose_dataset_changed_its_contract_since_the_gate(
    tmp_path: Path, store: LocalStore
) -> None:
    before = _registry(tmp_path / "before")
    ref = _submit(
        tmp_path,
        store,
        before,
        "changed",
        seed=51,
        mutation=V2_GROUNDS["entrustment"],
        data_mutation=keep_columns(ENTRUSTED_COLUMNS),
    )
    ctx = make_context(store, before)
    for name, step in STEPS[:4]:  # gate, parse, accuracy, assign under the contract as it was
        assert step(ref, ctx).status == "done", name
    after = _registry(tmp_path / "after", allowed="[entrusted_processing, marketing_email]")
    outcome = dict(STEPS)["publish"](ref, replace(ctx, registry=after))
    assert outcome.status == "rejected"
    rejection = Rejection.model_validate_json(store.get_bytes(ref.rejection))
    assert [(f.code.value, f.path) for f in rejection.findings] == [("ground.entrustment", "dataset")]
    assert "委託" in rejection.findings[0].message
    assert not list((store.root / "curated").rglob("*.parquet")), "nothing staged or published remains"
    assert not store.exists(ref.commit)
