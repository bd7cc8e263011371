"""Stopping and resuming use of a person's records (利用停止, APPI Art. 35; GDPR Art. 21).

A stop lists the identifiers the person gave, every identifier of the records found and their
record ids; nothing else changes (records stay where they are). Each step is an audit entry
with record ids and the stop id, never an identifier.
"""

from __future__ import annotations

from datetime import datetime

from kakunin import audit
from kakunin.errors import InputError
from kakunin.layout import stop_key
from kakunin.lineage.formats import AuditAction
from kakunin.storage import ObjectStore
from kakunin.subjects.find import FoundRecord
from kakunin.subjects.formats import IdentifierDigest, StopResumed, StopUse
from kakunin.subjects.register import digests_of_records, new_id, stop_of, write_resume, write_stop

STOP_PREFIX = "STOP"


def stop_digests(given: list[IdentifierDigest], record_digests: list[tuple[str, str]]) -> list[IdentifierDigest]:
    """The identifiers given and those of the records found (kind, digest), each once, in a stable order."""
    seen = {(d.kind.value, d.digest): d for d in given}
    for kind, digest in record_digests:
        seen.setdefault((kind, digest), IdentifierDigest.model_validate({"kind": kind, "digest": digest}))
    return [seen[k] for k in sorted(seen)]


def stop_use(
    store: ObjectStore,
    given: list[IdentifierDigest],
    records: list[FoundRecord],
    *,
    reason: str,
    request_id: str | None,
    now: datetime,
) -> StopUse:
    """Write a stop over the person's records and log it."""
    ids = sorted({r.record_id for r in records})
    rows = digests_of_records(store, set(ids)).select(["kind", "digest"]).to_pylist()
    stop = StopUse(
        stop_id=new_id(STOP_PREFIX, now),
        request_id=request_id,
        digests=stop_digests(given, [(r["kind"], r["digest"]) for r in rows]),
        record_ids=ids,
        reason=reason,
        stopped_by=audit.current_actor(),
        stopped_at=now,
    )
    write_stop(store, stop)
    detail: audit.Detail = {"stop_id": stop.stop_id, "request_id": request_id, "records": len(ids)}
    audit.record(store, AuditAction.STOP_USE, at=now, record_ids=ids, detail=detail)
    return stop


def resume_use(store: ObjectStore, stop_id: str, *, reason: str, now: datetime) -> StopUse:
    """Lift the stop `stop_id`; `InputError` when there is no such stop or it was already lifted."""
    stop = stop_of(store, stop_id)
    if stop is None:
        raise InputError(f"no stop {stop_id!r} (see `kakunin subject find`: a stopped record shows its stop id)")
    if store.exists(stop_key(stop_id, resumed=True)):
        raise InputError(f"stop {stop_id} was already lifted")
    write_resume(store, StopResumed(stop_id=stop_id, reason=reason, resumed_by=audit.current_actor(), resumed_at=now))
    detail: audit.Detail = {"stop_id": stop_id, "records": len(stop.record_ids)}
    audit.record(store, AuditAction.RESUME_USE, at=now, record_ids=stop.record_ids, detail=detail)
    return stop
