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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Required, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict, Field

from kakunin.keys import hmac_key_if_set
from kakunin.layout import AUDIT_CHAIN, chain_sequence
from kakunin.lineage import seal
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import ObjectStore
from kakunin.yaml_io import json_text

__all__ = ["Actor", "acting_as", "current", "current_actor", "prepare_once", "record", "record_once", "vouched_for"]

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


class Actor(BaseModel):
    """Who is acting: a user id, and who vouches for it (None: the actor only says so)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(min_length=1, max_length=200)
    authenticated_by: str | None = Field(
        default=None, description="`airflow`: an Airflow user (DAG run or web session); None: self-declared"
    )

    @property
    def self_declared(self) -> bool:
        return self.authenticated_by is None

    def label(self) -> str:
        """How reports show the actor: `alice (airflow)` or `alice (self-declared)`."""
        return f"{self.id} ({self.authenticated_by or 'self-declared'})"


# The actor an authenticating caller (a DAG task, a web request) vouches for, for the code it runs.
# A context variable, not a global or the environment: the environment is the caller's to set, so
# nothing read from it is ever marked authenticated.
_SESSION: ContextVar[Actor | None] = ContextVar("kakunin_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Run the block as `actor`: every entry it records without an explicit actor is theirs."""
    token = _SESSION.set(actor)
    try:
        yield actor
    finally:
        _SESSION.reset(token)


def current() -> Actor:
    """The authenticated actor of this call (`acting_as`), else the self-declared one.

    Self-declared: `KAKUNIN_ACTOR` (a DAG sets `airflow:<dag>/<run>`), else the OS user.
    """
    session = _SESSION.get()
    if session is not None:
        return session
    configured = os.environ.get("KAKUNIN_ACTOR")
    if configured:
        return Actor(id=configured[:200])
    try:
        return Actor(id=getpass.getuser() or "unknown")
    except (KeyError, OSError):
        return Actor(id="unknown")


def current_actor() -> str:
    """The id of `current()`."""
    return current().id


def vouched_for(actor_id: str) -> str | None:
    """Who vouches for `actor_id`: the session's authenticator when it is the session's user, else None."""
    session = _SESSION.get()
    return session.authenticated_by if session is not None and session.id == actor_id else None


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
    actor_id = actor or current_actor()

    def build(sequence: int, previous: str | None) -> bytes:
        entry = AuditEntry(
            sequence=sequence,
            at=at,
            actor=actor_id,
            actor_authenticated_by=vouched_for(actor_id),
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
