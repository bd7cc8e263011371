"""`kakunin subject correct` (訂正): the record is rewritten, the lineage says so, and verify accepts it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.contracts import Column, ColumnType, IdentifierKind
from kakunin.errors import InputError
from kakunin.layout import CORRECTION_CHAIN, RETENTION_LEASE, BatchRef
from kakunin.leases import acquire
from kakunin.lineage.corrections import linked_corrections, with_corrected_digests
from kakunin.lineage.formats import ManifestHeader
from kakunin.lineage.trace import find_manifest_row
from kakunin.storage import LocalStore, ObjectStore, load, object_sha256
from kakunin.subjects.correct import corrected_table, parse_value
from kakunin.subjects.identifiers import Identifier, subject_key
from kakunin.subjects.register import read_index
from kakunin_dev.people import HANAKO
from tests.conftest import Run, kakunin_runner
from tests.subjects.conftest import KEY, TwoProviders

NEW_EMAIL = "hanako.new@example.invalid"


@pytest.fixture
def run(two_providers: TwoProviders) -> Callable[..., Run]:
    """The real `kakunin` on the two-providers store, keyed like its intake."""
    assert isinstance(two_providers.store, LocalStore)
    return kakunin_runner(
        two_providers.store.root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex(), "KAKUNIN_ACTOR": "staff:tanaka"}
    )


def hanako_in(store: ObjectStore, ref: BatchRef) -> str:
    """花子's record id in the batch, found by her email."""
    found = read_index(store, digests={Identifier(IdentifierKind.EMAIL, HANAKO.email).digest(subject_key(KEY))})
    (record_id,) = [r["record_id"] for r in found.to_pylist() if r["batch_id"] == ref.batch_id]
    return str(record_id)


def curated(store: ObjectStore, record_id: str) -> tuple[str, pa.Table]:
    found = find_manifest_row(store, record_id)
    assert found is not None
    key = str(found[0]["curated_file"])
    with store.reading(key) as path:
        return key, pq.read_table(path)


def others(table: pa.Table, record_id: str) -> list[dict[str, object]]:
    return [row for row in table.to_pylist() if row["record_id"] != record_id]


def test_correct_postal_code_then_verify_is_intact_and_trace_shows_it(
    two_providers: TwoProviders, run: Callable[..., Run]
) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    key, before = curated(store, record_id)

    done = run(
        "subject", "correct", "--record", record_id, "--set", "postal_code=100-0001", "--reason", "letter 2026-117"
    )
    assert done.code == 0, done.stderr
    assert "postal_code" in done.stdout
    assert "100-0001" not in done.stdout

    _, after = curated(store, record_id)
    (row,) = [r for r in after.to_pylist() if r["record_id"] == record_id]
    assert row["postal_code"] == "100-0001"
    assert others(after, record_id) == others(before, record_id)  # every other row as it was
    assert after.schema == before.schema

    verified = run("lineage", "verify", "--json")
    report = json.loads(verified.stdout)
    assert verified.code == 0, report["problems"]
    assert report["mode"] == "keyed"
    assert report["corrections"] == 1
    assert report["records_rehashed"]

    trace = run("lineage", "trace", record_id)
    assert trace.code == 0, trace.stderr
    assert "corrected (訂正)" in trace.stdout
    assert "postal_code (letter 2026-117)" in trace.stdout
    assert "the record as corrected" in trace.stdout
    traced = json.loads(run("lineage", "trace", record_id, "--json").stdout)
    (correction,) = traced["corrections"]
    assert correction["columns"] == ["postal_code"]
    assert correction["reason"] == "letter 2026-117"
    assert correction["record_digest_before"] != correction["record_digest_after"]
    assert correction["curated_file"]["key"] == key

    # the lineage names the column, never the value
    for stored in store.list_keys("lineage/corrections/"):
        assert b"100-0001" not in store.get_bytes(stored)
    log = b"".join(store.get_bytes(k) for k in store.list_keys("audit/"))
    assert b"100-0001" not in log
    assert b'"action":"correct"' in log


