"""The auditors' (and engineers') API: trace, verify, the audit log, subject requests, exports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["audit"])
