"""The operation log: one hash-chained entry per decision or access, with no personal data."""

from __future__ import annotations

import getpass
import os
from datetime import datetime

from kakunin.lineage.chain import Chain, canonical_json
from kakunin.lineage.formats import AUDIT_CHAIN, AuditEntry
from kakunin.storage import ObjectStore

__all__ = ["current_actor", "record"]


def current_actor() -> str:
    """`KAKUNIN_ACTOR` (a DAG sets `airflow:<dag>/<run>`), else the operating-system user."""
    configured = os.environ.get("KAKUNIN_ACTOR")
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    store: ObjectStore,
    action: str,
    *,
    at: datetime,
    actor: str | None = None,
    dataset: str | None = None,
    batch_id: str | None = None,
    document_id: str | None = None,
    record_ids: list[str] | None = None,
    codes: list[str] | None = None,
    detail: dict[str, str | int | float | bool | None] | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain and return it. Callers pass ids and codes, never data."""

    def build(sequence: int, previous: str | None) -> bytes:
        entry = AuditEntry(
            sequence=sequence,
            at=at,
            actor=actor or current_actor(),
            action=action,
            dataset=dataset,
            batch_id=batch_id,
            document_id=document_id,
            record_ids=record_ids or [],
            codes=codes or [],
            detail=detail or {},
            previous=previous,
        )
        return canonical_json(entry.model_dump(mode="json"))

    _, data = Chain(store, AUDIT_CHAIN).append(build)
    return AuditEntry.model_validate_json(data)
