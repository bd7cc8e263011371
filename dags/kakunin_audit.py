"""kakunin_audit: daily, review the previous day of the operation log (監査) and verify every chain.

Wiring only: one task calls `kakunin.audit.review.review_day` as the run's Airflow actor
(the user who triggered the run, else `airflow:kakunin_audit/<run_id>`; vouched for by
Airflow). The day is the `day` param (YYYY-MM-DD), else the day before the run's logical
date in the audit policy's time zone.
The report is written to `audit/reviews/<id>.json` whatever it finds; when any chain fails
verification the task then FAILS, naming the failed checks, so the failure shows in Airflow
and its alerts. A failed run means: do not trust the store until `kakunin lineage verify` is
understood (docs/audit-review.md). Logs carry ids and counts only.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from kakunin_airflow.steps import failing_fast

log = logging.getLogger(__name__)


def _day(context: Any, policy: Any) -> date:
    """The `day` param, else the day before the logical date (else the run's start) in the policy's zone."""
    configured = context["params"].get("day")
    if configured:
        return date.fromisoformat(configured)
    moment: datetime | None = context.get("logical_date") or getattr(context["dag_run"], "run_after", None)
    if moment is None:
        moment = pendulum.now("UTC")
    return policy.day_of(moment) - timedelta(days=1)


@dag(
    dag_id="kakunin_audit",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Review this day (YYYY-MM-DD); empty: the day before the logical date.",
        ),
    },
    tags=["kakunin", "appi", "audit"],
    doc_md=__doc__,
)
def kakunin_audit() -> None:
    @task
    def review() -> dict[str, Any]:
        from kakunin import audit, clock
        from kakunin.audit.policy import load_policy
        from kakunin.audit.review import review_day
        from kakunin.contracts import Registry, default_expectations_root
        from kakunin.keys import hmac_key_if_set
        from kakunin_airflow.actor import run_actor
        from kakunin_airflow.store import task_store

        context = get_current_context()
        with failing_fast(), audit.acting_as(run_actor(context)):
            policy = load_policy(default_expectations_root())
            key = hmac_key_if_set()
            contract_for = Registry(default_expectations_root()).contract if key is not None else None
            day = _day(context, policy)
            report = review_day(
                task_store(), day=day, now=clock.now_utc(), policy=policy, key=key, contract_for=contract_for
            )
        log.info(
            "review %s of %s: %d entries, %d people, %d anomalies",
            report.report_id,
            report.day,
            report.entries,
            len(report.people),
            len(report.anomalies),
        )
        for anomaly in report.anomalies:
            log.warning("anomaly %s: %s, entries %s", anomaly.kind.value, anomaly.actor, anomaly.entries[:20])
        if not report.verified:
            failed = ", ".join(f"{c.name} ({c.problems})" for c in report.chains if not c.ok)
            raise RuntimeError(
                f"audit review {report.report_id}: the lineage is NOT intact, failed checks: {failed}; "
                "run `kakunin lineage verify` (the report is written)"
            )
        return {"report_id": report.report_id, "anomalies": len(report.anomalies), "verified": report.verified}

    review()


kakunin_audit()
