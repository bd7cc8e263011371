"""Purges, erasures and corrections reach every export still held; verify follows them and catches tampering.

Run through the real `kakunin` on the two-providers store (花子 is C9000001 in the first batch,
C9100077 in the second), with exports written before the erasure, purge or correction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin.contracts import Registry
from kakunin.exports.formats import SOURCE_RECORD_ID, ExportReceipt
from kakunin.exports.store import read_export, read_export_manifest
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.corrections import linked_corrections
from kakunin.lineage.formats import Certificate
from kakunin.lineage.verify import verify
from kakunin.retention.context import InjectedFailure, RetentionContext
from kakunin.retention.erasure import erase_request
from kakunin.retention.purge import run_retention
from kakunin.storage import ObjectStore, object_sha256
from kakunin_dev.people import HANAKO
from tests.conftest import TODAY, Run, kakunin_runner
from tests.exports.conftest import MakeExport
from tests.subjects.conftest import KEY, TwoProviders

NEW_EMAIL = "hanako.moved@example.invalid"


@pytest.fixture
def cli(two_providers: TwoProviders) -> Callable[..., Run]:
    """The real `kakunin` on the two-providers store, keyed like its intake."""
    root = Path(two_providers.store.root)  # type: ignore[attr-defined]
    return kakunin_runner(root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex(), "KAKUNIN_ACTOR": "staff:tanaka"})


def hanako(store: ObjectStore, receipt: ExportReceipt) -> list[str]:
    """花子's source record ids in the export as it is now."""
    data = read_export(store, receipt)
    return data.filter(pc.equal(data.column("email"), HANAKO.email)).column(SOURCE_RECORD_ID).to_pylist()


def problems(run: Run) -> list[dict[str, str]]:
    report = json.loads(run.stdout)
    return [p for p in report["problems"] if p["check"] == "exports"]


def the_certificate(store: ObjectStore) -> Certificate:
    (certificate,) = closed_certificates(store)
    return certificate


