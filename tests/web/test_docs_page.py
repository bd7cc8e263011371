"""The API documentation page (/kakunin/docs) and /kakunin/openapi.json: behind the login, rendered on the
server from the OpenAPI document, with each operation's roles, parameters, body and answer shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from starlette.requests import Request

from kakunin.web import api, create_app, pages
from kakunin.web.auth import WebUser, requires, requires_change
from kakunin.web.roles import Role
from kakunin.web.settings import Identity, WebPorts, WebSettings
from tests.conftest import REPO
from tests.web.conftest import AirflowWeb


class Note(BaseModel):
    """What a reviewer says."""

    note: str | None = Field(default=None, description="why, in a sentence")


class Thing(BaseModel):
    """A sample answer."""

    thing_id: str = Field(description="the thing's id")
    tags: list[str]


sample = APIRouter(prefix="/api", tags=["sample"])


@sample.post("/things/{thing_id}/bless", summary="Bless a thing")
async def bless(
    thing_id: str, body: Note, user: Annotated[WebUser, Depends(requires_change(Role.ACQUISITION))]
) -> Thing:
    return Thing(thing_id=thing_id, tags=[])


@sample.get("/things", summary="List things", openapi_extra={"x-kakunin-roles": ["auditor", "engineer"]})
async def things(user: Annotated[WebUser, Depends(requires(Role.AUDITOR, Role.ENGINEER))], limit: int = 10) -> Thing:
    return Thing(thing_id="t", tags=[])


def _client(tmp_path: Path) -> TestClient:
    async def authenticate(request: Request) -> Identity | None:
        name = request.headers.get("x-test-user")
        return Identity(name=name, credential=name, ambient=False) if name else None

    settings = WebSettings(expectations_root=REPO / "expectations", secret=b"s" * 32)
    ports = WebPorts(
        authenticate=authenticate,
        login_url=lambda path: f"/auth/login?next={path}",
        settings=lambda: settings,
        store=lambda: pytest.fail("the docs need no store"),
    )
    app = create_app(ports, routers=lambda: [*api.routers(), *pages.routers(), sample])
    return TestClient(app, root_path="/kakunin")


def test_the_page_shows_each_operation_with_its_roles_parameters_body_and_answer(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        page = client.get("/docs", headers={"x-test-user": "outsider"})
    assert page.status_code == 200
    html = page.text
    bless_section = html.split('data-path="/api/things/{thing_id}/bless"')[1].split("</section>")[0]
    assert "Bless a thing" in bless_section
    assert '<span class="role">acquisition</span>' in bless_section  # from requires_change(Role.ACQUISITION)
    assert "<code>thing_id (path)</code>" in bless_section
    assert "application/json" in bless_section
    assert ">Note</a>" in bless_section
    assert ">Thing</a>" in bless_section
    assert "422" in bless_section
    listing = html.split('data-path="/api/things"')[1].split("</section>")[0]
    assert '<span class="role">auditor</span><span class="role">engineer</span>' in listing
    assert "<code>limit (query)</code>" in listing
    me = html.split('data-path="/api/me"')[1].split("</section>")[0]
    assert '<span class="role">any logged-in user</span>' in me
    thing = html.split('data-name="Thing"')[1].split("</section>")[0]
    assert 'data-field="thing_id"' in thing
    assert "the thing&#39;s id" in thing
    assert "list of string" in thing
    assert 'data-field="note"' in html.split('data-name="Note"')[1]
    assert "string or null" in html
    assert "<script>" not in html
    assert " style=" not in html


def test_openapi_json_names_the_roles_and_the_mount_point(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        document = client.get("/openapi.json", headers={"x-test-user": "eng-01"}).json()
    assert document["servers"] == [{"url": "/kakunin"}]
    assert document["paths"]["/api/things/{thing_id}/bless"]["post"]["x-kakunin-roles"] == ["acquisition"]
    assert document["paths"]["/api/things"]["get"]["x-kakunin-roles"] == ["auditor", "engineer"]
    assert document["paths"]["/api/me"]["get"]["x-kakunin-roles"] == []
    assert "/docs" not in document["paths"]  # pages are not API operations


def test_the_anonymous_get_401_json_for_the_document_and_the_login_page_for_the_page(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        document = client.get("/openapi.json")
        page = client.get("/docs", follow_redirects=False)
    assert document.status_code == 401
    assert document.json()["error"]["code"] == "auth.required"
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login")


def test_the_real_server_documents_its_api_behind_airflows_login(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("outsider", cookie=True) as user, airflow_web.client() as anonymous:
        document, page = user.get("/openapi.json"), user.get("/docs")
        refused = anonymous.get("/openapi.json")
    assert refused.status_code == 401
    assert document.json()["paths"]["/api/me"]["get"]["summary"] == "Who you are and your Kakunin roles"
    assert page.status_code == 200
    assert 'data-path="/api/me"' in page.text
    assert 'data-name="Me"' in page.text
    assert "<code>/kakunin</code>" in page.text
