"""Kakunin's Airflow plugin: the only module under plugins/ that Airflow imports as a plugin
(plugins/.airflowignore keeps it away from the `kakunin` package, which would load GX twice).

It registers Kakunin's web app at `/kakunin` in Airflow's API server (with a link in Airflow's
navigation), every request authenticated by Airflow's auth manager (`kakunin.web`, docs/web.md).

And one listener: when a kakunin_intake run finishes, its `report` task's text (the rejected
batches with their reason codes) becomes the run's note. Tasks cannot write the note
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


async def _airflow_identity(request: Any) -> Any:
    """The Airflow user behind the request (bearer token, else the `_token` session cookie), or None.

    Airflow's own `get_user` decides, so the app trusts exactly what Airflow's API trusts.
    """
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import HTTPException
    from fastapi.security import HTTPAuthorizationCredentials

    from kakunin.web.settings import Identity

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip()) if scheme.lower() == "bearer" else None
    )
    try:
        user = await get_user(request, None, bearer)
    except HTTPException:
        return None
    role = getattr(user, "role", None)  # the simple auth manager's one role
    roles = [getattr(r, "name", r) for r in getattr(user, "roles", None) or []]  # FAB's roles
    airflow_roles = tuple(str(r) for r in ([role] if role else []) + roles)
    credential = bearer.credentials if bearer is not None else request.cookies.get("_token", "")
    return Identity(name=user.get_name(), airflow_roles=airflow_roles, credential=credential, ambient=bearer is None)


def _login_url(next_path: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return str(get_auth_manager().get_url_login(next_url=next_path))


def _trigger_intake(*, user: str) -> str:
    """A manual kakunin_intake run, triggered by `user` (its audit entries name them)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    run = trigger_dag("kakunin_intake", triggered_by=DagRunTriggeredByType.UI, triggering_user_name=user)
    return str(run.run_id) if run is not None else ""


def _settings() -> Any:
    from airflow.configuration import conf

    from kakunin.web.settings import WebSettings

    return WebSettings.from_environment(fallback_secret=conf.get("api_auth", "jwt_secret", fallback=None))


def _web_app() -> Any:
    """Kakunin's FastAPI app, wired to Airflow: nothing is read until its first request."""
    from functools import cache

    from kakunin.storage import open_store
    from kakunin.web import create_app
    from kakunin.web.settings import WebPorts

    ports = WebPorts(
        authenticate=_airflow_identity,
        login_url=_login_url,
        settings=cache(_settings),
        store=open_store,
        trigger_intake=_trigger_intake,
    )
    return create_app(ports)


class KakuninPlugin(AirflowPlugin):
    name = "kakunin"
    listeners: ClassVar[list[Any]] = [_RunNotes()]
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [{"app": _web_app(), "url_prefix": "/kakunin", "name": "Kakunin"}]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {"name": "Kakunin", "href": "/kakunin/", "destination": "nav", "category": "browse"}
    ]
