"""Kakunin's Airflow plugin: the only module under plugins/ that Airflow imports as a plugin
(plugins/.airflowignore keeps it away from the `kakunin` package, which would load GX twice).

It registers one listener: when a kakunin_intake run finishes, its `report` task's text (the
rejected batches with their reason codes) becomes the run's note. Tasks cannot write the note
themselves (Airflow 3 tasks have no database access); the scheduler, which calls dag-run
listeners inside its own transaction, can.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

REPORTED_DAGS = {"kakunin_intake": "report"}  # dag id -> the task whose return value is the run's note


def _report_text(session: Any, dag_run: Any, task_id: str) -> str | None:
    from airflow.models.xcom import XComModel

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value")
    row = session.scalars(query).first()
    value = XComModel.deserialize_value(row) if row is not None else None
    return value if isinstance(value, str) else None


def _note_the_report(dag_run: Any) -> None:
    task_id = REPORTED_DAGS.get(dag_run.dag_id)
    if task_id is None:
        return
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import object_session

    try:
        # The caller's session (the scheduler's, or dag.test's): the note is committed with the run's state.
        session = object_session(dag_run) or settings.Session()
        text = _report_text(session, dag_run, task_id)
        if text:
            target = dag_run if object_session(dag_run) is session else session.get(DagRun, dag_run.id)
            target.note = text[:1000]
        log.info("kakunin: %s note of %s", "wrote the report as the" if text else "no report for the", dag_run.run_id)
    except Exception:  # a listener must never break the scheduler's loop
        log.exception("kakunin: could not write the report of %s to its note", dag_run.run_id)


class _RunNotes:
    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        _note_the_report(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        _note_the_report(dag_run)


class KakuninPlugin(AirflowPlugin):
    name = "kakunin"
    listeners: ClassVar[list[Any]] = [_RunNotes()]
