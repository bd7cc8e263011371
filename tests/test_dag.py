"""The kakunin_intake DAG under real Airflow: it imports cleanly and runs end to end with dag.test()."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.lineage.verify import verify
from kakunin.storage import LocalStore
from kakunin_dev.samples import spoil_a_few_rows, write_batch
from tests.conftest import RECEIVED_ON, REPO, TODAY

HMAC_KEY = "ab" * 32


def test_the_dags_import_without_errors(airflow_home: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert {t.task_id for t in bag.get_dag("kakunin_retention").tasks} == {"purge", "verify", "checkpoint"}
    dag = bag.get_dag("kakunin_intake")
    assert dag is not None
    assert {t.task_id for t in dag.tasks} == {
        "find_pending_batches",
        "batch.gate",
        "batch.parse",
        "batch.accuracy",
        "batch.assign",
        "batch.publish",
        "batch.lineage",
        "report",
        "watcher",
    }


def test_the_intake_dag_runs_end_to_end(
    airflow_home: Path, tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path / "store")
    monkeypatch.setenv("KAKUNIN_HOME", str(store.root))
    monkeypatch.setenv("KAKUNIN_HMAC_KEY", HMAC_KEY)
    batches: dict[str, dict[str, Any]] = {
        "utf8": {},
        "cp932": {"encoding": "cp932", "beyond_jis": True},
        "few_bad_rows": {"rows": 600, "data_mutation": spoil_a_few_rows},
    }
    for n, (name, options) in enumerate(batches.items(), start=1):
        folder = write_batch(
            tmp_path / name,
            document_id=f"PRV-2026-{800000 + n:06d}",
            received_on=RECEIVED_ON,
            rows=options.pop("rows", 40),
            seed=200 + n,
            **options,
        )
        assert submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC)).landed

    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("kakunin_intake")
    run = dag.test()
    assert str(run.state) in {"success", "DagRunState.SUCCESS"}
    counts = sorted(
        (h["counts"]["received"], h["counts"]["published"], h["counts"]["quarantined"])
        for h in (_json(p) for p in (store.root / "lineage/manifests").rglob("manifest.json"))
    )
    assert counts == [(40, 40, 0), (40, 40, 0), (600, 595, 5)]
    from kakunin.version import code_version

    versions = {_json(p)["code_version"] for p in (store.root / "lineage/manifests").rglob("manifest.json")}
    assert versions == {code_version()}, "a manifest written under Airflow names the code that wrote it"
    names = pq.read_table(sorted((store.root / "curated").rglob("part-*.parquet"))).column("name_kanji").to_pylist()
    assert any("髙" in (n or "") for n in names)
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    logged = [_json(p) for p in (store.root / "audit/log").glob("*.json")]
    by_dag = [e for e in logged if e["action"] in {"accept", "publish"}]
    assert len(by_dag) == 6
    # dag.test() is triggered by the Airflow user `dag_test`, vouched for by Airflow; submits are self-declared
    assert {(e["actor"], e["actor_authenticated_by"]) for e in by_dag} == {("dag_test", "airflow")}
    assert all(e["actor_authenticated_by"] is None for e in logged if e not in by_dag)

    retention = DagBag(dag_folder=str(REPO / "dags")).get_dag("kakunin_retention")
    purge_run = retention.test(run_conf={"as_of": "2029-12-01", "allow_future": True})
    assert str(purge_run.state) in {"success", "DagRunState.SUCCESS"}
    certificates = [_json(p) for p in (store.root / "lineage/certificates").glob("PC-*[0-9a-f].json")]
    assert [(c["status"], c["purged_count"]) for c in certificates] == [("closed", 675)]
    assert not list((store.root / "curated").rglob("part-*.parquet"))
    assert verify(store, today=TODAY).intact
    [opened] = [e for e in map(_json, (store.root / "audit/log").glob("*.json")) if e["action"] == "purge-open"]
    assert (opened["actor"], opened["actor_authenticated_by"]) == ("dag_test", "airflow"), "who triggered the purge"
    assert (opened["detail"]["as_of"], opened["detail"]["future_as_of"]) == ("2029-12-01", True)
    assert _asset_events(purge_run.run_id) == [
        (f"file://{(store.root / 'curated/jp_customer_leads').resolve()}", {"purged_records": 675})
    ]


def _asset_events(run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The Asset events a run emitted: (URI, extra without the certificate ids)."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run_id).all()
        return [
            (e.asset.uri, {k: v for k, v in e.extra.items() if k != "certificates"})
            for e in sorted(events, key=lambda e: e.id)
        ]


def test_retention_refuses_a_date_that_is_not_a_date_when_triggered(airflow_home: Path) -> None:
    import copy

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(DagBag(dag_folder=str(REPO / "dags")).get_dag("kakunin_retention").params)
    with pytest.raises(ParamValidationError, match="is not a 'date'"):
        params.update({"as_of": "27/11/2026"})  # what a trigger does with its conf, before any task runs
    params.update({"as_of": "2026-11-27", "allow_future": False})
    assert params.validate()["as_of"] == "2026-11-27"


def test_retention_fails_at_once_on_a_future_as_of_not_allowed(
    airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    monkeypatch.setenv("KAKUNIN_HOME", str(tmp_path / "store"))
    retention = DagBag(dag_folder=str(REPO / "dags")).get_dag("kakunin_retention")
    run = retention.test(run_conf={"as_of": "2099-01-01"})
    assert str(run.state) in {"failed", "DagRunState.FAILED"}
    with create_session() as session:
        purge = session.query(TaskInstance).filter_by(run_id=run.run_id, task_id="purge").one()
        assert (purge.state, purge.try_number) == ("failed", 1), "not retried: a retry cannot fix the date"
    assert not (tmp_path / "store" / "lineage" / "certificates").exists()


def _json(path: Path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("status", "skipped"),
    [
        pytest.param("done", False, id="done"),
        pytest.param("rejected", False, id="rejected-here"),
        pytest.param("skipped (rejected earlier)", True, id="rejected-earlier"),
    ],
)
def test_a_step_skips_its_task_only_when_the_batch_was_rejected_earlier(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, status: str, skipped: bool
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    import kakunin.intake.steps as steps
    from kakunin.intake.context import StepOutcome
    from kakunin_airflow.steps import run_step

    monkeypatch.setattr(steps, "run_step", lambda name, ref, ctx: StepOutcome(batch=str(ref), step=name, status=status))
    batch = "jp_customer_leads/20260101T000000000000Z-0123abcd"
    if skipped:
        with pytest.raises(AirflowSkipException, match="rejected earlier"):
            run_step("parse", batch, context_factory=lambda: None)
    else:
        assert run_step("parse", batch, context_factory=lambda: None).status == status


@pytest.mark.parametrize(
    ("error", "fails_at_once"),
    [
        pytest.param("ConfigError", True, id="config"),
        pytest.param("InputError", True, id="input"),
        pytest.param("StorageError", False, id="storage-retried"),
    ],
)
def test_a_step_fails_at_once_only_on_errors_a_retry_cannot_fix(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, error: str, fails_at_once: bool
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    import kakunin.errors
    import kakunin.intake.steps as steps
    from kakunin_airflow.steps import run_step

    def broken(name: str, ref: object, ctx: object) -> None:
        raise getattr(kakunin.errors, error)("dataset jp_customer_leads has no contract")

    monkeypatch.setattr(steps, "run_step", broken)
    expected = AirflowFailException if fails_at_once else getattr(kakunin.errors, error)
    with pytest.raises(expected, match="has no contract"):
        run_step("parse", "jp_customer_leads/20260101T000000000000Z-0123abcd", context_factory=lambda: None)


def test_a_failed_step_fails_the_run_at_once_and_the_report_still_runs(
    airflow_home: Path, tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No HMAC key: the gate cannot work (a ConfigError). Not retried, the run is red, the report says so."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    store = LocalStore(tmp_path / "store")
    monkeypatch.setenv("KAKUNIN_HOME", str(store.root))
    monkeypatch.delenv("KAKUNIN_HMAC_KEY", raising=False)
    folder = write_batch(tmp_path / "b", document_id="PRV-2026-810001", received_on=RECEIVED_ON, rows=40, seed=9)
    assert submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC)).landed

    run = DagBag(dag_folder=str(REPO / "dags")).get_dag("kakunin_intake").test()
    assert str(run.state) in {"failed", "DagRunState.FAILED"}
    with create_session() as session:
        states = {
            ti.task_id: (ti.state, ti.try_number)
            for ti in session.query(TaskInstance).filter_by(run_id=run.run_id)
            if ti.task_id in {"batch.gate", "batch.parse", "report", "watcher"}
        }
        note = session.query(DagRun).filter_by(run_id=run.run_id).one().note
    assert states == {
        "batch.gate": ("failed", 1),
        "batch.parse": ("upstream_failed", 0),
        "report": ("success", 1),
        "watcher": ("failed", 1),
    }
    assert "Unfinished" in note


@pytest.mark.parametrize(
    ("zone", "expected"),
    [pytest.param("Asia/Tokyo", "2026-11-27", id="tokyo"), pytest.param("UTC", "2026-11-26", id="utc")],
)
def test_retention_defaults_to_the_logical_dates_day_in_the_business_time_zone(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, zone: str, expected: str
) -> None:
    """A daily run at 20:00 UTC on the 26th is the 27th in Tokyo: records due on the 27th go then."""
    import importlib

    retention = importlib.import_module("kakunin_retention")
    monkeypatch.setenv("KAKUNIN_TIMEZONE", zone)
    context = {"params": {"as_of": None}, "logical_date": datetime(2026, 11, 26, 20, tzinfo=UTC), "dag_run": None}
    assert retention._as_of(context).isoformat() == expected
    assert retention._as_of({**context, "params": {"as_of": "2026-01-31"}}).isoformat() == "2026-01-31"
