"""Who is asking and what they may see: the dependencies every route declares.

Every route requires an authenticated user (mounted plugin apps get no authentication from
Airflow by themselves). API routes answer 401 to the anonymous and 403 to a user without the
route's role; page routes send the anonymous to the login page and show the others a page
saying which role they lack.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Request

from kakunin import audit
from kakunin.web.roles import Role
from kakunin.web.settings import Identity, WebPorts

AUTHENTICATED_BY = "airflow"  # Kakunin's audit entries: the web user is vouched for by Airflow's auth manager
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class NotAuthenticated(Exception):
    """No user, or credentials that did not check out."""


class Forbidden(Exception):
    """A user without any of the roles a route needs."""

    def __init__(self, user: WebUser, needed: tuple[Role, ...]) -> None:
        super().__init__(f"{user.name} lacks the role {' or '.join(r.value for r in needed)}")
        self.user = user
        self.needed = needed


class CsrfRejected(Exception):
    """A cookie-authenticated change without the form's token (or from another site)."""


@dataclass(frozen=True)
class WebUser:
    """An authenticated user and the Kakunin roles they hold."""

    name: str
    roles: frozenset[Role]
    identity: Identity

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(id=self.name[:200], authenticated_by=AUTHENTICATED_BY)

    @contextmanager
    def acting(self) -> Iterator[audit.Actor]:
        """Run the block as this user: every audit entry it writes names them, vouched for by Airflow.

        Call it inside the route (not in a dependency): sync routes run in a worker thread, and
        the actor is a context variable.
        """
        with audit.acting_as(self.actor) as actor:
            yield actor


def ports(request: Request) -> WebPorts:
    found: WebPorts = request.app.state.kakunin
    return found


async def authenticated(request: Request) -> WebUser:
    """The request's user with their roles; `NotAuthenticated` when there is none."""
    cached = getattr(request.state, "kakunin_user", None)
    if isinstance(cached, WebUser):
        return cached
    wired = ports(request)
    identity = await wired.authenticate(request)
    if identity is None or not identity.name.strip():
        raise NotAuthenticated()
    roles = wired.settings().role_map.roles_of(identity.name, identity.airflow_roles)
    user = WebUser(name=identity.name.strip(), roles=roles, identity=identity)
    request.state.kakunin_user = user
    return user


def requires(*roles: Role) -> Callable[[Request], Awaitable[WebUser]]:
    """A dependency: the user, who must hold one of `roles` (none given: any authenticated user)."""

    async def dependency(request: Request) -> WebUser:
        user = await authenticated(request)
        if roles and not user.has(*roles):
            raise Forbidden(user, roles)
        return user

    dependency.__name__ = f"requires_{'_or_'.join(r.value for r in roles) or 'login'}"
    return dependency


def csrf_token(request: Request, user: WebUser) -> str:
    """The token a page puts in its forms: keyed by the app's secret and bound to the user's credential."""
    secret = ports(request).settings().secret
    message = f"csrf|{user.name}|{user.identity.credential}".encode()
    return hmac.new(secret, message, "sha256").hexdigest()


async def csrf_checked(request: Request) -> WebUser:
    """A dependency for every change (POST): a cookie-authenticated request must carry the token, in the
    `csrf_token` form field or the `X-CSRF-Token` header, and must not come from another origin."""
    user = await authenticated(request)
    if not user.identity.ambient:
        return user  # a bearer token: a browser never sends it by itself, so no other site can forge this
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        raise CsrfRejected("the request came from another site")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("multipart/form-data", "application/x-www-form-urlencoded")
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_token(request, user)):
        raise CsrfRejected("the form's security token is missing or stale: reload the page and try again")
    return user


class CrossSiteView(Exception):
    """A logged view (trace, subject requests) opened from another site's link: the audit entry would
    name the user for a read they never chose, so the view is not run."""


def same_site_view(request: Request) -> None:
    """Refuse (`CrossSiteView`) a GET that writes a read entry when the browser says another site started it.

    The session cookie is SameSite=Lax, so a link elsewhere carries it; `Sec-Fetch-Site` tells such a
    navigation apart (`none` is a typed URL or a bookmark, `same-origin` Kakunin's own pages).
    """
    if request.headers.get("sec-fetch-site", "none") not in {"none", "same-origin"}:
        raise CrossSiteView("this page was opened from another site; open it from Kakunin's own menu")


def requires_change(*roles: Role) -> Callable[[Request], Awaitable[WebUser]]:
    """A dependency for a route that changes something: the role check, then the CSRF check."""
    role_check = requires(*roles)

    async def dependency(request: Request) -> WebUser:
        await role_check(request)
        return await csrf_checked(request)

    dependency.__name__ = f"changes_{'_or_'.join(r.value for r in roles) or 'login'}"
    return dependency
