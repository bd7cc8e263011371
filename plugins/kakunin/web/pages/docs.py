"""The API's documentation page and its OpenAPI document, both behind the login like every route."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
