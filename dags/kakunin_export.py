"""kakunin_export: daily, release the scheduled exports of expectations/exports.yaml (持ち出し).

Wiring only: `scheduled` lists the configured exports by name, then one mapped task per name
calls `kakunin.exports.schedule.run_scheduled`, which releases it exactly as `kakunin export`
would (purpose, columns, live records only, take-out limits), without a delivered copy: the
export held in the store is what downstream reads. Each task runs as the user who triggered
the run, else as the run (`airflow:kakunin_export/<run_id>`), vouched for by Airflow, so
receipts and audit entries say who ran it. A refused export (目的外利用, a column not allowed, over a limit) is logged
in the audit log and fails its task without a retry; the other exports still run.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

from kakunin_airflow.steps import failing_fast

log = logging.getLogger(__name__)


@dag(
    dag_id="kakunin_export",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["kakunin", "appi", "export"],
    doc_md=__doc__,
)
def kakunin_export() -> None:
    @task
    def scheduled() -> list[str]:
        from kakunin.contracts import default_expectations_root
        from kakunin.exports.schedule import load_schedule

        with failing_fast():
            names = [e.name for e in load_schedule(default_expectations_root()).exports]
        log.info("%d scheduled export(s): %s", len(names), ", ".join(names) or "none")
        return names

    @task(map_index_template="{{ export_name }}")
    def release(name: str) -> dict[str, object]:
        from kakunin import clock
        from kakunin.audit import acting_as
        from kakunin.contracts import Registry, default_expectations_root
        from kakunin.exports.schedule import run_scheduled
        from kakunin_airflow.actor import run_actor
        from kakunin_airflow.store import task_store

        context = get_current_context()
        context["export_name"] = name  # type: ignore[typeddict-unknown-key]  # the mapped task's label
        with failing_fast(), acting_as(run_actor(context)):
            receipt = run_scheduled(
                name, store=task_store(), registry=Registry(default_expectations_root()), now=clock.now_utc()
            )
        log.info("export %s (%s): %d row(s), alert %s", receipt.export_id, name, receipt.rows, receipt.alert)
        return {"export_id": receipt.export_id, "rows": receipt.rows, "alert": receipt.alert}

    release.expand(name=scheduled())


kakunin_export()
