"""kakunin_intake: every landed batch through the provenance gate, parsing, accuracy, record ids, publish and lineage.

Wiring only: each task is one call into `kakunin.intake.steps` with a batch reference
(`<dataset>/<batch_id>`, also the mapped task's label); data never passes through XCom. Batches
are mapped, one task group per batch, so they run in parallel. Under `approval: required`
(expectations/intake-policy.yaml) a batch not yet approved stays in landing (承認待ち) and is
left out of the run until `kakunin provenance approve`. A batch rejected at any step is
quarantined by that step, and its later tasks are skipped.

Refusing data is not a failure: the run stays green (a failed step turns it red, through the
`watcher` task). The final `report` task (run even when a step failed) lists the rejected
batches with their reason codes in the run's note and hands the report to the configured
notifier (`KAKUNIN_NOTIFY_KIND`: log, smtp or slack; see kakunin_airflow/notify.py).
A contract or input error fails its task at once; other errors are retried.

Each published batch emits an Asset event for its curated dataset (alias `kakunin_curated`,
extra: batch, counts); each step reports its datasets and facets to OpenLineage.

The HMAC key comes from the environment (`KAKUNIN_HMAC_KEY`) or the Airflow Variable
`kakunin_hmac_key`; the store from `kakunin_airflow.store.task_store()`
(`KAKUNIN_STORAGE=s3://...` on the Airflow AWS connection, else `KAKUNIN_HOME`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import AssetAlias, dag, get_current_context, task, task_group

from kakunin_airflow.steps import kakunin_step, run_step

log = logging.getLogger(__name__)

CURATED_ALIAS = "kakunin_curated"


def _run_step(name: str, batch: str) -> str:
    run_step(name, batch)
    return batch


def _emit_curated_asset(batch: str) -> None:
    """An Asset event for the batch's curated dataset, once its lineage is written (it is then complete)."""
    from airflow.sdk import Asset

    from kakunin.intake.lineage_facts import curated_uri
    from kakunin.intake.report import BatchState, batch_result
    from kakunin.layout import BatchRef
    from kakunin_airflow.store import task_store

    store = task_store()
    ref = BatchRef.parse(batch)
    result = batch_result(store, ref)
    if result.state is not BatchState.PUBLISHED:
        return
    extra: dict[str, Any] = {
        "batch": batch,
        "batch_id": ref.batch_id,
        "received": result.received,
        "published": result.published,
        "quarantined": result.quarantined,
    }
    asset = Asset(name=f"kakunin_curated_{ref.dataset}", uri=curated_uri(store, ref.dataset))
    get_current_context()["outlet_events"][AssetAlias(CURATED_ALIAS)].add(asset, extra=extra)


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
        from kakunin.approvals import AWAITING, awaiting_approval, load_intake_policy
        from kakunin.contracts import default_expectations_root
        from kakunin.intake.work import find_pending
        from kakunin_airflow.store import task_store

        store, policy = task_store(), load_intake_policy(default_expectations_root())
        pending = find_pending(store)
        waiting = [ref for ref in pending if awaiting_approval(store, ref, policy)]  # left in landing, not an error
        for ref in waiting:
            log.info("%s: %s", ref, AWAITING)
        return [str(ref) for ref in pending if ref not in waiting]

    @task_group(group_id="batch")
    def one_batch(batch: str) -> None:
        @kakunin_step
        def gate(batch: str) -> str:
            return _run_step("gate", batch)

        @kakunin_step
        def parse(batch: str) -> str:
            return _run_step("parse", batch)

        @kakunin_step
        def accuracy(batch: str) -> str:
            return _run_step("accuracy", batch)

        @kakunin_step
        def assign(batch: str) -> str:
            return _run_step("assign", batch)

        @kakunin_step
        def publish(batch: str) -> str:
            return _run_step("publish", batch)

        @kakunin_step(outlets=[AssetAlias(CURATED_ALIAS)])
        def lineage(batch: str) -> str:
            _run_step("lineage", batch)
            _emit_curated_asset(batch)
            return batch

        lineage(publish(assign(accuracy(parse(gate(batch))))))

    @task(trigger_rule="all_done", retries=0)
    def report(batches: list[str]) -> str:
        """The run's outcome per batch: the note of the run, and the notifier's message."""
        from kakunin.intake.report import BatchState, build_report
        from kakunin.layout import BatchRef
        from kakunin_airflow.notify import make_notifier
        from kakunin_airflow.store import task_store

        result = build_report(task_store(), [BatchRef.parse(b) for b in batches])
        note = result.note()
        log.info("%s", note)
        context = get_current_context()
        if result.of(BatchState.REJECTED) or result.of(BatchState.UNFINISHED):
            make_notifier(f"[kakunin] {context['run_id']}: {result.headline()}", note)(context)
        return note

    @task(trigger_rule="one_failed", retries=0)
    def watcher() -> None:
        """The run's other leaf: `report` always succeeds, so without this a failed step would leave the run green."""
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a step failed (not a refused batch): see its task log and the report")

    pending = find_pending_batches()
    steps = one_batch.expand(batch=pending)
    steps >> report(pending)
    [pending, steps] >> watcher()


kakunin_intake()
