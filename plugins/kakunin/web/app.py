"""`create_app`: the FastAPI app, its error answers, its pages' templates and static files.

One error tree (`kakunin.errors.KakuninError` and the app's own three) becomes one JSON shape
on the API, `{"error": {"code", "message"}}`, and a page with the same message on pages; no
traceback ever reaches a user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from kakunin.errors import ConfigError, InputError, KakuninError, StorageNotFound
from kakunin.web.auth import CrossSiteView, CsrfRejected, Forbidden, NotAuthenticated, WebUser, csrf_token
from kakunin.web.roles import Role
from kakunin.web.security import BodyLimit, BodyTooLarge, SecurityHeaders
from kakunin.web.settings import WebPorts

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREFIX = "/kakunin"  # where the plugin mounts the app; links in pages are built from it
API = "/api"

# (path, label, roles that see it) for the navigation bar, in order; pages register the paths.
NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("/upload", "Upload / アップロード", (Role.ACQUISITION,)),
    ("/batches", "Batches / バッチ", (Role.ACQUISITION, Role.AUDITOR, Role.ENGINEER)),
    ("/approvals", "Approvals / 承認", (Role.ACQUISITION,)),
    ("/datasets", "Datasets / データセット", (Role.AUDITOR, Role.ENGINEER)),
    ("/trace", "Trace / 追跡", (Role.AUDITOR,)),
    ("/receipts", "Receipts / 受領記録", (Role.AUDITOR,)),
    ("/certificates", "Purges / 削除証明", (Role.AUDITOR,)),
    ("/audit", "Audit log / 監査ログ", (Role.AUDITOR,)),
    ("/subjects", "Subject requests / 本人請求", (Role.AUDITOR, Role.ENGINEER)),
    ("/exports", "Exports / 持出し", (Role.AUDITOR, Role.ENGINEER)),
    ("/verify", "Verify / 検証", (Role.AUDITOR,)),
)


def package_version() -> str:
    """The installed package's version (no git call: the app is built when Airflow loads plugins)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kakunin")
    except PackageNotFoundError:
        return "unknown"


def templates() -> Jinja2Templates:
    """The pages' templates; autoescaped, so nothing a user typed can become markup."""
    found = Jinja2Templates(directory=str(HERE / "templates"))
    found.env.globals["prefix"] = PREFIX
    found.env.globals["version"] = package_version()
    return found


def render(request: Request, user: WebUser | None, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page: the template with the user, their navigation and a CSRF token for its forms."""
    nav = [(PREFIX + path, label) for path, label, roles in NAV if user is not None and user.has(*roles)]
    page: dict[str, Any] = {
        "user": user,
        "nav": nav,
        "csrf_token": csrf_token(request, user) if user is not None else "",
        "path": request.url.path,
        **context,
    }
    engine: Jinja2Templates = request.app.state.templates
    return engine.TemplateResponse(request, template, page, status_code=status_code)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(f"{request.scope.get('root_path', '')}{API}/") or request.url.path.startswith(
        f"{API}/"
    )


def _error(request: Request, status: int, code: str, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    user = getattr(request.state, "kakunin_user", None)
    return render(request, user, "error.html", status_code=status, status=status, code=code, message=message)


def _install_errors(app: FastAPI) -> None:
    async def not_authenticated(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return _error(request, 401, "auth.required", "log in to Airflow first (a session cookie or a bearer token)")
        wired: WebPorts = request.app.state.kakunin
        return RedirectResponse(wired.login_url(str(request.url.path)), status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        needed = exc.needed if isinstance(exc, Forbidden) else ()
        roles = " or ".join(r.value for r in needed)
        return _error(request, 403, "auth.forbidden", f"this needs the Kakunin role {roles}; ask an engineer for it")

    async def csrf(request: Request, exc: Exception) -> Response:
        return _error(request, 403, "csrf.rejected", str(exc))

    async def cross_site(request: Request, exc: Exception) -> Response:
        return _error(request, 403, "request.cross_site", f"{exc} (the view is logged in your name)")

    async def too_large(request: Request, exc: Exception) -> Response:
        limit = request.app.state.kakunin.settings().max_upload_bytes // (1024 * 1024)
        message = f"the upload is over the limit of {limit} MiB (KAKUNIN_WEB_MAX_UPLOAD_MB); nothing was stored"
        return _error(request, 413, "upload.too_large", message)

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc.__cause__, BodyTooLarge):
            return await too_large(request, exc)
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else "error"
        return _error(request, status, f"http.{status}", str(detail))

    async def invalid(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}" for e in errors]
        return _error(request, 422, "request.invalid", "; ".join(parts) or "the request is not valid")

    async def kakunin_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StorageNotFound):
            return _error(request, 404, "not_found", str(exc))
        if isinstance(exc, ConfigError):
            log.error("kakunin web: configuration error: %s", exc)
            return _error(request, 500, "config", str(exc))
        status = 400 if isinstance(exc, InputError) else 500
        return _error(request, status, getattr(exc, "code", None) or type(exc).__name__, str(exc))

    app.add_exception_handler(NotAuthenticated, not_authenticated)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRejected, csrf)
    app.add_exception_handler(CrossSiteView, cross_site)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("kakunin web: unexpected error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal", "something went wrong on the server; it is in the server's log")

    app.add_exception_handler(KakuninError, kakunin_error)
    app.add_exception_handler(Exception, unexpected)


def create_app(ports: WebPorts, *, routers: Callable[[], list[Any]] | None = None) -> FastAPI:
    """The web app, served under `/kakunin` by the Airflow plugin.

    `ports` says who is asking and how to start a run; nothing is read until the first request.
    """
    from kakunin.web import api, pages

    app = FastAPI(
        title="Kakunin",
        version=package_version(),
        summary="Provenance-checked intake of third-party personal data: the acquisition and auditor API.",
        docs_url=None,  # Swagger UI needs inline scripts and a CDN; /docs is our own page (pages.docs)
        redoc_url=None,
        openapi_url=None,  # FastAPI's would be open to anyone; pages.docs serves it behind the login
    )
    app.state.kakunin = ports
    app.state.templates = templates()
    _install_errors(app)
    for router in routers() if routers is not None else [*api.routers(), *pages.routers()]:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(BodyLimit, limit=lambda: ports.settings().max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    return app
