"""Reading the operation log back in tests, as an auditor would."""

from __future__ import annotations

from pathlib import Path

from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditEntry
from kakunin.storage import LocalStore


def audit_entries(home: Path, action: str | None = None) -> list[AuditEntry]:
    """Every entry of the store's audit log (of one action), oldest first."""
    entries = [AuditEntry.model_validate_json(data) for _, data in Chain(LocalStore(home), AUDIT_CHAIN).entries()]
    return [e for e in entries if action is None or e.action == action]
