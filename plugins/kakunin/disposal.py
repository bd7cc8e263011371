"""How a rejected batch's copies outside the store were disposed of: returned or deleted.

A rejected batch never enters the store, but the provider's files still sit on staff
machines, shared drives or mail. Recording their disposal closes the case: "we refused it,
and we gave it back" (or deleted it). The audit log is the record: one `dispose` entry per
batch, carrying the method, who did it and a short note, never personal data. `kakunin
batches` reads the disposals back from the log, as holds are read.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kakunin import audit
from kakunin.errors import KakuninError
from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import ObjectStore

if TYPE_CHECKING:
    from kakunin.batches import BatchSummary

__all__ = [
    "MAX_NOTE",
    "Disposal",
    "DisposalMethod",
    "NotDisposable",
    "check_by",
    "check_note",
    "dispose",
    "logged_disposals",
    "refusal",
]

DisposalMethod = Literal["returned", "deleted"]
METHODS: tuple[DisposalMethod, ...] = ("returned", "deleted")
MAX_NOTE = 200
_BY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_MARKER = b'"dispose"'


class Disposal(BaseModel):
    """How, by whom and when a rejected batch's outside copies were disposed of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: DisposalMethod
    by: str
    at: datetime
    note: str
    sequence: int | None = None


def check_by(value: str) -> str:
    """A staff id (`E1024`): letters, digits, `.`, `_`, `@`, `-`, at most 64; `ValueError` otherwise."""
    if not _BY.fullmatch(value):
        raise ValueError(f"--by must be a staff id (letters, digits, . _ @ -, at most 64), found {value!r}")
    return value


def check_note(value: str) -> str:
    """A short one-line note; `ValueError` when empty, too long or holding control characters."""
    note = value.strip()
    if not note:
        raise ValueError("--note must say what was done (e.g. 'returned by registered post, 書留')")
    if len(note) > MAX_NOTE:
        raise ValueError(f"--note is {len(note)} characters; at most {MAX_NOTE} (no personal data)")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in note):
        raise ValueError("--note must be one line of text (no control characters)")
    return note


class NotDisposable(KakuninError):
    """`provenance dispose` on a batch that is not rejected, or whose disposal is already recorded."""

    code = "not_disposable"
    exit_code = 1


def refusal(batch: BatchSummary) -> str | None:
    """Why this batch's disposal cannot be recorded, or None when it can."""
    if batch.state != "rejected":
        return (
            f"batch {batch.batch_id} is {batch.state.replace('_', ' ')}, not rejected: "
            "only a rejected batch's copies are disposed of with this command"
        )
    if (done := batch.disposal) is not None:
        at = f"{done.at:%Y-%m-%d %H:%M} UTC"
        return f"batch {batch.batch_id} was already disposed of: {done.method} by {done.by} at {at}"
    return None


def dispose(
    store: ObjectStore, batch: BatchSummary, *, method: DisposalMethod, by: str, note: str, now: datetime
) -> Disposal:
    """Record the disposal of a rejected batch as one `dispose` audit entry; `NotDisposable` when refused."""
    why = refusal(batch)
    if why is not None:
        raise NotDisposable(why)
    entry = audit.record(
        store,
        AuditAction.DISPOSE,
        at=now,
        dataset=batch.dataset,
        batch_id=batch.batch_id,
        document_id=batch.document_id,
        detail={"method": method, "by": check_by(by), "note": check_note(note)},
    )
    return Disposal(method=method, by=by, at=now, note=check_note(note), sequence=entry.sequence)


def logged_disposals(store: ObjectStore) -> dict[str, Disposal]:
    """Each batch id's disposal as the audit log recorded it (the first, should there be two)."""
    found: dict[str, Disposal] = {}
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        if _MARKER not in data:
            continue  # not a dispose entry: skip parsing
        try:
            entry = AuditEntry.model_validate_json(data)
        except ValidationError:
            continue  # verify reports it
        if entry.action != AuditAction.DISPOSE or entry.batch_id is None or entry.batch_id in found:
            continue
        detail = entry.detail
        try:
            found[entry.batch_id] = Disposal(
                method=detail.get("method"),
                by=str(detail.get("by")),
                at=entry.at,
                note=str(detail.get("note") or ""),
                sequence=entry.sequence,
            )
        except ValidationError:
            continue
    return found
