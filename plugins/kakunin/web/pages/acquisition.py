"""Pages for acquisition staff: upload (a document, or the step-by-step form), their batches, approvals."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
