"""Pages for auditors (read-only): datasets, trace, receipts, certificates, audit log, subject requests, verify."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
