"""The kakunin_export DAG under real Airflow: each scheduled export released as the run; a refusal fails its task."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kakunin.exports.store import export_receipts, read_export
from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from tests.conftest import REPO
from tests.exports.conftest import ROWS, Published

SCHEDULE = """\
exports:
  - {name: research_cohort, dataset: jp_customer_leads, purpose: product_research, requested_by: research-pipeline}
  - {name: too_wide, dataset: jp_customer_leads, purpose: marketing_email, requested_by: mkt-01, columns: [birth_date]}
"""


def test_scheduled_exports_run_as_the_dag_run(
    airflow_home: Path, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expectations = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", expectations)
    (expectations / "exports.yaml").write_text(SCHEDULE, encoding="utf-8")
    monkeypatch.setenv("KAKUNIN_HOME", str(published.store.root))
    monkeypatch.setenv("KAKUNIN_EXPECTATIONS", str(expectations))

    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251 - a DAG test, as tests/test_dag.py

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("kakunin_export")
    assert {t.task_id for t in dag.tasks} == {"scheduled", "release"}
    run = dag.test()

    states = {ti.map_index: str(ti.state) for ti in run.get_task_instances() if ti.task_id == "release"}
    assert sorted(states.values()) == ["failed", "success"], "the refused export fails its own task only"
    (receipt,) = export_receipts(published.store)
    assert receipt.schedule == "research_cohort"
    assert receipt.delivered is None
    assert receipt.actor == "dag_test", "dag.test() runs as the Airflow user dag_test"
    assert receipt.actor_authenticated_by == "airflow"
    assert read_export(published.store, receipt).num_rows == ROWS
    entries = [AuditEntry.model_validate_json(d) for _, d in Chain(published.store, AUDIT_CHAIN).entries()]
    refused = [e for e in entries if e.action == AuditAction.EXPORT_REFUSED]
    assert [(e.codes, e.detail["schedule"], e.actor_authenticated_by) for e in refused] == [
        (["export.columns"], "too_wide", "airflow")
    ]
