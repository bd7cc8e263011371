"""The review's report, the policy, the sign-off once, overdue reports, and a tampered log seen as such."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kakunin import audit
from kakunin.audit.formats import ReviewReport, SignOff
from kakunin.audit.policy import POLICY_FILE, AuditPolicy, load_policy
from kakunin.audit.review import read_log, review_day
from kakunin.audit.sign_off import SignOffRefused, review_statuses, sign_off
from kakunin.contracts import default_expectations_root
from kakunin.errors import ConfigError, StorageNotFound
from kakunin.hashing import sha256_bytes
from kakunin.layout import AUDIT_CHAIN, review_key, sign_off_key
from kakunin.lineage.formats import AuditAction
from kakunin.storage import LocalStore, ObjectStore, load
from tests.audit.test_rules import DAY, at, export, read

NEXT_MORNING = at(3, on=DAY + timedelta(days=1))


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return LocalStore(tmp_path / "store")


def test_the_shipped_policy_file_is_the_defaults() -> None:
    assert load_policy(default_expectations_root()) == AuditPolicy()


def test_without_a_policy_file_the_defaults_apply(tmp_path: Path) -> None:
    assert load_policy(tmp_path) == AuditPolicy()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("timezone: Tokyo\n", "not a UTC offset", id="timezone"),
        pytest.param("sign_off_within: three days\n", "ISO 8601", id="duration"),
        pytest.param("working_hours: {start: '19:00', end: '09:00'}\n", "must be before", id="hours"),
        pytest.param("bulk_read: {records: -1}\n", "bulk_read.records", id="negative"),
        pytest.param("volumes: {factor: 2}\n", "volumes", id="unknown-key"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / POLICY_FILE).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_policy(tmp_path)


def test_the_report_summarises_each_person_of_the_day_only(store: ObjectStore) -> None:
    export(store, "ana", 7, when=at(10, on=DAY - timedelta(days=1)))  # the day before: not in the report
    with audit.acting_as(audit.Actor(id="ana", authenticated_by="airflow")):
        read(store, "ana", 12, when=at(10))
        export(store, "ana", 30, when=at(11))
    audit.record(store, AuditAction.TRACE, at=at(23, 59), actor="ben", dataset="d", record_ids=["r1"])
    audit.record(store, AuditAction.SUBMIT, at=at(0, 0), actor="ben", dataset="d", batch_id="B-1")
    read(store, "cho", 9, when=at(0, 30, on=DAY + timedelta(days=1)))  # still the 26th in UTC: not in the report
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    assert (report.entries, report.first_sequence, report.last_sequence) == (4, 2, 5)
    assert [p.actor for p in report.people] == ["ana", "ben"]
    ana, ben = report.people
    assert (ana.actor, ana.authenticated, ana.records_read, ana.rows_exported) == ("ana", True, 12, 30)
    assert ana.actions == {"exports": 1, "reads": 1}
    assert (ben.actor, ben.authenticated, ben.records_read) == ("ben", False, 1)
    assert ben.actions == {"reads": 1, "submissions": 1}
    assert report.sign_off_due == DAY + timedelta(days=3)
    assert load(store, review_key(report.report_id), ReviewReport) == report


def test_the_review_is_itself_logged(store: ObjectStore) -> None:
    with audit.acting_as(audit.Actor(id="airflow:kakunin_audit/r1", authenticated_by="airflow")):
        report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    (entry,) = read_log(store)[0]
    assert entry.action == AuditAction.AUDIT_REVIEW
    assert (entry.actor, entry.actor_authenticated_by, entry.document_id) == (
        "airflow:kakunin_audit/r1",
        "airflow",
        report.report_id,
    )
    assert entry.detail == {"day": "2026-11-26", "verified": True, "anomalies": 0, "entries": 0}


def test_a_tampered_log_is_reported_not_verified_and_the_report_is_written(store: ObjectStore) -> None:
    for hour in (10, 11, 12):
        read(store, "ana", 1, when=at(hour))
    first = f"{AUDIT_CHAIN}/{1:012d}.json"
    store.put_bytes(first, store.get_bytes(first).replace(b'"ana"', b'"eve"'))
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    assert not report.verified
    assert [c.name for c in report.chains if not c.ok] == ["chain"]
    assert store.exists(review_key(report.report_id))


def test_a_sign_off_is_written_once_with_the_report_hash(store: ObjectStore) -> None:
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    signed = sign_off(store, report.report_id, by="lead-01", note="nothing unusual", now=NEXT_MORNING)
    assert signed.report_sha256 == sha256_bytes(store.get_bytes(review_key(report.report_id)))
    assert load(store, sign_off_key(report.report_id), SignOff) == signed
    with pytest.raises(SignOffRefused, match="already signed off") as refused:
        sign_off(store, report.report_id, by="lead-02", note="me too", now=NEXT_MORNING)
    assert refused.value.exit_code == 1
    assert load(store, sign_off_key(report.report_id), SignOff).signed_by == "lead-01"
    last = read_log(store)[0][-1]
    assert (last.action, last.actor, last.document_id) == (AuditAction.AUDIT_SIGN_OFF, "lead-01", report.report_id)


def test_signing_off_a_report_that_is_not_there_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(StorageNotFound, match="no review report REV-20261126-abcdef"):
        sign_off(store, "REV-20261126-abcdef", by="lead-01", note="x", now=NEXT_MORNING)
    assert read_log(store) == ([], 0)


def test_a_reviewer_with_anomalies_that_day_may_not_sign_it_off(store: ObjectStore) -> None:
    export(store, "lead-01", 5, when=at(22))  # off hours
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    with pytest.raises(SignOffRefused, match="自己承認") as refused:
        sign_off(store, report.report_id, by="lead-01", note="fine", now=NEXT_MORNING)
    assert refused.value.code == "four_eyes"
    assert not store.exists(sign_off_key(report.report_id))
    sign_off(store, report.report_id, by="lead-02", note="asked lead-01: month-end run", now=NEXT_MORNING)


def test_a_report_past_its_due_day_unsigned_is_overdue(store: ObjectStore) -> None:
    policy = AuditPolicy()
    first = review_day(store, day=DAY, now=NEXT_MORNING, policy=policy)
    on_time = review_day(store, day=DAY + timedelta(days=1), now=at(3, on=DAY + timedelta(days=2)), policy=policy)
    # the third review runs the day after the first report's due day (DAY + 3)
    later = review_day(store, day=DAY + timedelta(days=3), now=at(3, on=DAY + timedelta(days=4)), policy=policy)
    assert later.overdue_sign_offs == [first.report_id]
    statuses = {s.report_id: s.status for s in review_statuses(store, today=DAY + timedelta(days=4))}
    assert statuses == {first.report_id: "overdue", on_time.report_id: "unsigned", later.report_id: "unsigned"}
    sign_off(store, first.report_id, by="lead-01", note="late, read now", now=at(4, on=DAY + timedelta(days=4)))
    assert review_statuses(store, today=DAY + timedelta(days=4))[0].status == "signed"
    next_day = review_day(store, day=DAY + timedelta(days=4), now=at(3, on=DAY + timedelta(days=5)), policy=policy)
    assert next_day.overdue_sign_offs == [on_time.report_id]  # the signed one is no longer listed


def test_a_reviewer_cannot_slip_past_their_own_anomalies_by_changing_case(store: ObjectStore) -> None:
    export(store, "lead-01", 5, when=at(22))  # off hours
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    with pytest.raises(SignOffRefused, match="自己承認"):
        sign_off(store, report.report_id, by=" LEAD-01", note="fine", now=NEXT_MORNING)
    assert not store.exists(sign_off_key(report.report_id))


def test_a_sign_off_after_its_due_day_is_shown_late(store: ObjectStore) -> None:
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    sign_off(store, report.report_id, by="lead-02", note="read late", now=at(4, on=report.sign_off_due + timedelta(1)))
    (status,) = review_statuses(store, today=report.sign_off_due + timedelta(days=2))
    assert (status.status, status.signed_late) == ("signed", True)


def test_scheduled_runs_of_one_dag_are_one_person_with_a_history(store: ObjectStore) -> None:
    """Each scheduled run has its own actor id; counted per run, every run would have a baseline of 0."""
    for days_before in range(1, 8):
        export(
            store, f"airflow:kakunin_export/scheduled__{days_before}", 300, when=at(10, on=DAY - timedelta(days_before))
        )
    export(store, "airflow:kakunin_export/scheduled__0", 300, when=at(10))
    report = review_day(store, day=DAY, now=NEXT_MORNING, policy=AuditPolicy())
    assert [p.actor for p in report.people] == ["airflow:kakunin_export"]
    assert [a.kind.value for a in report.anomalies if a.kind.value == "volume"] == []
