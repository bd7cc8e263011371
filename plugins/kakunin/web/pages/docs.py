"""The API's documentation page and its OpenAPI document, both behind the login like every route.

FastAPI's own /docs (Swagger UI) needs inline scripts and a CDN, which the CSP forbids, so the
page renders the OpenAPI document on the server: each operation with its roles, parameters,
request body and answer, and every schema as a table of fields.

Roles: a route names them in `openapi_extra={"x-kakunin-roles": [...]}` (`ROLES_KEY`). A route
without that key gets them from its `requires(...)`/`requires_change(...)` dependency, so the
document cannot go out of step with what the route enforces; an empty list means any logged-in user.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from kakunin.web.app import render
from kakunin.web.auth import NotAuthenticated, WebUser, authenticated, requires
from kakunin.web.roles import Role

router = APIRouter(include_in_schema=False)

ROLES_KEY = "x-kakunin-roles"
ANY_USER = "any logged-in user"
_DEPENDENCY = re.compile(r"^(?:requires|changes)_(.+)$")
METHODS = ("get", "post", "put", "patch", "delete")


def _roles_of(dependant: Dependant) -> list[str] | None:
    """The roles a route's auth dependency demands (by its name: `requires_acquisition_or_auditor`), or None."""
    for sub in dependant.dependencies:
        name = getattr(sub.call, "__name__", "")
        found = _DEPENDENCY.match(name)
        if found:
            words = found.group(1).split("_or_")
            return [] if words == ["login"] else [w for w in words if w in set(Role)]
        deeper = _roles_of(sub)
        if deeper is not None:
            return deeper
    return None


def route_roles(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """(method, path) -> the roles each API route admits, as the route itself enforces them."""
    found: dict[tuple[str, str], list[str]] = {}
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        declared = (route.openapi_extra or {}).get(ROLES_KEY)
        roles = list(declared) if declared is not None else _roles_of(route.dependant)
        if roles is None:
            continue
        for method in route.methods:
            found[(method.lower(), route.path)] = roles
    return found


def openapi_document(request: Request) -> dict[str, Any]:
    """The app's OpenAPI document, with each operation's roles and the mount point as its server."""
    app: FastAPI = request.app
    document = deepcopy(app.openapi())
    for (method, path), roles in route_roles(app).items():
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation.setdefault(ROLES_KEY, roles)
    root = request.scope.get("root_path", "")
    if root:
        document["servers"] = [{"url": root}]
    return document


@router.get("/openapi.json")
async def openapi_json(request: Request) -> Response:
    """The OpenAPI document; JSON 401 for the anonymous (a client, not a browser, asks for it)."""
    try:
        await authenticated(request)
    except NotAuthenticated:
        body = {
            "error": {
                "code": "auth.required",
                "message": "log in to Airflow first (a session cookie or a bearer token)",
            }
        }
        return JSONResponse(body, status_code=401)
    return JSONResponse(openapi_document(request))


# --- the page: the document turned into rows a template can print ------------------------------


class Field(BaseModel):
    """One field of a schema (or one parameter) as the page shows it."""

    name: str
    type: str
    required: bool
    description: str = ""


class Schema(BaseModel):
    name: str
    description: str = ""
    fields: list[Field]
    values: list[str] = []  # an enum's members


class Operation(BaseModel):
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    roles: list[str]
    parameters: list[Field]
    body_type: str  # the content type, or "" when the operation takes no body
    body: str  # the body's type (a schema name, linked on the page)
    answers: list[tuple[str, str, str]]  # (status, description, type)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any]) -> str:
    """A schema's type in a few words: `string`, `list of Finding`, `Batch or null`."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(type_of(part) for part in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of string to {type_of(schema['additionalProperties'])}"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    named = str(kind) if kind else "any"
    if "format" in schema:
        named += f" ({schema['format']})"
    return named


def schemas_of(document: dict[str, Any]) -> list[Schema]:
    """Every schema of `components.schemas` as a field table, in name order."""
    found = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        fields = [
            Field(name=field, type=type_of(spec), required=field in required, description=spec.get("description", ""))
            for field, spec in schema.get("properties", {}).items()
        ]
        values = [str(v) for v in schema.get("enum", [])]
        found.append(Schema(name=name, description=schema.get("description", ""), fields=fields, values=values))
    return found


def operations_of(document: dict[str, Any]) -> list[Operation]:
    """Every operation, in path order, with its roles, parameters, body and answers."""
    found = []
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = [
                Field(
                    name=f"{p['name']} ({p.get('in', '')})",
                    type=type_of(p.get("schema", {})),
                    required=bool(p.get("required")),
                    description=p.get("description", ""),
                )
                for p in operation.get("parameters", [])
            ]
            content = operation.get("requestBody", {}).get("content", {})
            body_type = next(iter(content), "")
            body = type_of(content[body_type].get("schema", {})) if body_type else ""
            answers = []
            for status, answer in sorted(operation.get("responses", {}).items()):
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                answers.append((status, answer.get("description", ""), type_of(schema) if schema else ""))
            roles = operation.get(ROLES_KEY)
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    anchor=f"{method}-{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-')}",
                    summary=operation.get("summary", ""),
                    description=operation.get("description", ""),
                    roles=[ANY_USER] if roles == [] else list(roles or ["(not declared)"]),
                    parameters=parameters,
                    body_type=body_type,
                    body=body,
                    answers=answers,
                )
            )
    return found


@router.get("/docs")
async def docs(request: Request, user: Annotated[WebUser, Depends(requires())]) -> Response:
    document = openapi_document(request)
    return render(
        request,
        user,
        "docs.html",
        info=document.get("info", {}),
        server=request.scope.get("root_path", ""),
        operations=operations_of(document),
        schemas=schemas_of(document),
    )
