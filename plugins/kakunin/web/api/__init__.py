"""The JSON API under /kakunin/api: what the pages use, stable and documented (OpenAPI at /kakunin/docs)."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from kakunin.web.api import acquisition, auditor, common

    return [common.router, acquisition.router, auditor.router]
