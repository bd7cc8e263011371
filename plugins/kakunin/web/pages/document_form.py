"""The step-by-step form that writes the provenance document for acquisition staff."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