def test_correcting_the_email_moves_her_index_rows(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    done = run(
        "subject", "correct", "--record", record_id, "--set", f"email={NEW_EMAIL}", "--reason", "ticket 42", "--json"
    )
    assert done.code == 0, done.stdout
    payload = json.loads(done.stdout)
    assert payload["correction"]["identifiers_changed"] is True
    assert payload["correction"]["subject_index"] is not None

    key = subject_key(KEY)
    new = read_index(store, digests={Identifier(IdentifierKind.EMAIL, NEW_EMAIL).digest(key)})
    assert new.column("record_id").to_pylist() == [record_id]
    old = read_index(store, digests={Identifier(IdentifierKind.EMAIL, HANAKO.email).digest(key)})
    assert record_id not in old.column("record_id").to_pylist()
    assert old.column("batch_id").to_pylist() == [two_providers.second.batch_id]  # provider B's copy is untouched
    phone = read_index(store, digests={Identifier(IdentifierKind.PHONE, HANAKO.phone).digest(key)})
    assert record_id in phone.column("record_id").to_pylist()  # her other identifiers stay
    assert NEW_EMAIL.encode() not in store.get_bytes(payload["correction"]["subject_index"]["key"])

    assert run("lineage", "verify").code == 0


def test_a_hand_edit_after_a_correction_fails_verify(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    assert (
        run("subject", "correct", "--record", record_id, "--set", "address=東京都千代田区", "--reason", "r").code == 0
    )
    key, table = curated(store, record_id)
    edited = table.set_column(
        table.schema.get_field_index("postal_code"), "postal_code", pa.array(["999-9999"] * table.num_rows)
    )
    with store.writing(key) as path:
        pq.write_table(edited.cast(table.schema), path, compression="zstd")

    verified = run("lineage", "verify", "--json")
    assert verified.code == 1
    assert any(p["where"] == key for p in json.loads(verified.stdout)["problems"])


def test_a_changed_correction_entry_fails_verify(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    assert run("subject", "correct", "--record", record_id, "--set", "address=", "--reason", "r").code == 0
    (entry,) = [k for k in store.list_keys("lineage/corrections/") if not k.startswith(CORRECTION_CHAIN)]
    store.put_bytes(entry, store.get_bytes(entry).replace(b'"r"', b'"rr"'))
    verified = run("lineage", "verify", "--json")
    assert verified.code == 1
    assert any(p["where"] == entry for p in json.loads(verified.stdout)["problems"])


def test_correction_then_erasure_purge_leaves_verify_intact(
    two_providers: TwoProviders, run: Callable[..., Run]
) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    key, _ = curated(store, record_id)
    assert run("subject", "correct", "--record", record_id, "--set", "postal_code=100-0001", "--reason", "r").code == 0
    corrected_sha = object_sha256(store, key)
    erased = run("erasure", "request", "--dataset", "jp_customer_leads", "--subject-key", "C9000001", "--reason", "e")
    assert erased.code == 0, erased.stderr
    purged = run("retention", "run", "--json")
    assert purged.code == 0, purged.stderr
    (certificate,) = json.loads(purged.stdout)
    (action,) = [f for f in certificate["files"] if f["key"] == key]
    assert action["sha256_before"] == corrected_sha  # the purge found the corrected file

    verified = run("lineage", "verify", "--json")
    assert verified.code == 0, json.loads(verified.stdout)["problems"]
    assert "purged" in run("lineage", "trace", record_id).stdout
    refused = run("subject", "correct", "--record", record_id, "--set", "postal_code=1", "--reason", "r")
    assert refused.code == 2
    assert "purged by certificate" in refused.stderr


def test_a_request_is_closed_by_the_correction(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    done = run("subject", "correct", "--record", record_id, "--set", "postal_code=100-0001", "--reason", "r", "--json")
    closed = json.loads(done.stdout)["request_closed"]
    assert store.exists(f"subjects/requests/{closed}.json")
    assert store.exists(f"subjects/requests/{closed}.closed.json")
    again = run(
        "subject", "correct", "--record", record_id, "--set", "postal_code=1", "--reason", "r", "--request", closed
    )
    assert again.code == 2
    assert "already closed" in again.stderr


# (arguments after the record id, a phrase the refusal must say)
REFUSALS = [
    pytest.param(["--set", "postal_code"], "COLUMN=VALUE", id="no-equals"),
    pytest.param(["--set", "shoe_size=27"], "not a column", id="unknown-column"),
    pytest.param(["--set", "record_id=x"], "cannot be corrected", id="record-id"),
    pytest.param(["--set", "retention_until=2099-01-01"], "cannot be corrected", id="retention-until"),
    pytest.param(["--set", "customer_no=C1"], "subject key", id="subject-key"),
    pytest.param(["--set", "birth_date=1985-13-40"], "not a valid date", id="bad-date"),
    pytest.param(["--set", "consented_at="], "may not be empty", id="null-in-not-nullable"),
    pytest.param(["--set", "consented_at=2026-01-01T10:00:00"], "UTC offset", id="timestamp-without-offset"),
    pytest.param(
        ["--set", "postal_code=1", "--request", "REQ-20260101T000000Z-abcdef"], "no subject request", id="req"
    ),
    pytest.param([], "at least one --set", id="nothing"),
]


def test_bad_input_is_refused_and_nothing_is_written(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    """Every case on one store (each run is a real subprocess): exit 2, `error: ...`, the store unchanged."""
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    before = {k: object_sha256(store, k) for k in store.list_keys("") if not k.startswith("audit/")}
    for case in REFUSALS:
        arguments, phrase = case.values
        done = run("subject", "correct", "--record", record_id, *arguments, "--reason", "r")
        assert done.code == 2, (case.id, done.stdout)
        assert done.stderr.startswith("error: "), (case.id, done.stderr)
        assert phrase in done.stderr, (case.id, done.stderr)
        assert "Traceback" not in done.stderr
    after = {k: object_sha256(store, k) for k in store.list_keys("") if not k.startswith("audit/")}
    assert after == before


def test_unknown_purged_held_and_busy_records_are_refused(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    store = two_providers.store
    unknown = run(
        "subject", "correct", "--record", "019abef0-2300-7f64-94c4-bd404e68c655", "--set", "address=x", "--reason", "r"
    )
    assert unknown.code == 2
    assert "in no manifest" in unknown.stderr
    not_an_id = run("subject", "correct", "--record", "C9000001", "--set", "address=x", "--reason", "r")
    assert not_an_id.code == 2
    assert "not a record id" in not_an_id.stderr

    record_id = hanako_in(store, two_providers.first)
    held = run("hold", "add", "--dataset", "jp_customer_leads", "--record", record_id, "--reason", "litigation")
    assert held.code == 0, held.stderr
    refused = run("subject", "correct", "--record", record_id, "--set", "address=x", "--reason", "r")
    assert refused.code == 2
    assert "legal hold" in refused.stderr

    other = hanako_in(store, two_providers.second)
    lease = acquire(store, RETENTION_LEASE, owner="a-retention-run", now=lambda: datetime.now(UTC))
    assert lease is not None
    busy = run("subject", "correct", "--record", other, "--set", "address=x", "--reason", "r")
    assert busy.code == 75
    assert "retention" in busy.stderr
    lease.release()
    assert list(store.list_keys("lineage/corrections/")) == []


def test_no_key_no_correction(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    record_id = hanako_in(two_providers.store, two_providers.first)
    done = run(
        "subject", "correct", "--record", record_id, "--set", "address=x", "--reason", "r", env={"KAKUNIN_HMAC_KEY": ""}
    )
    assert done.code == 2
    assert "KAKUNIN_HMAC_KEY" in done.stderr


def test_the_header_still_pins_the_published_file(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    """The manifest is append-only: the correction is a new record beside it, not an edit of it."""
    store = two_providers.store
    header_before = store.get_bytes(two_providers.first.manifest_header)
    record_id = hanako_in(store, two_providers.first)
    assert run("subject", "correct", "--record", record_id, "--set", "address=x", "--reason", "r").code == 0
    assert store.get_bytes(two_providers.first.manifest_header) == header_before
    header = load(store, two_providers.first.manifest_header, ManifestHeader)
    (correction,) = linked_corrections(store)
    assert correction.curated_file.sha256_before in {f.sha256 for f in header.curated_files}


VALUES = [
    pytest.param(ColumnType.INTEGER, "42", 42, id="integer"),
    pytest.param(ColumnType.BOOLEAN, "TRUE", True, id="boolean"),
    pytest.param(ColumnType.DATE, "2026-04-01", datetime(2026, 4, 1).date(), id="date"),
    pytest.param(ColumnType.STRING, "", None, id="empty-is-null"),
    pytest.param(ColumnType.STRING, " 東京 ", " 東京 ", id="string-as-given"),
]


@pytest.mark.parametrize(("kind", "text", "value"), VALUES)
def test_parse_value(kind: ColumnType, text: str, value: object) -> None:
    assert parse_value(Column(name="c", type=kind), text) == value


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        pytest.param(ColumnType.INTEGER, "4.2", id="integer"),
        pytest.param(ColumnType.BOOLEAN, "yes", id="boolean"),
        pytest.param(ColumnType.DECIMAL, "abc", id="decimal"),
    ],
)
def test_parse_value_refuses(kind: ColumnType, text: str) -> None:
    with pytest.raises(InputError, match="not a valid"):
        parse_value(Column(name="c", type=kind), text)


def test_corrections_and_a_purge_of_the_same_file_compose_in_any_order(
    two_providers: TwoProviders, run: Callable[..., Run]
) -> None:
    """correct → purge another record of the file (rewrite) → correct again: verify follows all three."""
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    key, table = curated(store, record_id)
    (neighbour,) = [r["customer_no"] for r in others(table, record_id)][:1]
    assert (
        run("subject", "correct", "--record", record_id, "--set", "postal_code=100-0001", "--reason", "one").code == 0
    )
    erased = run(
        "erasure", "request", "--dataset", "jp_customer_leads", "--subject-key", str(neighbour), "--reason", "e"
    )
    assert erased.code == 0, erased.stderr
    purged = run("retention", "run", "--json")
    assert purged.code == 0, purged.stderr
    (certificate,) = json.loads(purged.stdout)
    assert [f["action"] for f in certificate["files"] if f["key"] == key] == ["rewrite"]
    assert (
        run("subject", "correct", "--record", record_id, "--set", "postal_code=100-0002", "--reason", "two").code == 0
    )

    verified = run("lineage", "verify", "--json")
    assert verified.code == 0, json.loads(verified.stdout)["problems"]
    traced = json.loads(run("lineage", "trace", record_id, "--json").stdout)
    assert [c["reason"] for c in traced["corrections"]] == ["one", "two"]
    assert "as corrected" in traced["digest_check"]
    assert curated(store, record_id)[0] == key


def test_a_correction_undone_by_hand_fails_verify(two_providers: TwoProviders, run: Callable[..., Run]) -> None:
    store = two_providers.store
    record_id = hanako_in(store, two_providers.first)
    key, _ = curated(store, record_id)
    original = store.get_bytes(key)
    assert run("subject", "correct", "--record", record_id, "--set", "postal_code=100-0001", "--reason", "r").code == 0
    store.put_bytes(key, original)
    verified = run("lineage", "verify", "--json")
    assert verified.code == 1
    messages = [p["message"] for p in json.loads(verified.stdout)["problems"] if p["where"] == key]
    assert any("as it was before it" in m for m in messages), messages


def test_corrected_table_changes_one_cell_and_refuses_a_change_to_the_same_value() -> None:
    table = pa.table({"record_id": ["a", "b"], "postal_code": ["100-0001", "200-0002"]})
    corrected, changed = corrected_table(table, "a", {"postal_code": "300-0003"})
    assert changed == ["postal_code"]
    assert corrected.to_pylist() == [
        {"record_id": "a", "postal_code": "300-0003"},
        {"record_id": "b", "postal_code": "200-0002"},
    ]
    with pytest.raises(InputError, match="nothing to correct"):
        corrected_table(table, "a", {"postal_code": "100-0001"})


def test_with_corrected_digests_replaces_only_the_corrected_records() -> None:
    rows = pa.table({"record_id": ["a", "b"], "record_digest": ["d1", "d2"]})
    assert with_corrected_digests(rows, {"b": "d2x", "z": "dz"}).column("record_digest").to_pylist() == ["d1", "d2x"]
    assert with_corrected_digests(rows, {}) is rows
