"""The audit actions: an enum in code, the same plain strings in the log as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from kakunin import audit
from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import LocalStore

PUBLISHED_ACTIONS = [
    "accept",
    "reject",
    "publish",
    "purge-open",
    "purge",
    "hold",
    "release-hold",
    "erasure-request",
    "trace",
    "verify",
    "dispose",  # provenance v2: how a rejected batch's outside copies were disposed of
    "subject-reindex",  # issue 11: a batch's subject index written from its live records
    "correct",  # a curated record corrected (訂正)
    "subject-find",  # issue 11: data subjects
    "subject-request",
    "subject-disclose",
    "stop-use",
    "resume-use",
    "submit",  # issue 12: insider controls
    "approve",
    "approve-refused",
    "export",
    "export-refused",
    "audit-review",
    "audit-sign-off",
    "audit-report",
    "read",
    "trigger",  # issue 13: a kakunin_intake run started from the web app
]


def test_the_action_values_are_the_strings_the_log_already_holds() -> None:
    assert [a.value for a in AuditAction] == PUBLISHED_ACTIONS


def test_an_entry_stores_its_action_as_the_plain_string(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    entry = audit.record(store, AuditAction.RELEASE_HOLD, at=datetime(2026, 11, 27, tzinfo=UTC), actor="auditor")
    (key,) = store.list_keys(AUDIT_CHAIN + "/")
    assert json.loads(store.get_bytes(key))["action"] == "release-hold"
    assert entry.action == AuditAction.RELEASE_HOLD
    assert AuditEntry.model_validate_json(store.get_bytes(key)).action == "release-hold"
