"""The decision records against the audit log: rejections, holds, hold releases and open certificates.

Each of these files is pinned by the SHA-256 its audit entry recorded (the audit log is a
sealed chain), and checked both ways: a file its entry does not match, a file no entry
recorded, an entry whose file is gone. Entries written before the hashes were recorded are
legacy: only their file's existence is checked (lineage/README.md, "Sealed decision records").
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import ValidationError

from kakunin.layout import (
    AUDIT_CHAIN,
    CERTIFICATES,
    HOLDS,
    QUARANTINE,
    REJECTION_FILE,
    BatchRef,
    folder_prefix,
    hold_key,
    open_certificate_run,
    placed_hold_id,
    released_hold_id,
    split_batch_key,
)
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import (
    AuditAction,
    AuditEntry,
)
from kakunin.lineage.problems import Problems, unsafe_keys
from kakunin.storage import ObjectStore, object_sha256

_DECISION_HASHES = ("rejection_sha256", "hold_sha256", "release_sha256", "certificate_sha256")


def _logged_entries(store: ObjectStore) -> list[AuditEntry]:
    """The audit log's readable entries (`_verify_audit` reports the rest)."""
    entries = []
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            entries.append(AuditEntry.model_validate_json(data))
        except ValidationError:
            continue
    return entries


def _logged_sha(entry: AuditEntry, name: str) -> str | None:
    value = entry.detail.get(name)
    return value if isinstance(value, str) else None


def _rejected_at(store: ObjectStore, key: str) -> datetime | None:
    """A rejection's `rejected_at`, read without the writer's model (None if unreadable)."""
    try:
        value = json.loads(store.get_bytes(key)).get("rejected_at")
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, ValueError):
        return None


def verify_decisions(store: ObjectStore, problems: Problems) -> None:
    """Rejections, holds, hold releases and open certificates against the audit entries that recorded them.

    Both ways: each such file must match the hash its entry recorded, and each entry's file
    must still exist. Entries logged before decisions carried hashes are legacy: for them
    only existence is checked; and a rejection with no entry at all that is older than the
    first hash-carrying entry is a legacy submit-time rejection (those were not logged).
    """
    entries = _logged_entries(store)
    sealed_since = min((e.at for e in entries if any(h in e.detail for h in _DECISION_HASHES)), default=None)
    rejects = {
        BatchRef(e.dataset, e.batch_id).rejection: e
        for e in entries
        if e.action == AuditAction.REJECT and e.dataset and e.batch_id
    }
    for key in store.list_keys(folder_prefix(QUARANTINE)):
        found = split_batch_key(key, QUARANTINE)
        if found is None or found[1] != REJECTION_FILE:
            continue
        entry = rejects.get(key)
        if entry is None:
            rejected_at = _rejected_at(store, key)
            if sealed_since is None or (rejected_at is not None and rejected_at < sealed_since):
                continue  # legacy: submit-time rejections were not logged before decisions were sealed
            problems.fail("rejection", key, "a rejection the audit log never recorded")
        elif (logged := _logged_sha(entry, "rejection_sha256")) is not None and object_sha256(store, key) != logged:
            problems.fail(
                "rejection", key, f"rejection changed since the audit log recorded it (entry {entry.sequence})"
            )
    for key, entry in rejects.items():
        if not unsafe_keys([key]) and not store.exists(key):
            problems.fail("rejection", key, f"the rejection the audit log recorded (entry {entry.sequence}) is missing")
    _verify_holds(store, problems, entries)
    _verify_open_certificates(store, problems, entries)


def _verify_holds(store: ObjectStore, problems: Problems, entries: list[AuditEntry]) -> None:
    """Every hold and release file has its audit entry (with its hash), and every entry its file."""
    logged: dict[str, AuditEntry] = {}  # hold or release key → its entry
    for entry in entries:
        hold_id = entry.detail.get("hold_id")
        if isinstance(hold_id, str) and entry.action in (AuditAction.HOLD, AuditAction.RELEASE_HOLD):
            logged[hold_key(hold_id, released=entry.action == AuditAction.RELEASE_HOLD)] = entry
    for key in store.list_keys(folder_prefix(HOLDS)):
        released = released_hold_id(key) is not None
        if not released and placed_hold_id(key) is None:
            continue
        what = "hold release" if released else "hold"
        recorded = logged.get(key)
        sha = None if recorded is None else _logged_sha(recorded, "release_sha256" if released else "hold_sha256")
        if recorded is None:
            consequence = " (forged: retention keeps the hold)" if released else ""
            problems.fail("hold", key, f"a {what} the audit log never recorded{consequence}")
        elif sha is not None and object_sha256(store, key) != sha:
            problems.fail("hold", key, f"{what} changed since the audit log recorded it (entry {recorded.sequence})")
    for key, entry in logged.items():
        if not unsafe_keys([key]) and not store.exists(key):
            what = "hold release" if entry.action == AuditAction.RELEASE_HOLD else "hold"
            problems.fail("hold", key, f"the {what} the audit log recorded (entry {entry.sequence}) is missing")


def _verify_open_certificates(store: ObjectStore, problems: Problems, entries: list[AuditEntry]) -> None:
    """Each open certificate (the plan a purge carries out) as its purge-open entry recorded it."""
    opened = {
        str(e.detail.get("certificate")): (e, sha)
        for e in entries
        if e.action == AuditAction.PURGE_OPEN and (sha := _logged_sha(e, "certificate_sha256")) is not None
    }
    for key in store.list_keys(folder_prefix(CERTIFICATES)):
        run_id = open_certificate_run(key)
        if run_id is None or run_id not in opened:
            continue
        entry, sha = opened[run_id]
        if object_sha256(store, key) != sha:
            problems.fail(
                "certificate", key, f"open certificate edited since the audit log recorded it (entry {entry.sequence})"
            )
