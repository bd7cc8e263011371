"""The HTML pages under /kakunin: server-rendered, no inline script, every form with a CSRF token."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from kakunin.web.pages import acquisition, auditor, home

    return [home.router, acquisition.router, auditor.router]
