"""Every route × every role × anonymous, against the real server (Airflow's API server and auth manager).

`EXPECTED` is the contract of issue 13 (docs/web.md "Routes and roles"): who may call what. Three checks:
each route the app has answers each user as its row says; every route of the app has a row (a new
route without one fails here, so nobody adds a route without deciding its roles); every row has a route.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import cache

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from kakunin.web.app import create_app
from kakunin.web.roles import Role
from kakunin.web.settings import WebPorts, WebSettings
from tests.web.conftest import AirflowWeb

ACQ, AUD, ENG = Role.ACQUISITION, Role.AUDITOR, Role.ENGINEER
ANY = frozenset({ACQ, AUD, ENG, None})  # None: a logged-in user holding no Kakunin role

# (method, path template, roles admitted). Paths are the app's, under /kakunin.
EXPECTED: tuple[tuple[str, str, frozenset[Role | None]], ...] = (
    # the API
    ("GET", "/api/me", ANY),
    ("GET", "/api/batches", frozenset({ACQ, AUD, ENG})),
    ("POST", "/api/batches", frozenset({ACQ})),
    ("GET", "/api/batches/{batch_id}", frozenset({ACQ, AUD, ENG})),
    ("POST", "/api/batches/{batch_id}/approve", frozenset({ACQ})),
    ("POST", "/api/intake-runs", frozenset({ACQ, ENG})),
    ("GET", "/api/records/{record_id}", frozenset({AUD})),
    ("POST", "/api/verify", frozenset({AUD})),
    ("GET", "/api/audit", frozenset({AUD})),
    ("GET", "/api/datasets", frozenset({AUD, ENG})),
    ("GET", "/api/receipts", frozenset({AUD})),
    ("GET", "/api/certificates", frozenset({AUD})),
    ("GET", "/api/subject-requests", frozenset({AUD, ENG})),
    ("GET", "/api/exports", frozenset({AUD, ENG})),
    ("GET", "/openapi.json", ANY),
    # the pages
    ("GET", "/", ANY),
    ("GET", "/docs", ANY),
    ("GET", "/upload", frozenset({ACQ})),
    ("POST", "/upload", frozenset({ACQ})),
    ("GET", "/upload/form", frozenset({ACQ})),
    ("POST", "/upload/form", frozenset({ACQ})),
    ("GET", "/batches", frozenset({ACQ, AUD, ENG})),
    ("GET", "/batches/{batch_id}", frozenset({ACQ, AUD, ENG})),
    ("POST", "/batches/{batch_id}/approve", frozenset({ACQ})),
    ("POST", "/intake", frozenset({ACQ, ENG})),
    ("GET", "/approvals", frozenset({ACQ})),
    ("GET", "/datasets", frozenset({AUD, ENG})),
    ("GET", "/trace", frozenset({AUD})),
    ("GET", "/receipts", frozenset({AUD})),
    ("GET", "/certificates", frozenset({AUD})),
    ("GET", "/audit", frozenset({AUD})),
    ("GET", "/subjects", frozenset({AUD, ENG})),
    ("GET", "/exports", frozenset({AUD, ENG})),
    ("GET", "/verify", frozenset({AUD})),
    ("POST", "/verify", frozenset({AUD})),
)
# The users of tests/web/conftest.py and the one role each holds (None: anonymous or no role).
USERS: dict[str | None, Role | None] = {None: None, "acq-01": ACQ, "audit-01": AUD, "eng-01": ENG, "outsider": None}
IGNORED_MOUNTS = {"/static"}  # the style sheet and script: public files, no data


@cache
def app_routes() -> frozenset[tuple[str, str]]:
    """(method, path) of every route the app serves, from the app itself (building it reads nothing)."""

    def unused() -> WebSettings:
        raise AssertionError("building the app must not read its settings")

    app = create_app(
        WebPorts(authenticate=lambda _: None, login_url=lambda p: p, settings=unused, store=unused)  # type: ignore[arg-type, return-value]
    )
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path in IGNORED_MOUNTS, f"an unexpected mount {route.path}"
            continue
        assert isinstance(route, APIRoute), f"{route!r}: every route must be a FastAPI route with its dependencies"
        found.update((method, route.path) for method in route.methods - {"HEAD", "OPTIONS"})
    return frozenset(found)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


def _concrete(path: str) -> str:
    """The template with a made-up id for each parameter: nothing with that id exists (404 is a fine answer)."""
    return re.sub(r"\{[^}]+\}", lambda _: f"x{uuid.uuid4().hex[:16]}", path)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    allowed: frozenset[Role | None]
    user: str | None

    def __str__(self) -> str:
        return f"{self.method} {self.path} as {self.user or 'anonymous'}"


PRESENT = [row for row in EXPECTED if row[:2] in app_routes()]
CASES = [Case(method, path, allowed, user) for method, path, allowed in PRESENT for user in USERS]


def _send(client: httpx.Client, method: str, path: str) -> httpx.Response:
    if method == "GET":
        return client.get(path)
    return client.post(path, json={})  # the smallest body: a 4xx for its shape is fine, 401/403 is not


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_route_answers_each_user_as_the_matrix_says(airflow_web: AirflowWeb, case: Case) -> None:
    with airflow_web.client(case.user) as client:
        answer = _send(client, case.method, _concrete(case.path))
    api = _is_api(case.path)
    if case.user is None:
        if api:
            assert answer.status_code == 401, answer.text[:300]
            assert answer.json()["error"]["code"] == "auth.required"
        else:
            assert answer.status_code == 303, answer.text[:300]
            assert answer.headers["location"].startswith("/auth/login")
    elif USERS[case.user] in case.allowed:
        assert answer.status_code not in (401, 403), answer.text[:300]
        assert answer.status_code < 500, answer.text[:300]
    else:
        assert answer.status_code == 403, answer.text[:300]
        if api:
            assert answer.json()["error"]["code"] == "auth.forbidden"
        else:
            assert 'data-testid="error" data-code="auth.forbidden"' in answer.text


def test_every_route_of_the_app_has_a_row_in_the_matrix() -> None:
    rows = {(method, path) for method, path, _ in EXPECTED}
    assert sorted(app_routes() - rows) == [], "add the route to EXPECTED with the roles it admits"


def test_every_row_of_the_matrix_is_a_route_of_the_app() -> None:
    rows = {(method, path) for method, path, _ in EXPECTED}
    assert sorted(rows - app_routes()) == [], "the contract's route is missing from the app (or the row is stale)"


def test_the_matrix_covers_every_role_and_the_outsider() -> None:
    """Each role is admitted somewhere and refused somewhere: a row cannot silently admit everyone."""
    for role in Role:
        assert any(role in allowed for *_, allowed in EXPECTED)
        assert any(role not in allowed for *_, allowed in EXPECTED)
    assert {role for role in USERS.values() if role is not None} == set(Role)
