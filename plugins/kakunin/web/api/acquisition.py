"""Acquisition staff's API: upload a batch, list batches, approve another's."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["batches"])