def test_an_erasure_removes_her_rows_from_exports_written_before_and_names_the_copy_handed_out(
    two_providers: TwoProviders, make_export: MakeExport, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    first = make_export(store, two_providers.first, "EXP-A", delivered=True)
    second = make_export(store, two_providers.second, "EXP-B")
    (her_first,) = hanako(store, first)
    assert cli("lineage", "verify").code == 0  # exports as released: intact

    done = cli("erasure", "request", "--phone", "+81 90 1111 2222", "--reason", "REQ-1", "--now")

    assert done.code == 0, done.stderr
    assert hanako(store, first) == []
    data, manifest = read_export(store, first), read_export_manifest(store, first)
    assert data.num_rows == manifest.num_rows == first.rows - 1
    assert her_first not in manifest.column(SOURCE_RECORD_ID).to_pylist()
    certificate = the_certificate(store)
    assert {(a.key, a.action, a.records_removed) for a in certificate.exports} == {
        (first.data.key, "rewrite", 1),
        (first.manifest.key, "rewrite", 1),
        (second.data.key, "rewrite", 1),
        (second.manifest.key, "rewrite", 1),
    }
    assert all(a.sha256_after == object_sha256(store, a.key) for a in certificate.exports)
    (recall,) = certificate.exports_recall  # only the first export was handed out
    assert (recall.export_id, recall.file, recall.records) == ("EXP-A", "EXP-A.csv", 1)
    assert first.delivered is not None
    assert recall.sha256 == first.delivered.sha256
    verified = cli("lineage", "verify", "--json")
    assert verified.code == 0, problems(verified)
    assert json.loads(verified.stdout)["exports"] == 2


def test_an_expiry_purge_deletes_an_export_whole_and_verify_stays_intact(
    two_providers: TwoProviders, make_export: MakeExport, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    receipt = make_export(store, two_providers.first, "EXP-OLD")

    done = cli("retention", "run", "--as-of", "2200-01-01", "--allow-future-as-of")

    assert done.code == 0, done.stderr
    assert not store.exists(receipt.data.key)
    assert not store.exists(receipt.manifest.key)
    assert {(a.key, a.action) for a in the_certificate(store).exports} == {
        (receipt.data.key, "delete"),
        (receipt.manifest.key, "delete"),
    }
    assert the_certificate(store).exports_recall == []
    verified = cli("lineage", "verify", "--json")
    assert verified.code == 0, problems(verified)


def test_a_correction_rewrites_the_value_in_the_export_and_verify_follows_it(
    two_providers: TwoProviders, make_export: MakeExport, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    mail = make_export(store, two_providers.first, "EXP-MAIL", delivered=True)
    other = make_export(store, two_providers.second, "EXP-OTHER")  # her other record: not corrected
    (record_id,) = hanako(store, mail)
    other_before = object_sha256(store, other.data.key)

    done = cli("subject", "correct", "--record", record_id, "--set", f"email={NEW_EMAIL}", "--reason", "letter 7")

    assert done.code == 0, done.stderr
    data = read_export(store, mail)
    (row,) = [r for r in data.to_pylist() if r[SOURCE_RECORD_ID] == record_id]
    assert row["email"] == NEW_EMAIL
    assert object_sha256(store, other.data.key) == other_before  # does not hold the corrected record: untouched
    (correction,) = linked_corrections(store)
    assert [(c.key, c.sha256_after) for c in correction.exports] == [
        (mail.data.key, object_sha256(store, mail.data.key))
    ]
    assert [(r.export_id, r.records) for r in correction.exports_recall] == [("EXP-MAIL", 1)]
    for key in store.list_keys("lineage/corrections/"):
        assert NEW_EMAIL.encode() not in store.get_bytes(key)
    verified = cli("lineage", "verify", "--json")
    assert verified.code == 0, problems(verified)


def _rewrite(store: ObjectStore, key: str, table: pa.Table) -> None:
    with store.writing(key) as target:
        pq.write_table(table, target, compression="zstd")


def test_an_export_edited_by_hand_fails_verify_naming_it(
    two_providers: TwoProviders, make_export: MakeExport, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    receipt = make_export(store, two_providers.first, "EXP-EDIT")
    data = read_export(store, receipt)
    index = data.schema.get_field_index("email")
    _rewrite(store, receipt.data.key, data.set_column(index, "email", pa.array(["x@example.invalid"] * data.num_rows)))

    verified = cli("lineage", "verify", "--json")

    assert verified.code == 1
    (problem,) = problems(verified)
    assert problem["where"] == receipt.data.key
    assert "EXP-EDIT" in problem["message"]
    assert "altered" in problem["message"]


def test_a_purged_row_put_back_into_an_export_fails_verify(
    two_providers: TwoProviders, make_export: MakeExport, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    receipt = make_export(store, two_providers.first, "EXP-BACK")
    data, manifest = read_export(store, receipt), read_export_manifest(store, receipt)
    (record_id,) = hanako(store, receipt)
    assert cli("erasure", "request", "--email", HANAKO.email, "--reason", "REQ-2", "--now").code == 0

    _rewrite(store, receipt.data.key, data)  # the rows as released, 花子's among them
    _rewrite(store, receipt.manifest.key, manifest)
    verified = cli("lineage", "verify", "--json")

    assert verified.code == 1
    messages = [p["message"] for p in problems(verified)]
    assert any("purged by a closed certificate" in m and record_id in m for m in messages), messages
    assert HANAKO.email not in verified.stdout


def test_a_file_under_exports_without_a_receipt_is_reported(
    two_providers: TwoProviders, make_export: MakeExport, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    receipt = make_export(store, two_providers.first, "EXP-REAL")
    stray = "exports/jp_customer_leads/EXP-SIDE/data.parquet"
    store.put_bytes(stray, store.get_bytes(receipt.data.key))

    verified = cli("lineage", "verify", "--json")

    assert verified.code == 1
    assert [p["where"] for p in problems(verified)] == [stray]


@pytest.mark.parametrize("crash_at", ["exports-planned", "exports-0"])
def test_a_run_killed_while_purging_exports_is_finished_by_the_next(
    two_providers: TwoProviders,
    make_export: MakeExport,
    registry: Registry,
    crash_at: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = two_providers.store
    monkeypatch.setenv("KAKUNIN_HMAC_KEY", KEY.hex())
    receipt = make_export(store, two_providers.first, "EXP-CRASH")
    erase_request(
        store,
        dataset="jp_customer_leads",
        subject_key=["C9000001"],
        reason="R-3",
        key=KEY,
        requested_by="test",
        now=datetime.now(UTC),
    )

    def context(fail_at: set[str]) -> RetentionContext:
        return RetentionContext(
            store=store,
            registry=registry,
            as_of=TODAY,
            now=lambda: datetime.now(UTC),
            actor="test",
            hmac_key=KEY,
            fail_at=fail_at,
        )

    with pytest.raises(InjectedFailure):
        run_retention(context({crash_at}))
    (closed,) = run_retention(context(set()))

    assert hanako(store, receipt) == []
    assert read_export(store, receipt).num_rows == read_export_manifest(store, receipt).num_rows == receipt.rows - 1
    assert [(a.key, a.records_removed) for a in closed.exports] == [(receipt.data.key, 1), (receipt.manifest.key, 1)]
    report = verify(store, today=TODAY, key=KEY, contract_for=registry.contract)
    assert report.intact, report.problems
