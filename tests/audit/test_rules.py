"""Each anomaly rule flags what it should and no more: logs planted with audit.record at chosen times.

The entries are the log's own documents, written by the same function every command uses;
the review is then run on that store as `kakunin audit review` runs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kakunin import audit
from kakunin.audit.policy import AuditPolicy
from kakunin.audit.review import review_day
from kakunin.layout import BatchRef
from kakunin.lineage.formats import AuditAction
from kakunin.storage import LocalStore, ObjectStore

JST = timezone(timedelta(hours=9))
DAY = date(2026, 11, 26)  # a Thursday
DATASET = "jp_customer_leads"
PROVIDER = "1234567890123"


def at(hour: int, minute: int = 0, *, on: date = DAY) -> datetime:
    return datetime(on.year, on.month, on.day, hour, minute, tzinfo=JST).astimezone(UTC)


def read(store: ObjectStore, actor: str, records: int, *, when: datetime, dataset: str = DATASET) -> None:
    audit.record(store, AuditAction.READ, at=when, actor=actor, dataset=dataset, detail={"records": records})


def export(store: ObjectStore, actor: str, rows: int, *, when: datetime, alert: bool = False) -> None:
    detail: audit.Detail = {"rows": rows, "alert": alert}
    audit.record(store, AuditAction.EXPORT, at=when, actor=actor, dataset=DATASET, document_id="EXP-1", detail=detail)


def reject(store: ObjectStore, batch: str, *, provider: str | None, in_detail: bool = False) -> None:
    ref = BatchRef(DATASET, batch)
    named = provider is not None and not in_detail
    rejection = {"batch_id": batch, "provider": {"legal_name": "株式会社テスト", "corporate_number": provider}}
    store.put_bytes(ref.rejection, json.dumps(rejection if named else {"batch_id": batch}).encode())
    detail: audit.Detail = {"stage": "provenance", "provider": provider} if in_detail else {"stage": "provenance"}
    audit.record(
        store,
        AuditAction.REJECT,
        at=at(11),
        actor="airflow:kakunin_intake/r1",
        dataset=DATASET,
        batch_id=batch,
        detail=detail,
    )


def baseline(store: ObjectStore, actor: str, rows_a_day: int) -> None:
    for back in range(1, 15):
        export(store, actor, rows_a_day, when=at(10, on=DAY - timedelta(days=back)))


def volume_over_baseline(store: ObjectStore) -> None:
    baseline(store, "ana", 40)
    export(store, "ana", 130, when=at(10))  # > 3 × 40 and > 100


def volume_within_three_times(store: ObjectStore) -> None:
    baseline(store, "ana", 100)
    export(store, "ana", 290, when=at(10))


def volume_over_a_baseline_with_idle_days(store: ObjectStore) -> None:
    for back in range(1, 8):  # busy one week, idle the week before: the median day is 50 rows, not 100
        export(store, "ana", 100, when=at(10, on=DAY - timedelta(days=back)))
    export(store, "ana", 160, when=at(10))


def volume_new_person_under_floor(store: ObjectStore) -> None:
    export(store, "ana", 100, when=at(10))


def volume_new_person_over_floor(store: ObjectStore) -> None:
    read(store, "ana", 60, when=at(10))
    export(store, "ana", 41, when=at(11))  # 101 rows against a baseline of 0


def export_late(store: ObjectStore) -> None:
    export(store, "ben", 5, when=at(19, 0))  # 19:00 is no longer working hours


def export_in_hours(store: ObjectStore) -> None:
    export(store, "ben", 5, when=at(9, 0))
    export(store, "ben", 5, when=at(18, 59))


def bulk_read(store: ObjectStore) -> None:
    with audit.acting_as(audit.Actor(id="cho", authenticated_by="airflow")):
        read(store, "cho", 300, when=at(10))
        read(store, "cho", 201, when=at(11))


def reads_spread_over_datasets(store: ObjectStore) -> None:
    with audit.acting_as(audit.Actor(id="cho", authenticated_by="airflow")):
        read(store, "cho", 500, when=at(10))
        read(store, "cho", 400, when=at(11), dataset="jp_entrusted_mailing")


def three_rejections_of_one_provider(store: ObjectStore) -> None:
    for n in (1, 2, 3):
        reject(store, f"B-{n}", provider=PROVIDER)


def three_rejections_named_in_the_entries(store: ObjectStore) -> None:
    for n in (1, 2, 3):
        reject(store, f"B-{n}", provider=PROVIDER, in_detail=True)


def rejections_of_two_providers(store: ObjectStore) -> None:
    reject(store, "B-1", provider=PROVIDER)
    reject(store, "B-2", provider=PROVIDER)
    reject(store, "B-3", provider="9999999999999")
    reject(store, "B-4", provider=None)


def self_approval(store: ObjectStore) -> None:
    audit.record(
        store, AuditAction.APPROVE_REFUSED, at=at(10), actor="dan", dataset=DATASET, batch_id="B-1", codes=["four_eyes"]
    )


def export_refused_over_limit(store: ObjectStore) -> None:
    audit.record(store, AuditAction.EXPORT_REFUSED, at=at(10), actor="eri", codes=["export.over_limit"])


def export_alerted(store: ObjectStore) -> None:
    export(store, "eri", 50, when=at(10), alert=True)


def export_refused_for_another_reason(store: ObjectStore) -> None:
    audit.record(store, AuditAction.EXPORT_REFUSED, at=at(10), actor="eri", codes=["export.purpose_not_allowed"])


def self_declared_reads(store: ObjectStore) -> None:
    audit.record(store, AuditAction.TRACE, at=at(10), actor="fumi", dataset=DATASET, record_ids=["r1"])
    audit.record(store, AuditAction.SUBJECT_FIND, at=at(11), actor="fumi", record_ids=["r1", "r2"])


def vouched_reads_and_self_declared_verify(store: ObjectStore) -> None:
    with audit.acting_as(audit.Actor(id="fumi", authenticated_by="airflow")):
        audit.record(store, AuditAction.TRACE, at=at(10), dataset=DATASET, record_ids=["r1"])
    audit.record(store, AuditAction.VERIFY, at=at(11), actor="gen", detail={"intact": True})


CASES = [
    pytest.param(volume_over_baseline, {("volume", "ana")}, id="volume-over-3x-baseline"),
    pytest.param(volume_within_three_times, set(), id="volume-within-3x"),
    pytest.param(volume_over_a_baseline_with_idle_days, {("volume", "ana")}, id="volume-idle-days-count-0"),
    pytest.param(volume_new_person_under_floor, set(), id="volume-at-floor"),
    pytest.param(volume_new_person_over_floor, {("volume", "ana"), ("unauthenticated", "ana")}, id="volume-over-floor"),
    pytest.param(export_late, {("off-hours", "ben")}, id="off-hours-evening"),
    pytest.param(export_in_hours, set(), id="in-hours"),
    pytest.param(bulk_read, {("bulk-read", "cho"), ("volume", "cho")}, id="bulk-read"),
    pytest.param(reads_spread_over_datasets, {("volume", "cho")}, id="reads-over-two-datasets"),
    pytest.param(
        three_rejections_of_one_provider, {("repeated-rejections", "airflow:kakunin_intake")}, id="rejections"
    ),
    pytest.param(
        three_rejections_named_in_the_entries,
        {("repeated-rejections", "airflow:kakunin_intake")},
        id="rejections-provider-in-detail",
    ),
    pytest.param(rejections_of_two_providers, set(), id="rejections-two-providers"),
    pytest.param(self_approval, {("self-approval", "dan")}, id="self-approval"),
    pytest.param(export_refused_over_limit, {("export-over-limit", "eri")}, id="export-refused-over-limit"),
    pytest.param(export_alerted, {("export-over-limit", "eri")}, id="export-alerted"),
    pytest.param(export_refused_for_another_reason, set(), id="export-refused-otherwise"),
    pytest.param(self_declared_reads, {("unauthenticated", "fumi")}, id="unauthenticated"),
    pytest.param(vouched_reads_and_self_declared_verify, set(), id="vouched-reads"),
]


@pytest.mark.parametrize(("plant", "expected"), CASES)
def test_each_rule_flags_what_it_should(
    tmp_path: Path, plant: Callable[[ObjectStore], None], expected: set[tuple[str, str]]
) -> None:
    store = LocalStore(tmp_path / "store")
    plant(store)
    report = review_day(store, day=DAY, now=at(3, on=DAY + timedelta(days=1)), policy=AuditPolicy())
    assert {(a.kind.value, a.actor) for a in report.anomalies} == expected
    assert report.verified


def test_an_export_on_a_saturday_is_off_hours(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    saturday = date(2026, 11, 28)
    export(store, "ben", 5, when=at(10, on=saturday))
    report = review_day(store, day=saturday, now=at(3, on=saturday + timedelta(days=1)), policy=AuditPolicy())
    assert [(a.kind.value, a.actor, a.entries) for a in report.anomalies] == [("off-hours", "ben", [1])]
    assert "Sat 10:00" in report.anomalies[0].summary


def test_an_anomaly_names_the_entries_it_rests_on(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    three_rejections_of_one_provider(store)
    (anomaly,) = review_day(store, day=DAY, now=at(3, on=DAY + timedelta(days=1)), policy=AuditPolicy()).anomalies
    assert anomaly.entries == [1, 2, 3]
    assert PROVIDER in anomaly.summary
    assert "株式会社" not in anomaly.summary


def test_thresholds_come_from_the_policy(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    export_in_hours(store)
    policy = AuditPolicy.model_validate({"working_hours": {"start": "10:00", "end": "18:00"}, "volume": {"floor": 5}})
    report = review_day(store, day=DAY, now=at(3, on=DAY + timedelta(days=1)), policy=policy)
    assert sorted(a.kind.value for a in report.anomalies) == ["off-hours", "off-hours", "volume"]
