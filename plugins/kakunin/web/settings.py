"""What the web app is configured with, and the ports it is handed (who is asking, how to start a run).

Read once, lazily, on the first request: importing the app does no I/O. Everything comes from the
environment or the files under review in `expectations/`, never from a request.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from starlette.requests import Request

from kakunin.errors import ConfigError
from kakunin.storage import ObjectStore
from kakunin.web.roles import ROLES_FILE, RoleMap, load_role_map

MAX_UPLOAD_ENV = "KAKUNIN_WEB_MAX_UPLOAD_MB"  # the largest request body, all files together
MAX_EVIDENCE_ENV = "KAKUNIN_WEB_MAX_EVIDENCE_FILES"
ROLES_ENV = "KAKUNIN_WEB_ROLES"  # another role map than expectations/web-roles.yaml
SECRET_ENV = "KAKUNIN_WEB_SECRET"  # noqa: S105 - the variable's name, not a secret; keys CSRF tokens; the plugin falls back to Airflow's JWT secret
DEFAULT_MAX_UPLOAD_MB = 50
DEFAULT_MAX_EVIDENCE_FILES = 20


@dataclass(frozen=True)
class Identity:
    """Who the authenticator vouches for: the user's name, their Airflow roles, and how they proved it.

    `ambient` is true when the credential came by itself with the request (a cookie): such a
    request could be forged by another site, so the app wants a CSRF token with it. A bearer
    token is never sent by the browser on its own, so it needs none.
    """

    name: str
    airflow_roles: tuple[str, ...] = ()
    credential: str = ""
    ambient: bool = True


class Authenticator(Protocol):
    """Tells who sent a request, or None (anonymous, expired, or forged credentials)."""

    def __call__(self, request: Request) -> Awaitable[Identity | None]: ...


class IntakeTrigger(Protocol):
    """Starts a `kakunin_intake` run on behalf of `user`; returns the run's id."""

    def __call__(self, *, user: str) -> str: ...


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


@dataclass
class WebSettings:
    """The app's configuration: limits, the role map, the CSRF key, where contracts live."""

    expectations_root: Path
    secret: bytes = field(repr=False)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    max_evidence_files: int = DEFAULT_MAX_EVIDENCE_FILES
    roles_file: Path | None = None

    @classmethod
    def from_environment(cls, *, fallback_secret: str | None = None) -> WebSettings:
        """Settings from the environment; the CSRF key from KAKUNIN_WEB_SECRET, else `fallback_secret`,
        else a random one for this process (tokens then do not survive a restart)."""
        from kakunin.contracts import default_expectations_root

        secret = os.environ.get(SECRET_ENV) or fallback_secret or secrets.token_hex(32)
        roles = os.environ.get(ROLES_ENV, "").strip()
        return cls(
            expectations_root=default_expectations_root(),
            secret=secret.encode(),
            max_upload_bytes=_env_int(MAX_UPLOAD_ENV, DEFAULT_MAX_UPLOAD_MB) * 1024 * 1024,
            max_evidence_files=_env_int(MAX_EVIDENCE_ENV, DEFAULT_MAX_EVIDENCE_FILES),
            roles_file=Path(roles) if roles else None,
        )

    @cached_property
    def role_map(self) -> RoleMap:
        return load_role_map(self.roles_file or self.expectations_root / ROLES_FILE)


@dataclass
class WebPorts:
    """What the app is handed by whoever mounts it (the Airflow plugin, or a test)."""

    authenticate: Authenticator
    login_url: Callable[[str], str]  # the login page, coming back to the given path afterwards
    settings: Callable[[], WebSettings]
    store: Callable[[], ObjectStore]
    trigger_intake: IntakeTrigger | None = None
