"""kakunin_retention: daily, purge what is past its retention, keep what is held, and certify both.

Wiring only: one task calls `kakunin.retention.purge.run_retention` (which first finishes
any run that died midway), then the lineage is verified, then (when KAKUNIN_SIGNING_KEY is
set) a signed checkpoint of the chain heads is added to the store's log. The as-of date is the run's
logical date, or the `as_of` param (YYYY-MM-DD) of a manual run; an `as_of` after today
also needs `allow_future_as_of: true` (it purges records before their retention ends,
and the certificate says so). While another retention run holds the lease the task
fails with that message and Airflow retries it later.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

log = logging.getLogger(__name__)


@dag(
    dag_id="kakunin_retention",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "as_of": Param(None, type=["null", "string"], description="Purge as of this date (YYYY-MM-DD)."),
        "allow_future_as_of": Param(
            False,
            type="boolean",
            description="Allow an as_of after today (purges records before their retention ends).",
        ),
    },
    tags=["kakunin", "appi", "retention"],
    doc_md=__doc__,
)
def kakunin_retention() -> None:
    @task
    def purge() -> dict[str, int]:
        from kakunin import clock
        from kakunin.retention.purge import RetentionContext, check_as_of, run_retention

        context = get_current_context()
        configured = context["params"].get("as_of")
        as_of = date.fromisoformat(configured) if configured else clock.today()
        allow_future = bool(context["params"].get("allow_future_as_of"))
        future = check_as_of(as_of, today=clock.today(), allow_future=allow_future)
        ctx = RetentionContext.from_env(
            as_of=as_of, future_as_of=future, actor=f"airflow:kakunin_retention/{context['run_id']}"
        )
        certificates = run_retention(ctx)
        for certificate in certificates:
            log.info("certificate %s: %d record(s) purged", certificate.run_id, certificate.purged_count)
        return {"certificates": len(certificates), "records": sum(c.purged_count for c in certificates)}

    @task
    def verify(purged: dict[str, int]) -> bool:
        from kakunin import clock
        from kakunin.lineage.verify import verify as verify_lineage
        from kakunin.storage import open_store

        report = verify_lineage(open_store(), today=clock.today())
        for problem in report.problems:
            log.error("%s %s: %s", problem.check, problem.where, problem.message)
        if not report.intact:
            raise RuntimeError(f"lineage is not intact after the purge: {len(report.problems)} problem(s)")
        return True

    @task
    def checkpoint(verified: bool) -> None:
        from kakunin import clock
        from kakunin.lineage.checkpoint import checkpoint_if_configured
        from kakunin.storage import open_store

        log.info("%s", checkpoint_if_configured(open_store(), now=clock.now_utc()))

    checkpoint(verify(purge()))


kakunin_retention()
