"""Authentication and roles at the door: Airflow's users, Kakunin's roles, the security headers."""

from __future__ import annotations

import pytest

from tests.web.conftest import AirflowWeb


def test_an_anonymous_api_call_is_refused_with_401(airflow_web: AirflowWeb) -> None:
    with airflow_web.client() as anonymous:
        answer = anonymous.get("/api/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "auth.required"


def test_an_anonymous_page_view_goes_to_airflows_login_page_and_comes_back(airflow_web: AirflowWeb) -> None:
    with airflow_web.client() as anonymous:
        answer = anonymous.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/login?next=")
    assert "%2Fkakunin%2F" in answer.headers["location"]


def test_a_forged_token_is_anonymous(airflow_web: AirflowWeb) -> None:
    with airflow_web.client() as client:
        answer = client.get("/api/me", headers={"Authorization": "Bearer not.a.jwt"})
        client.cookies.set("_token", "forged")
        cookie = client.get("/api/me")
    assert answer.status_code == 401
    assert cookie.status_code == 401


@pytest.mark.parametrize(
    ("user", "roles"),
    [
        ("acq-01", ["acquisition"]),
        ("acq-02", ["acquisition"]),
        ("audit-01", ["auditor"]),
        ("eng-01", ["engineer"]),
        ("admin", ["engineer"]),  # granted by the Airflow role admin (web-roles.yaml airflow_roles)
        ("outsider", []),
    ],
)
def test_each_airflow_user_gets_the_kakunin_roles_of_web_roles_yaml(
    airflow_web: AirflowWeb, user: str, roles: list[str]
) -> None:
    with airflow_web.client(user) as bearer, airflow_web.client(user, cookie=True) as cookie:
        by_token, by_cookie = bearer.get("/api/me"), cookie.get("/api/me")
    assert by_token.json() == {"user": user, "roles": roles}
    assert by_cookie.json() == by_token.json()


def test_a_user_without_a_kakunin_role_is_told_so(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("outsider", cookie=True) as client:
        page = client.get("/")
    assert page.status_code == 200
    assert 'data-testid="no-role"' in page.text


def test_every_answer_carries_the_security_headers(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("audit-01", cookie=True) as client:
        answers = [client.get("/"), client.get("/api/me"), client.get("/static/kakunin.css"), client.get("/nowhere")]
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'self'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert answers[3].status_code == 404
