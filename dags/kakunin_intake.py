"""kakunin_intake: every landed batch through the provenance gate, parsing, accuracy, record ids, publish and lineage.

Wiring only: each task is one call into `kakunin.intake.steps` with a batch reference
(`<dataset>/<batch_id>`); data never passes through XCom. Batches are mapped, one task
group per batch, so they run in parallel. A batch rejected at any step is quarantined
by that step, and its later tasks are skipped.

The HMAC key comes from the environment (`KAKUNIN_HMAC_KEY`) or the Airflow Variable
`kakunin_hmac_key`; the store from `KAKUNIN_HOME` / `KAKUNIN_STORAGE`.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Variable, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

log = logging.getLogger(__name__)


def _intake_context() -> Any:
    from kakunin.intake.context import IntakeContext
    from kakunin.keys import ENV_VAR, parse_hmac_key

    configured = os.environ.get(ENV_VAR) or Variable.get("kakunin_hmac_key", default=None)
    run_id = str(get_current_context()["run_id"])
    return IntakeContext.from_env(
        hmac_key=parse_hmac_key(configured) if configured else None,
        actor=f"airflow:kakunin_intake/{run_id}",
        dag_run_id=run_id,
    )


def _run_step(name: str, batch: str) -> str:
    from kakunin.intake.context import BatchBusy, StepStatus
    from kakunin.intake.steps import run_step
    from kakunin.layout import BatchRef

    # Under the batch's lease: a CLI run beside the DAG cannot work on the same batch. A batch
    # another worker holds is skipped here (the holder finishes it, or the next run takes it).
    try:
        outcome = run_step(name, BatchRef.parse(batch), _intake_context())
    except BatchBusy as busy:
        raise AirflowSkipException(f"{busy}; the next run takes it if that worker does not finish it") from busy
    log.info("%s %s: %s %s", name, batch, outcome.status, outcome.detail)
    if outcome.status is StepStatus.SKIPPED:
        raise AirflowSkipException(f"batch {batch} was rejected earlier; nothing to {name}")
    return batch


@dag(
    dag_id="kakunin_intake",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["kakunin", "appi", "intake"],
    doc_md=__doc__,
)
def kakunin_intake() -> None:
    @task
    def find_pending_batches() -> list[str]:
        from kakunin.intake.work import find_pending
        from kakunin.storage import open_store

        return [str(ref) for ref in find_pending(open_store())]

    @task_group(group_id="batch")
    def one_batch(batch: str) -> None:
        @task
        def gate(batch: str) -> str:
            return _run_step("gate", batch)

        @task
        def parse(batch: str) -> str:
            return _run_step("parse", batch)

        @task
        def accuracy(batch: str) -> str:
            return _run_step("accuracy", batch)

        @task
        def assign(batch: str) -> str:
            return _run_step("assign", batch)

        @task
        def publish(batch: str) -> str:
            return _run_step("publish", batch)

        @task
        def lineage(batch: str) -> str:
            return _run_step("lineage", batch)

        lineage(publish(assign(accuracy(parse(gate(batch))))))

    one_batch.expand(batch=find_pending_batches())


kakunin_intake()
