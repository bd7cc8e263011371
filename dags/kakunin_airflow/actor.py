"""Who a DAG run acts for: the Airflow user who triggered it, else the run itself; Airflow vouches for both.

A run a person triggered (the UI, the REST API, `airflow dags trigger`, `dag.test()`) carries
that user's name in `DagRun.triggering_user_name` (Airflow 3.1+): the run's audit entries name
that user. A run the scheduler created has none: its actor is `airflow:<dag_id>/<run_id>`,
the string the intake DAG always used. Either way the entries are marked
`actor_authenticated_by: airflow`, since Airflow, not the caller's environment, says who it is.
Tasks run their kakunin calls inside `kakunin.audit.acting_as(run_actor(context))`.
"""

from __future__ import annotations

from typing import Any

from kakunin.audit import Actor

AUTHENTICATED_BY = "airflow"


def actor_of(*, dag_id: str, run_id: str, user: str | None) -> Actor:
    """The triggering user, else `airflow:<dag_id>/<run_id>` (a scheduled run), vouched for by Airflow."""
    who = user.strip() if user and user.strip() else f"airflow:{dag_id}/{run_id}"
    return Actor(id=who[:200], authenticated_by=AUTHENTICATED_BY)


def run_actor(context: Any) -> Actor:
    """The actor of the task's DAG run (its context: `dag_run`, `run_id`)."""
    dag_run = context["dag_run"]
    return actor_of(
        dag_id=str(dag_run.dag_id),
        run_id=str(context["run_id"]),
        user=getattr(dag_run, "triggering_user_name", None),
    )
