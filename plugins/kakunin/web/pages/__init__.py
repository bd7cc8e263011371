"""The HTML pages under /kakunin: server-rendered, no inline script, every form with a CSRF token."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from kakunin.web.pages import acquisition, auditor, docs, document_form, home

    return [home.router, docs.router, acquisition.router, document_form.router, auditor.router]
