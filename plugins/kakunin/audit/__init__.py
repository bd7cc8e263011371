"""The operation log: one hash-chained entry per decision or access, with no personal data.

Entries are sealed with the HMAC key when the writer has it (see `record`).
A decision taken by a step that may be killed and rerun (accept, reject, publish, a purge)
is logged with `record_once`, so a rerun neither loses its entry nor writes a second one.
The step first calls `prepare_once`, which notes the log's head in a marker object; once
the decision itself is durable, `record_once` looks for the entry after that head and
appends it only if it is not there. The marker is removed with the step's work files, after
the entry is written, so a missing marker means "nothing to do".
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from typing import Required, TypedDict, Unpack

from kakunin.keys import hmac_key_if_set
from kakunin.layout import AUDIT_CHAIN, chain_sequence
from kakunin.lineage import seal
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import ObjectStore
from kakunin.yaml_io import json_text

__all__ = ["current_actor", "prepare_once", "record", "record_once"]

Detail = dict[str, str | int | float | bool | None]


class EntryFields(TypedDict, total=False):
    """What a caller says of an entry besides its action (`at` is required in practice)."""

    at: Required[datetime]
    actor: str | None
    dataset: str | None
    batch_id: str | None
    document_id: str | None
    record_ids: list[str] | None
    codes: list[str] | None
    detail: Detail | None
    key: bytes | None


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
    action: AuditAction,
    *,
    at: datetime,
    actor: str | None = None,
    dataset: str | None = None,
    batch_id: str | None = None,
    document_id: str | None = None,
    record_ids: list[str] | None = None,
    codes: list[str] | None = None,
    detail: Detail | None = None,
    key: bytes | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain and return it. Callers pass ids and codes, never data.

    The entry is sealed (`kakunin.lineage.seal`) with `key`, else with `KAKUNIN_HMAC_KEY` when
    it is set; without either it is written unsealed, and a keyed verify reports it as a
    seal problem once the log's sealing has begun (nobody can tell it from a forgery).
    """
    seal_with = key if key is not None else hmac_key_if_set()

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
        return seal.entry_bytes(entry, seal_with)

    _, data = Chain(store, AUDIT_CHAIN).append(build)
    return AuditEntry.model_validate_json(data)


def prepare_once(store: ObjectStore, marker_key: str) -> None:
    """Note the log's head before a decision is written, so `record_once` knows where to look."""
    if not store.exists(marker_key):
        head, _ = Chain(store, AUDIT_CHAIN).head()
        store.put_bytes(marker_key, json_text({"since": head}, indent=None).encode())


def record_once(
    store: ObjectStore,
    action: AuditAction,
    *,
    marker_key: str,
    match: Detail | None = None,
    **entry: Unpack[EntryFields],
) -> AuditEntry | None:
    """Append the entry unless it is already in the log after the marker's head; None if no marker.

    An entry is the same decision when its action, dataset and batch match, and every
    `match` item equals the entry's detail (e.g. the certificate id of a purge).
    """
    if not store.exists(marker_key):
        return None
    marker = json.loads(store.get_bytes(marker_key))
    if marker.get("sequence") is not None:
        return None
    chain = Chain(store, AUDIT_CHAIN)
    found = None
    entry_keys = chain.keys()
    for key in entry_keys:
        if chain_sequence(key) <= marker["since"]:
            continue
        logged = AuditEntry.model_validate_json(store.get_bytes(key))
        if (
            logged.action == action
            and logged.dataset == entry.get("dataset")
            and logged.batch_id == entry.get("batch_id")
            and all(logged.detail.get(k) == v for k, v in (match or {}).items())
        ):
            found = logged
            break
    if found is None:
        found = record(store, action, **entry)
    done = {"since": marker["since"], "sequence": found.sequence}
    store.put_bytes(marker_key, json_text(done, indent=None).encode())
    return found
