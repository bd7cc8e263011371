"""The kakunin_audit DAG under real Airflow (dag.test()): it succeeds on an intact log, fails on a tampered one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kakunin import audit
from kakunin.audit.review import read_log, reviews
from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.formats import AuditAction
from kakunin.storage import LocalStore
from tests.audit.test_rules import DAY, at, export
from tests.conftest import REPO


def _audit_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("kakunin_audit")


def _planted(root: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
    monkeypatch.setenv("KAKUNIN_HOME", str(root))
    monkeypatch.delenv("KAKUNIN_HMAC_KEY", raising=False)
    store = LocalStore(root)
    export(store, "ana", 5, when=at(22))  # off hours: an anomaly, which does not fail the run
    audit.record(store, AuditAction.TRACE, at=at(10), actor="ben", dataset="d", record_ids=["r1"])
    return store


def _failed(run: Any) -> bool:
    return str(run.state) in {"failed", "DagRunState.FAILED"}


def test_the_audit_dag_reviews_the_day_as_its_airflow_actor(
    airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _planted(tmp_path / "store", monkeypatch)
    run = _audit_dag().test(run_conf={"day": DAY.isoformat()})
    assert not _failed(run)
    (report,) = reviews(store)
    assert (report.day, report.verified, report.entries) == (DAY, True, 2)
    assert [(a.kind.value, a.actor) for a in report.anomalies] == [("off-hours", "ana"), ("unauthenticated", "ben")]
    assert report.created_by == "dag_test", "dag.test() runs as the Airflow user dag_test"
    logged = read_log(store)[0][-1]
    assert (logged.action, logged.actor_authenticated_by) == (AuditAction.AUDIT_REVIEW, "airflow")


def test_the_audit_dag_fails_on_a_tampered_log_after_writing_its_report(
    airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _planted(tmp_path / "store", monkeypatch)
    first = f"{AUDIT_CHAIN}/{1:012d}.json"
    entry = json.loads(store.get_bytes(first))
    entry["detail"]["rows"] = 1  # someone makes an export look smaller
    store.put_bytes(first, json.dumps(entry, indent=2).encode())
    run = _audit_dag().test(run_conf={"day": DAY.isoformat()})
    assert _failed(run)
    (report,) = reviews(store)
    assert not report.verified
    assert [c.name for c in report.chains if not c.ok] == ["chain"]


def test_without_a_day_the_dag_reviews_the_day_before_the_logical_date(
    airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pendulum

    store = _planted(tmp_path / "store", monkeypatch)
    logical = pendulum.datetime(2026, 11, 27, 1, 0, tz="UTC")  # 10:00 on the 27th in Tokyo
    run = _audit_dag().test(logical_date=logical)
    assert not _failed(run)
    (report,) = reviews(store)
    assert report.day == DAY == logical.date() - timedelta(days=1)
