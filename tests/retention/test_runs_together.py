"""Retention runs that meet: one at a time, a stale plan is re-planned, a resumed purge respects new holds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin import leases
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.trace import trace
from kakunin.lineage.verify import verify
from kakunin.retention.erasure import erase_request
from kakunin.retention.holds import place_hold
from kakunin.retention.purge import (
    RETENTION_LEASE,
    InjectedFailure,
    RetentionBusy,
    RetentionContext,
    carry_out,
    make_plan,
    open_certificate,
    open_certificates,
    run_retention,
)
from kakunin.storage import LocalStore
from tests.conftest import TODAY
from tests.intake.conftest import KEY
from tests.retention.conftest import Published

MakeContext = Callable[..., RetentionContext]
BEFORE_ANY_EXPIRY = date(2025, 1, 1)


def _records(store: LocalStore) -> pa.Table:
    return pq.read_table(sorted((store.root / "curated").rglob("part-*.parquet"))).sort_by("record_id")


def _manifest_ids(store: LocalStore, batch_id: str) -> list[str]:
    path = next((store.root / "lineage/manifests").rglob(f"{batch_id}/manifest.parquet"))
    return sorted(pq.read_table(path).column("record_id").to_pylist())


def _erase(store: LocalStore, customer_no: str) -> str:
    request, _ = erase_request(
        store,
        dataset="jp_customer_leads",
        subject_key=[customer_no],
        reason="subject asked",
        key=KEY,
        requested_by="privacy-desk",
        now=datetime.now(UTC),
    )
    return request.request_id


def test_a_second_run_finds_the_first_holding_the_lease_and_changes_nothing(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    opened, go_on = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    class Paused(RetentionContext):
        def checkpoint(self, name: str) -> None:
            if name == "opened":
                opened.set()
                assert go_on.wait(60)

    first_ctx = Paused(
        store=store,
        registry=retention_context(store, TODAY).registry,
        as_of=date(2028, 1, 1),
        now=lambda: datetime.now(UTC),
        actor="first",
    )

    def first() -> None:
        try:
            outcome["first"] = run_retention(first_ctx)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["first"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert opened.wait(60), "the first run reached its plan"
        with pytest.raises(RetentionBusy, match="another retention run"):
            run_retention(retention_context(store, date(2030, 1, 1)))
        assert len(open_certificates(store)) == 1, "the second run opened no certificate of its own"
    finally:
        go_on.set()
        thread.join(60)
    (certificate,) = outcome["first"]  # type: ignore[misc]
    assert certificate.status == "closed"
    assert verify(store, today=TODAY).intact
    assert leases.read(store, RETENTION_LEASE).released  # type: ignore[union-attr]
    later = run_retention(retention_context(store, date(2030, 1, 1)))
    assert later, "once released, the next run proceeds"
    assert later[-1].as_of == date(2030, 1, 1)
    assert verify(store, today=TODAY).intact


def test_a_stale_plan_is_replanned_not_fatal(published: Published, retention_context: MakeContext) -> None:
    store = published.store
    first_ids = _manifest_ids(store, published.one_year.batch_id)
    records = _records(store)
    by_id = dict(zip(records["record_id"].to_pylist(), records["customer_no"].to_pylist(), strict=True))
    first_request = _erase(store, by_id[first_ids[0]])
    plan_a = open_certificate(
        retention_context(store, BEFORE_ANY_EXPIRY), make_plan(retention_context(store, BEFORE_ANY_EXPIRY))
    )
    second_request = _erase(store, by_id[first_ids[1]])
    plan_b = open_certificate(
        retention_context(store, BEFORE_ANY_EXPIRY), make_plan(retention_context(store, BEFORE_ANY_EXPIRY))
    )
    assert {f.key for f in plan_a.files} == {f.key for f in plan_b.files}, "both plan rewrites of the same files"
    carry_out(retention_context(store, BEFORE_ANY_EXPIRY), plan_a)  # plan B is now stale
    closed = run_retention(retention_context(store, BEFORE_ANY_EXPIRY))
    by_run = {c.run_id: c for c in closed}
    stale = by_run[plan_b.run_id]
    assert stale.status == "closed"
    assert {r.key for r in stale.replanned} == {f.key for f in plan_b.files}
    assert stale.purged_count == 0
    assert not stale.files
    assert stale.planned_records is not None
    assert stale.planned_records.key == plan_b.records.key
    assert second_request not in stale.erasure_requests, "its records were not purged by this certificate"
    (follow_up,) = [c for c in closed if c.run_id != plan_b.run_id]
    assert follow_up.erasure_requests == [second_request]
    assert follow_up.purged_count == 2  # the subject's record in the one-year and the three-year batch
    remaining = set(_records(store)["customer_no"].to_pylist())
    assert by_id[first_ids[0]] not in remaining
    assert by_id[first_ids[1]] not in remaining
    assert first_request in plan_a.erasure_requests
    assert not open_certificates(store)
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert run_retention(retention_context(store, BEFORE_ANY_EXPIRY)) == []


def test_a_resumed_purge_keeps_records_held_after_the_crash(
    published: Published, retention_context: MakeContext
) -> None:
    store = published.store
    as_of = date(2028, 1, 1)
    with pytest.raises(InjectedFailure):
        run_retention(retention_context(store, as_of, fail_at={"opened"}))
    held = _manifest_ids(store, published.one_year.batch_id)[0]
    hold = place_hold(
        store,
        dataset="jp_customer_leads",
        batch_id=None,
        record_id=held,
        reason="litigation after the crash",
        placed_by="counsel",
        now=datetime.now(UTC),
    )
    batch_hold = place_hold(
        store,
        dataset="jp_customer_leads",
        batch_id=published.by_purchase.batch_id,
        record_id=None,
        reason="inquiry after the crash",
        placed_by="counsel",
        now=datetime.now(UTC),
    )
    run_retention(retention_context(store, as_of))
    (certificate,) = closed_certificates(store)
    remaining = set(_records(store)["record_id"].to_pylist())
    assert held in remaining
    assert set(_manifest_ids(store, published.by_purchase.batch_id)) <= remaining
    retained = {r.hold_id: r.records for r in certificate.retained}
    assert retained[hold.hold_id] == 1
    assert retained[batch_hold.hold_id] == 40
    purged = set(pq.read_table(store.root / certificate.records.key).column("record_id").to_pylist())
    assert held not in purged
    assert certificate.purged_count == len(purged) == 39
    assert trace(store, held).status.startswith("live")
    report = verify(store, today=TODAY)
    assert report.intact, report.problems


def test_a_hold_placed_after_a_crash_cannot_keep_what_was_already_purged(
    published: Published, retention_context: MakeContext
) -> None:
    """Review finding: the run rewrote a file, was killed, and then a hold named a record it had
    already removed; the resumed certificate must say that record was purged, not kept."""
    store = published.store
    as_of = date(2028, 1, 1)
    records = _records(store)
    ids = pa.array(_manifest_ids(store, published.three_years.batch_id))
    three_years = records.filter(pc.is_in(records["record_id"], value_set=ids))
    _erase(store, three_years["customer_no"][0].as_py())  # the three-year file is rewritten without them
    ctx = retention_context(store, as_of)
    plan = make_plan(ctx)
    index, rewritten = next((i, f) for i, f in enumerate(plan.files) if 0 < f.purge.num_rows < f.total)
    with pytest.raises(InjectedFailure):
        run_retention(retention_context(store, as_of, fail_at={f"file-{index}"}))
    gone = rewritten.purge.column("record_id")[0].as_py()
    assert gone not in set(_records(store)["record_id"].to_pylist()), "the rewrite happened before the kill"
    late = place_hold(
        store,
        dataset="jp_customer_leads",
        batch_id=None,
        record_id=gone,
        reason="litigation after the crash",
        placed_by="counsel",
        now=datetime.now(UTC),
    )
    run_retention(retention_context(store, as_of))
    (certificate,) = closed_certificates(store)
    purged = set(pq.read_table(store.root / certificate.records.key).column("record_id").to_pylist())
    assert gone in purged
    assert late.hold_id not in {r.hold_id for r in certificate.retained}
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
