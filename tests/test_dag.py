"""The kakunin_intake DAG under real Airflow: it imports cleanly and runs end to end with dag.test()."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh Airflow home (SQLite), migrated, configured before Airflow is first imported."""
    home = tmp_path_factory.mktemp("airflow")
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    os.environ.update(settings)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, timeout=300)
    return home


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
    actors = {_json(p)["actor"] for p in (store.root / "audit/log").glob("*.json")}
    assert any(a.startswith("airflow:kakunin_intake/") for a in actors)

    retention = DagBag(dag_folder=str(REPO / "dags")).get_dag("kakunin_retention")
    purge_run = retention.test(run_conf={"as_of": "2029-12-01", "allow_future_as_of": True})
    assert str(purge_run.state) in {"success", "DagRunState.SUCCESS"}
    certificates = [_json(p) for p in (store.root / "lineage/certificates").glob("PC-*[0-9a-f].json")]
    assert [(c["status"], c["purged_count"]) for c in certificates] == [("closed", 675)]
    assert not list((store.root / "curated").rglob("part-*.parquet"))
    assert verify(store, today=TODAY).intact


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
    import importlib

    from airflow.sdk.exceptions import AirflowSkipException

    import kakunin.intake.steps as steps
    from kakunin.intake.context import StepOutcome

    intake_dag = importlib.import_module("kakunin_intake")
    monkeypatch.setattr(intake_dag, "_intake_context", lambda: None)
    monkeypatch.setattr(steps, "run_step", lambda name, ref, ctx: StepOutcome(batch=str(ref), step=name, status=status))
    if skipped:
        with pytest.raises(AirflowSkipException, match="rejected earlier"):
            intake_dag._run_step("parse", "jp_customer_leads/20260101T000000000000Z-0123abcd")
    else:
        assert intake_dag._run_step("parse", "jp_customer_leads/20260101T000000000000Z-0123abcd") == (
            "jp_customer_leads/20260101T000000000000Z-0123abcd"
        )
