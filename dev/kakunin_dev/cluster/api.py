"""Airflow 3's REST API as the cluster test uses it: a JWT from `/auth/token`, then `/api/v2/...`.

Only what a user or an operator would do through the API: wait for a DAG to be parsed,
unpause it, trigger a run with a conf, wait for its end and list its task instances (each
carries the `hostname` of the worker that ran it).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from kakunin_dev.cluster.services import ClusterError, Supervisor

FINISHED = {"success", "failed"}


class AirflowApi:
    """A logged-in client of one Airflow API server."""

    def __init__(self, base: str, *, username: str, password: str) -> None:
        self.base = base
        answer = self._call("POST", "/auth/token", {"username": username, "password": password}, token=None)
        self.token = str(answer["access_token"])

    def _call(self, method: str, path: str, body: Any = None, *, token: str | None = "") -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        bearer = self.token if token == "" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 -- loopback API
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:500]
            raise ClusterError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc

    def dag_parsed(self, dag_id: str) -> bool:
        """Whether the DAG processor has put `dag_id` into the database yet."""
        try:
            self._call("GET", f"/api/v2/dags/{dag_id}")
        except ClusterError:
            return False
        return True

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """A manual run of `dag_id` with `conf`; returns its run id."""
        answer = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return str(answer["dag_run_id"])

    def wait_for_run(self, sup: Supervisor, dag_id: str, run_id: str, *, timeout: float) -> str:
        """Poll the run until it has finished (any dead service fails the wait); returns its state."""
        deadline = time.monotonic() + timeout
        state = "queued"
        while time.monotonic() < deadline:
            sup.check_alive()
            state = str(self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])
            if state in FINISHED:
                return state
            time.sleep(3)
        raise ClusterError(f"{dag_id} run {run_id} still {state} after {timeout:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones included), as the API returns them."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000"
        found: list[dict[str, Any]] = self._call("GET", path)["task_instances"]
        return found
