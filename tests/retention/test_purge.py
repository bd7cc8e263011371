"""The retention run: what expires goes, what is held stays, everything is certified and verifiable.

Every test runs on a folder and on S3 (`store` is `any_store`), except where it is about the folder
itself or about purging receipt records: on S3 those are locked by the store (Object Lock) until
their keep_until in real time, so a run with a later clock reports them locked instead of purging."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.layout import AUDIT_CHAIN, CERTIFICATE_CHAIN, CURATED, ERASURE_REQUESTS, RETENTION_JOURNAL, BatchRef
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.lineage.trace import trace
from kakunin.lineage.verify import verify
from kakunin.retention.erasure import erase_request
from kakunin.retention.holds import place_hold, release_hold
from kakunin.retention.purge import InjectedFailure, RetentionContext, dry_run, make_plan, run_retention
from kakunin.storage import LocalStore, ObjectStore
from kakunin.storage.local import machine_id
from tests.conftest import TODAY
from tests.intake.conftest import KEY
from tests.retention.conftest import Published
from tests.stores import keys_like, keys_named, read_parquet, read_parquets, tamper_write, zone_bytes

MakeContext = Callable[..., RetentionContext]
# For a test about the folder itself (or about purging receipts, which S3 locks): the folder only.
LOCAL_ONLY = pytest.mark.parametrize("any_store", ["local"], indirect=True)


@pytest.fixture
def store(any_store: ObjectStore) -> ObjectStore:
    """Every test here runs on a folder and on S3 (`published` publishes into this store)."""
    return any_store


def curated(store: ObjectStore) -> dict[str, bytes]:
    return {key: store.get_bytes(key) for key in keys_named(store, f"{CURATED}/", "part-*")}


def records(store: ObjectStore) -> pa.Table:
    table = read_parquets(store, keys_named(store, f"{CURATED}/", "part-*.parquet"))
    assert table is not None
    return table.sort_by("record_id")


def manifest(store: ObjectStore, batch: BatchRef) -> pa.Table:
    return read_parquet(store, batch.manifest_parquet)


def audit_entries(store: ObjectStore) -> list[AuditEntry]:
    return [AuditEntry.model_validate_json(store.get_bytes(key)) for key in keys_like(store, f"{AUDIT_CHAIN}/*.json")]


def test_dry_run_changes_nothing_and_counts_per_month(published: Published, retention_context: MakeContext) -> None:
    store = published.store
    before = curated(store)
    summary = dry_run(make_plan(retention_context(store, date(2026, 5, 22))))
    assert curated(store) == before
    assert not keys_named(store, "lineage/", "PC-*")
    assert summary.rows, "some of the by-purchase batch has expired by then"
    assert all(row["expiry"] <= "2026-05" for row in summary.rows)
    assert summary.files_rewritten == 1  # the 2026-05 partition is only partly expired


def test_expired_records_are_gone_from_the_content_and_the_rest_unchanged(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    before_files = curated(store)
    before_records = records(store)
    as_of = date(2026, 5, 22)
    (certificate,) = run_retention(retention_context(store, as_of))
    after_records = records(store)
    expired = before_records.filter(pa.compute.less(before_records["retention_until"], pa.scalar(as_of)))
    assert certificate.purged_count == expired.num_rows > 0
    # no purged value survives anywhere in the curated Parquet content
    purged_ids = set(expired["record_id"].to_pylist())
    assert purged_ids.isdisjoint(after_records["record_id"].to_pylist())
    raw = b"".join(curated(store).values())
    for email in expired["email"].to_pylist():
        assert email.encode() not in raw
    # everything else is exactly what it was: untouched files byte for byte, kept records value for value
    touched = {f.key for f in certificate.files}
    for key, content in curated(store).items():
        if key not in touched:
            assert before_files[key] == content
    kept = before_records.filter(
        pa.compute.invert(pa.compute.is_in(before_records["record_id"], pa.array(list(purged_ids))))
    )
    assert kept.to_pylist() == after_records.to_pylist()
    assert {f.action for f in certificate.files} == {"delete", "rewrite"}
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert run_retention(retention_context(store, as_of)) == [], "nothing is purged twice"


def test_a_whole_expired_partition_is_deleted_as_files(published: Published, retention_context: MakeContext) -> None:
    store = published.store
    (certificate,) = run_retention(retention_context(store, date(2028, 1, 1)))
    one_year_files = [f for f in certificate.files if published.one_year.batch_id in f.key]
    assert [f.action for f in one_year_files] == ["delete"]
    assert all(f.method == "whole-file delete" for f in one_year_files)
    remaining = records(store)
    assert set(manifest(store, published.three_years)["record_id"].to_pylist()) == set(
        remaining["record_id"].to_pylist()
    )
    assert verify(store, today=TODAY).intact


def test_held_records_are_kept_and_the_certificate_says_why(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    held_record = manifest(store, published.one_year)["record_id"][0].as_py()
    batch_hold = place_hold(
        store,
        dataset="jp_customer_leads",
        batch_id=published.by_purchase.batch_id,
        record_id=None,
        reason="regulator inquiry",
        placed_by="auditor",
        now=_now(),
    )
    place_hold(
        store,
        dataset="jp_customer_leads",
        batch_id=None,
        record_id=held_record,
        reason="litigation",
        placed_by="counsel",
        now=_now(),
    )
    (certificate,) = run_retention(retention_context(store, date(2028, 1, 1)))
    remaining = set(records(store)["record_id"].to_pylist())
    assert held_record in remaining
    assert set(manifest(store, published.by_purchase)["record_id"].to_pylist()) <= remaining
    reasons = {r.reason: r.records for r in certificate.retained}
    assert reasons == {"regulator inquiry": 40, "litigation": 1}
    assert verify(store, today=TODAY).intact
    release_hold(store, batch_hold.hold_id, reason="inquiry closed", released_by="auditor", now=_now())
    (later,) = run_retention(retention_context(store, date(2028, 1, 1)))
    assert later.purged_count == 40
    assert held_record in set(records(store)["record_id"].to_pylist())


def test_an_erasure_request_reaches_the_subject_in_two_batches(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    first = manifest(store, published.one_year)
    customer_no = (
        records(store)
        .filter(pa.compute.equal(records(store)["record_id"], first["record_id"][0]))["customer_no"][0]
        .as_py()
    )
    request, matches = erase_request(
        store,
        dataset="jp_customer_leads",
        subject_key=[f" {customer_no.lower()} "],
        reason="subject asked (ref 42)",
        key=KEY,
        requested_by="privacy-desk",
        now=_now(),
    )
    assert matches.records == 2
    erasure_store = zone_bytes(store, ERASURE_REQUESTS)
    assert customer_no.encode() not in erasure_store
    assert customer_no.lower().encode() not in erasure_store
    (certificate,) = run_retention(retention_context(store, date(2025, 1, 1)))  # before anything expires
    assert certificate.erasure_requests == [request.request_id]
    assert certificate.purged_count == 2
    assert {b.batch_id for b in certificate.batches} == {published.one_year.batch_id, published.three_years.batch_id}
    assert customer_no not in records(store)["customer_no"].to_pylist()
    story = trace(store, first["record_id"][0].as_py())
    assert story.purged_by == certificate.run_id
    assert f"erasure request {request.request_id}" in story.status
    assert verify(store, today=TODAY).intact


CRASH_POINTS = ["opened", "file-0", "file-1", "file-2", "before-close", "closed"]


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_run_killed_midway_is_finished_by_the_next(
    published: Published, retention_context: MakeContext, crash_at: str
) -> None:
    store = published.store
    held = manifest(store, published.by_purchase)["record_id"][0].as_py()
    place_hold(
        store,
        dataset="jp_customer_leads",
        batch_id=None,
        record_id=held,
        reason="litigation",
        placed_by="c",
        now=_now(),
    )
    before = records(store)
    as_of = date(2028, 1, 1)
    with pytest.raises(InjectedFailure):
        run_retention(retention_context(store, as_of, fail_at={crash_at}))
    interrupted = verify(store, today=TODAY)
    assert not interrupted.intact
    assert any("still open" in p.message or "not linked" in p.message for p in interrupted.problems)
    run_retention(retention_context(store, as_of))
    certificates = closed_certificates(store)
    assert len(certificates) == 1, "the interrupted run is finished; nothing is left for a second one"
    certificate = certificates[0]
    expired = before.filter(pa.compute.less(before["retention_until"], pa.scalar(as_of)))
    assert certificate.purged_count == expired.num_rows - 1
    after = records(store)
    assert held in after["record_id"].to_pylist()
    assert after.num_rows == before.num_rows - certificate.purged_count
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert run_retention(retention_context(store, as_of)) == []


def test_verify_fails_when_a_record_disappears_without_a_certificate(published: Published) -> None:
    store = published.store
    target = keys_named(store, f"{CURATED}/", "part-*.parquet")[0]
    table = read_parquet(store, target)
    shorter = io.BytesIO()
    pq.write_table(table.slice(1), shorter)
    tamper_write(store, target, shorter.getvalue())
    report = verify(store, today=TODAY)
    assert any(
        "no closed purge certificate names" in p.message or "changed since" in p.message for p in report.problems
    )


FAILED_BATCH = "quarantine/jp_customer_leads/20261120T000000000000Z-00000000"


def _a_failed_batch(store: ObjectStore) -> tuple[str, str]:
    """A batch rejected on 2026-11-20: its data (personal) and its rejection record; their keys."""
    data, rejection = f"{FAILED_BATCH}/data.csv", f"{FAILED_BATCH}/rejection.json"
    store.put_bytes(data, b"personal data")
    store.put_bytes(
        rejection,
        b'{"batch_id": "20261120T000000000000Z-00000000", "dataset": "jp_customer_leads", "document_id": null,'
        b' "document_sha256": null, "stage": "parse", "rejected_at": "2026-11-20T00:00:00Z", "findings": []}',
    )
    return data, rejection


def test_quarantine_is_purged_on_its_own_clock_and_receipts_never_early(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    data, rejection = _a_failed_batch(store)
    (early,) = run_retention(retention_context(store, date(2026, 12, 21)))
    assert [q.key.rsplit("/", 1)[1] for q in early.quarantine_removed] == ["data.csv"]
    assert not store.exists(data)
    assert store.exists(rejection), "the decision record stays"
    receipts = keys_named(store, "lineage/receipts/", "*.json")
    assert receipts
    assert not any(c.receipts_removed for c in run_retention(retention_context(store, date(2030, 1, 1)))), (
        "an as-of date in the future never removes a receipt before its keep_until in real time"
    )
    assert all(store.exists(key) for key in receipts)


@LOCAL_ONLY  # purges receipt records, which S3 keeps locked until their keep_until in real time
def test_quarantine_and_receipts_are_purged_on_their_own_clocks(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    data, rejection = _a_failed_batch(store)
    (early,) = run_retention(retention_context(store, date(2026, 12, 21)))
    assert [q.key.rsplit("/", 1)[1] for q in early.quarantine_removed] == ["data.csv"]
    assert not store.exists(data)
    assert store.exists(rejection), "the decision record stays"
    receipts = keys_named(store, "lineage/receipts/", "*.json")
    assert not any(c.receipts_removed for c in run_retention(retention_context(store, date(2030, 1, 1)))), (
        "an as-of date in the future never removes a receipt before its keep_until in real time"
    )
    from datetime import UTC, datetime

    later = datetime(2030, 1, 1, tzinfo=UTC)
    late = run_retention(retention_context(store, date(2030, 1, 1), now=lambda: later))
    assert sum(len(c.receipts_removed) for c in late) == len(receipts)
    assert not any(store.exists(key) for key in receipts)
    assert verify(store, today=date(2030, 1, 1)).intact


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


@LOCAL_ONLY  # about a temporary file a killed process left in the folder's .tmp/
def test_a_retention_run_removes_what_a_killed_writer_left(
    published: Published, retention_context: MakeContext
) -> None:
    """Defect 5 of issue 15: a half-written rewrite of curated data is removed by the next run (it
    held names and emails outside the lineage)."""
    import subprocess
    import sys

    store = published.store
    assert isinstance(store, LocalStore)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    half_written = store.root / ".tmp" / f"{machine_id()}-{int(dead.stdout)}-x1y2z3w4"
    half_written.parent.mkdir(exist_ok=True)
    half_written.write_bytes(store.get_bytes(keys_named(store, f"{CURATED}/", "part-*.parquet")[0]))
    assert [p.check for p in verify(store, today=TODAY).problems] == ["leftover"]
    with pytest.raises(InjectedFailure):
        run_retention(retention_context(store, date(2027, 12, 1), fail_at={"closed"}))
    run_retention(retention_context(store, date(2027, 12, 1)))
    assert not half_written.exists()
    report = verify(store, today=TODAY)
    assert report.intact, report.problems


def test_a_run_killed_after_closing_its_certificate_logs_its_purge_once(
    published: Published, retention_context: MakeContext
) -> None:
    """Defect 10 of issue 15: a run killed after closing its certificate but before logging it gets
    its `purge` entry exactly once."""
    store = published.store
    with pytest.raises(InjectedFailure):
        run_retention(retention_context(store, date(2027, 12, 1), fail_at={"closed"}))
    run_retention(retention_context(store, date(2027, 12, 1)))
    entries = audit_entries(store)
    purges = [e.detail["certificate"] for e in entries if e.action == "purge"]
    opens = [e.detail["certificate"] for e in entries if e.action == "purge-open"]
    assert len(purges) == len(set(purges)) == len(closed_certificates(store)) == 1
    assert opens == purges
    journal = keys_named(store, f"{RETENTION_JOURNAL}/", "*.json")
    assert not journal, journal
    report = verify(store, today=TODAY)
    assert report.intact, report.problems


def test_the_journal_of_a_run_killed_before_writing_its_certificate_is_dropped(
    published: Published, retention_context: MakeContext
) -> None:
    """A run killed after noting the audit log's head but before writing its open certificate
    purged nothing: the next run drops its journal and logs nothing for it."""
    from kakunin import audit
    from kakunin.layout import journal_audit_marker

    store = published.store
    dead_run = "PC-20261127T000000Z-dead00"
    audit.prepare_once(store, journal_audit_marker(dead_run, AuditAction.PURGE_OPEN))
    assert keys_named(store, f"{RETENTION_JOURNAL}/", "*.json")
    run_retention(retention_context(store, date(2026, 12, 1)))
    assert not keys_named(store, f"{RETENTION_JOURNAL}/", "*.json")
    assert all(e.detail.get("certificate") != dead_run for e in audit_entries(store))


def test_a_purge_with_the_key_seals_its_certificate_link_and_audit_entries(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    run_retention(retention_context(store, date(2028, 1, 1), hmac_key=KEY))
    (link,) = keys_like(store, f"{CERTIFICATE_CHAIN}/*.json")
    assert b'"mac":"kakunin.seal/v1:' in store.get_bytes(link)
    report = verify(store, today=TODAY, key=KEY)
    assert report.intact, report.problems
    assert report.certificates == 1


def test_a_purge_without_the_key_is_a_seal_problem_for_keyed_verify(
    published: Published, retention_context: MakeContext
) -> None:
    """Intake sealed the audit log; entries a keyless purge adds after that cannot be told from forgeries."""
    store = published.store
    run_retention(retention_context(store, date(2028, 1, 1)))
    assert verify(store, today=TODAY).intact
    report = verify(store, today=TODAY, key=KEY)
    assert {p.check for p in report.problems} == {"seal"}
    assert any(
        p.where.startswith("audit/log/") and "after the chain's sealing began" in p.message for p in report.problems
    )
    assert ("lineage/certificates/chain", 1) in report.legacy_entries.items()  # its chain never began sealing
