"""Legal holds on a dataset, a batch or a record: held records are never purged while the hold stands.

Holds are append-only: placing writes `lineage/holds/<hold_id>.json`, releasing writes
`<hold_id>.released.json` beside it; neither is ever changed, so the history stays. Each is
logged with its SHA-256, and retention believes a release only when the log recorded it.

On a store that can lock (S3 with Object Lock) a hold is also enforced by the store: placing
it sets an S3 legal hold on the objects it covers (`held_objects`: the manifest, receipt
record and commit record of each batch it reaches, and for a dataset or batch hold the
batch's curated files), so nobody can delete them while it stands; releasing it clears those
no other active hold still covers. A record hold leaves the curated file alone: it also holds
other records, which retention must still be able to purge from every version of it (the
held record is kept by the rewrite, as on a folder). Objects published into a held dataset
after the hold was placed are kept by the hold record (retention reads it), not by a legal hold.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime
from typing import Literal

import pyarrow.parquet as pq
from pydantic import ValidationError

from kakunin import audit
from kakunin.errors import InputError
from kakunin.hashing import sha256_bytes
from kakunin.layout import (
    AUDIT_CHAIN,
    CURATED,
    HOLDS,
    LANDING,
    MANIFESTS,
    QUARANTINE,
    BatchRef,
    batch_folder,
    folder_prefix,
    hold_key,
    is_batch_id,
    is_identifier,
    parse_curated_key,
    parse_manifest_header_key,
    placed_hold_id,
)
from kakunin.lineage.chain import Chain, linked_manifests
from kakunin.lineage.formats import AuditAction, AuditEntry, Hold, HoldRelease
from kakunin.storage import ObjectStore, object_sha256
from kakunin.yaml_io import dump_json

_RECORD_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_HOLD_ID = r"^H-\d{8}T\d{6}Z-[0-9a-f]{6}$"
Scope = Literal["dataset", "batch", "record"]
log = logging.getLogger(__name__)


def place_hold(
    store: ObjectStore,
    *,
    dataset: str,
    batch_id: str | None,
    record_id: str | None,
    reason: str,
    placed_by: str,
    now: datetime,
) -> Hold:
    """Place a hold on the narrowest target given (record, else batch, else the dataset)."""
    if not is_identifier(dataset):
        raise InputError(f"{dataset!r} is not a dataset id")
    if not reason.strip():
        raise InputError("a hold needs a reason (e.g. the litigation or inquiry it serves)")
    scope: Scope
    if record_id is not None:
        if not re.fullmatch(_RECORD_ID, record_id):
            raise InputError(f"{record_id!r} is not a record id")
        if _batch_of_record(store, dataset, record_id) is None:
            raise InputError(f"record {record_id} is in no manifest of dataset {dataset}; nothing to hold")
        scope, target = "record", record_id
    elif batch_id is not None:
        if not is_batch_id(batch_id):
            raise InputError(f"{batch_id!r} is not a batch id")
        if not _batch_exists(store, dataset, batch_id):
            raise InputError(
                f"no batch {batch_id} in dataset {dataset} (neither published, pending in landing/ nor quarantined)"
            )
        scope, target = "batch", batch_id
    else:
        scope, target = "dataset", dataset
    hold = Hold(
        hold_id=f"H-{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}",
        scope=scope,
        dataset=dataset,
        target=target,
        reason=reason.strip(),
        placed_by=placed_by,
        placed_at=now,
    )
    data = dump_json(hold)
    store.put_bytes(hold_key(hold.hold_id), data)
    audit.record(
        store,
        AuditAction.HOLD,
        at=now,
        actor=placed_by,
        dataset=dataset,
        batch_id=batch_id,
        record_ids=[record_id] if record_id else [],
        detail={"hold_id": hold.hold_id, "scope": scope, "hold_sha256": sha256_bytes(data)},
    )
    return hold


def _batch_exists(store: ObjectStore, dataset: str, batch_id: str) -> bool:
    """A hold on a batch must name one we have: published (manifest), pending, or quarantined."""
    ref = BatchRef(dataset, batch_id)
    return (
        store.exists(ref.manifest_header)
        or next(iter(store.list_keys(batch_folder(ref, LANDING))), None) is not None
        or next(iter(store.list_keys(batch_folder(ref, QUARANTINE))), None) is not None
    )


def _batch_of_record(store: ObjectStore, dataset: str, record_id: str) -> BatchRef | None:
    """The batch whose linked manifest lists the record; None when none does (a typo holds nothing)."""
    for header_key, manifest_key in linked_manifests(store):
        ref = parse_manifest_header_key(header_key)
        if ref is None or ref.dataset != dataset:
            continue
        with store.open_input(manifest_key) as handle:
            if pq.read_table(handle, columns=["record_id"], filters=[("record_id", "=", record_id)]).num_rows:
                return ref
    return None


def held_objects(store: ObjectStore, hold: Hold) -> list[str]:
    """The objects a hold covers, for the store's legal holds: each reached batch's manifest (Parquet
    and header), receipt record and commit record, and its curated files unless the hold is on one
    record (see the module's docstring); those that exist."""
    if hold.scope == "record":
        found = _batch_of_record(store, hold.dataset, hold.target)
        batches = [found] if found is not None else []
    elif hold.scope == "batch":
        batches = [BatchRef(hold.dataset, hold.target)]
    else:
        headers = store.list_keys(folder_prefix(f"{MANIFESTS}/{hold.dataset}"))
        batches = [ref for key in headers if (ref := parse_manifest_header_key(key)) is not None]
    wanted = {ref.batch_id for ref in batches} if hold.scope != "record" else set()
    curated = [
        key
        for key in store.list_keys(folder_prefix(f"{CURATED}/{hold.dataset}"))
        if (found_file := parse_curated_key(key)) is not None
        and not found_file.pending
        and found_file.ref.batch_id in wanted
    ]
    named = [key for ref in batches for key in (ref.manifest_parquet, ref.manifest_header, ref.receipt, ref.commit)]
    return sorted({*curated, *(key for key in named if store.exists(key))})


def can_hold(store: ObjectStore) -> bool:
    """Whether the store itself can hold objects (S3; a folder cannot, `held_keys` answers None)."""
    return store.held_keys([]) is not None


def lock_held_objects(store: ObjectStore, hold: Hold) -> list[str]:
    """Set the store's legal hold on what `hold` covers; returns the keys held (none on a folder)."""
    return store.set_legal_holds(held_objects(store, hold), on=True)


def unlock_released_objects(store: ObjectStore, released: Hold) -> list[str]:
    """Clear the legal holds of a released hold, except on objects another active hold still covers."""
    still = {
        key for hold in active_holds(store) if hold.hold_id != released.hold_id for key in held_objects(store, hold)
    }
    return store.set_legal_holds([k for k in held_objects(store, released) if k not in still], on=False)


def count_held_objects(store: ObjectStore, hold: Hold) -> int | None:
    """How many of the objects `hold` covers are under a legal hold now; None on a store without holds."""
    held = store.held_keys(held_objects(store, hold))
    return None if held is None else len(held)


def release_hold(store: ObjectStore, hold_id: str, *, reason: str, released_by: str, now: datetime) -> HoldRelease:
    """Release a hold; the reason is the record of why the protection ended, so it may not be blank."""
    if not reason.strip():
        raise InputError("releasing a hold needs a reason (e.g. the case closed, the inquiry answered)")
    if not re.fullmatch(_HOLD_ID, hold_id) or not store.exists(hold_key(hold_id)):
        raise InputError(f"no hold {hold_id!r}")
    if store.exists(hold_key(hold_id, released=True)):
        raise InputError(f"hold {hold_id} was already released")
    release = HoldRelease(hold_id=hold_id, reason=reason.strip(), released_by=released_by, released_at=now)
    data = dump_json(release)
    store.put_bytes(hold_key(hold_id, released=True), data)
    audit.record(
        store,
        AuditAction.RELEASE_HOLD,
        at=now,
        actor=released_by,
        detail={"hold_id": hold_id, "release_sha256": sha256_bytes(data)},
    )
    return release


def active_holds(store: ObjectStore) -> list[Hold]:
    """Holds placed and not released, oldest first, as the audit log vouches for them.

    A hold file and its release are plain objects anyone with write access could delete or
    forge; their `hold` and `release-hold` entries are chained. So a release the log never
    recorded (or whose file differs from the hash it recorded) does not end the hold, and a
    hold the log recorded whose file is gone is restored from its entry. Both are logged as
    warnings; `lineage verify` reports them.
    """
    keys = set(store.list_keys(folder_prefix(HOLDS)))
    placed, released = _logged_holds(store)
    holds = {
        hold.hold_id: hold
        for key in sorted(keys)
        if placed_hold_id(key) is not None
        for hold in [Hold.model_validate_json(store.get_bytes(key))]
    }
    for hold_id, entry in placed.items():
        if hold_id not in holds and hold_key(hold_id, released=True) not in keys:
            log.warning("hold %s is in the audit log but its file is gone: kept from the log's entry", hold_id)
            holds[hold_id] = _from_entry(hold_id, entry)
    active = []
    for hold_id in sorted(holds):
        release = hold_key(hold_id, released=True)
        if release not in keys:
            active.append(holds[hold_id])
        elif hold_id not in released:
            log.warning("hold %s has a release the audit log never recorded: the hold stands", hold_id)
            active.append(holds[hold_id])
        elif (expected := released[hold_id]) is not None and object_sha256(store, release) != expected:
            log.warning("hold %s: its release changed since the audit log recorded it: the hold stands", hold_id)
            active.append(holds[hold_id])
    return sorted(active, key=lambda h: (h.placed_at, h.hold_id))


def _logged_holds(store: ObjectStore) -> tuple[dict[str, AuditEntry], dict[str, str | None]]:
    """From the audit log: each placed hold's entry, and each released hold's release hash (None if
    logged before releases carried one)."""
    placed: dict[str, AuditEntry] = {}
    released: dict[str, str | None] = {}
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            entry = AuditEntry.model_validate_json(data)
        except ValidationError:
            continue  # verify reports it; a hold is never ended by an unreadable entry
        hold_id = entry.detail.get("hold_id")
        if not isinstance(hold_id, str):
            continue
        if entry.action == AuditAction.HOLD:
            placed[hold_id] = entry
        elif entry.action == AuditAction.RELEASE_HOLD:
            sha = entry.detail.get("release_sha256")
            released[hold_id] = sha if isinstance(sha, str) else None
    return placed, released


def _from_entry(hold_id: str, entry: AuditEntry) -> Hold:
    """A deleted hold as its audit entry recorded it (scope and target; the reason is not logged)."""
    scope = entry.detail.get("scope")
    dataset = entry.dataset or ""
    scope_: Scope
    if scope == "record" and entry.record_ids:
        scope_, target = "record", entry.record_ids[0]
    elif scope == "batch" and entry.batch_id:
        scope_, target = "batch", entry.batch_id
    else:
        scope_, target = "dataset", dataset
    return Hold(
        hold_id=hold_id,
        scope=scope_,
        dataset=dataset,
        target=target,
        reason="(hold file missing; kept as the audit log recorded it)",
        placed_by=entry.actor,
        placed_at=entry.at,
    )
