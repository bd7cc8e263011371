"""kakunin_retention: daily, purge what is past its retention, keep what is held, and certify both.

Wiring only: one task calls `kakunin.retention.purge.run_retention` (which first finishes
any run that died midway), then the lineage is verified, then (when KAKUNIN_SIGNING_KEY is
set) a signed checkpoint of the chain heads is added to the store's log.

The as-of date is the `as_of` param (a date, YYYY-MM-DD, checked when the run is triggered), else
the day of the run's logical date in KAKUNIN_TIMEZONE (default Asia/Tokyo). An `as_of` after today
purges records before their retention ends: it is refused unless `allow_future: true` is given too,
and then the certificate and the audit log (purge-open entry) record it, with the user who
triggered the run as the actor (vouched for by Airflow; a scheduled run's actor is
`airflow:kakunin_retention/<run>`). Each dataset the run changed gets an Asset event (alias
`kakunin_curated`). A bad date or a broken contract fails the task at once; while another
retention run holds the lease the task fails with that message and Airflow retries it later.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import AssetAlias, Param, dag, get_current_context, task

from kakunin_airflow.steps import failing_fast

log = logging.getLogger(__name__)

CURATED_ALIAS = "kakunin_curated"


def _as_of(context: Any) -> date:
    """The `as_of` param, else the logical date's day (else the run's start) in the business time zone."""
    from kakunin import clock

    configured = context["params"].get("as_of")
    if configured:
        return date.fromisoformat(configured)
    moment: datetime | None = context.get("logical_date") or getattr(context["dag_run"], "run_after", None)
    if moment is None:
        return clock.today()
    return moment.astimezone(clock.business_timezone()).date()


def _emit_dataset_assets(certificates: list[Any]) -> None:
    """One Asset event per dataset the run purged from, with the records and certificates involved."""
    from airflow.sdk import Asset

    from kakunin.intake.lineage_facts import curated_uri
    from kakunin_airflow.store import task_store

    store = task_store()
    purged: dict[str, dict[str, Any]] = {}
    for certificate in certificates:
        for batch in certificate.batches:
            seen = purged.setdefault(batch.dataset, {"records": 0, "certificates": []})
            seen["records"] += batch.records
            if certificate.run_id not in seen["certificates"]:
                seen["certificates"].append(certificate.run_id)
    events = get_current_context()["outlet_events"][AssetAlias(CURATED_ALIAS)]
    for dataset, extra in sorted(purged.items()):
        asset = Asset(name=f"kakunin_curated_{dataset}", uri=curated_uri(store, dataset))
        events.add(asset, extra={"purged_records": extra["records"], "certificates": extra["certificates"]})


@dag(
    dag_id="kakunin_retention",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Purge as of this date (YYYY-MM-DD); empty: the logical date's day in KAKUNIN_TIMEZONE.",
        ),
        "allow_future": Param(
            False,
            type="boolean",
            description="Allow an as_of after today (purges records before their retention ends; audited).",
        ),
    },
    tags=["kakunin", "appi", "retention"],
    doc_md=__doc__,
)
def kakunin_retention() -> None:
    @task(outlets=[AssetAlias(CURATED_ALIAS)])
    def purge() -> dict[str, int]:
        from kakunin import clock
        from kakunin.audit import acting_as
        from kakunin.retention.purge import RetentionContext, check_as_of, run_retention
        from kakunin_airflow.actor import run_actor
        from kakunin_airflow.store import task_store

        context = get_current_context()
        actor = run_actor(context)  # who triggered the run, else airflow:kakunin_retention/<run>
        with acting_as(actor), failing_fast():
            as_of = _as_of(context)
            today = clock.today()
            allow_future = bool(context["params"].get("allow_future"))
            if as_of > today and not allow_future:
                from kakunin.errors import InputError

                raise InputError(
                    f"as_of {as_of} is after today ({today}): that would purge records whose retention has not "
                    "ended; trigger with allow_future: true if that is really meant"
                )
            future = check_as_of(as_of, today=today, allow_future=allow_future)
            ctx = RetentionContext.from_env(as_of=as_of, future_as_of=future, actor=actor.id, store=task_store())
            if future:
                log.warning("as_of %s is after today (%s), allowed by %s", as_of, today, ctx.actor)
            certificates = run_retention(ctx)
        for certificate in certificates:
            log.info("certificate %s: %d record(s) purged", certificate.run_id, certificate.purged_count)
        _emit_dataset_assets(certificates)
        return {"certificates": len(certificates), "records": sum(c.purged_count for c in certificates)}

    @task
    def verify(purged: dict[str, int]) -> bool:
        from kakunin import clock
        from kakunin.lineage.verify import verify as verify_lineage
        from kakunin_airflow.store import task_store

        report = verify_lineage(task_store(), today=clock.today())
        for problem in report.problems:
            log.error("%s %s: %s", problem.check, problem.where, problem.message)
        if not report.intact:
            raise RuntimeError(f"lineage is not intact after the purge: {len(report.problems)} problem(s)")
        return True

    @task
    def checkpoint(verified: bool) -> None:
        from kakunin import clock
        from kakunin.lineage.checkpoint import checkpoint_if_configured
        from kakunin_airflow.store import task_store

        log.info("%s", checkpoint_if_configured(task_store(), now=clock.now_utc()))

    checkpoint(verify(purge()))


kakunin_retention()
