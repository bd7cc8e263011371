"""The DAG run's actor: the triggering Airflow user, else the run itself; Airflow vouches for both.

The real `dag.test()` run's entries are checked in tests/test_dag.py (actor `dag_test`, `airflow`).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kakunin_airflow.actor import actor_of, run_actor


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        pytest.param("u-hanako", "u-hanako", id="triggered-by-a-user"),
        pytest.param(None, "airflow:kakunin_intake/scheduled__2026-11-26T00:00:00+00:00", id="scheduled"),
        pytest.param("  ", "airflow:kakunin_intake/scheduled__2026-11-26T00:00:00+00:00", id="blank-user"),
    ],
)
def test_actor_of(user: str | None, expected: str) -> None:
    actor = actor_of(dag_id="kakunin_intake", run_id="scheduled__2026-11-26T00:00:00+00:00", user=user)
    assert (actor.id, actor.authenticated_by) == (expected, "airflow")


def test_run_actor_reads_the_dag_runs_triggering_user() -> None:
    dag_run = SimpleNamespace(dag_id="kakunin_retention", triggering_user_name="u-admin")
    assert run_actor({"dag_run": dag_run, "run_id": "manual__1"}).id == "u-admin"
    scheduled = SimpleNamespace(dag_id="kakunin_retention", triggering_user_name=None)
    assert run_actor({"dag_run": scheduled, "run_id": "scheduled__1"}).id == "airflow:kakunin_retention/scheduled__1"
