"""Leases: one worker at a time on a batch (or on the retention run), on any store, with expiry.

A lease is a sequence of generations under `locks/<name>/<generation>.json`, each written
create-only (`put_bytes_if_absent`, a conditional write on S3). The newest generation says
who holds the lease and until when; it is free once that generation is released or expired.
Taking a free lease, renewing it and releasing it all write the *next* generation, so two
workers racing for the same generation cannot both win, and a holder whose lease was taken
over after it expired finds out at its next `renew` (`LeaseLost`) instead of writing on.

Nothing here reads the clock: `now` is passed in. A holder renews between units of work;
the `ttl` must exceed the longest unit (one intake step of one batch, one retention file).
A lease whose holder was a process on this machine that no longer runs (killed, crashed)
is free at once; a holder on another machine is waited out until its lease expires.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from kakunin.errors import KakuninError, StorageError
from kakunin.layout import LOCKS, folder_prefix, lease_generation_key, lease_name_of, lease_prefix
from kakunin.storage import ObjectStore, check_key
from kakunin.storage.local import machine_id, process_gone

DEFAULT_TTL = timedelta(minutes=30)

__all__ = ["DEFAULT_TTL", "LOCKS", "Lease", "LeaseLost", "LeaseRecord", "acquire", "new_owner", "read"]


class LeaseLost(KakuninError):
    """The lease expired and another worker took it; the work must stop and be left to that worker."""

    code = "lease"


class LeaseRecord(BaseModel):
    """One generation of a lease: who holds it, until when, or that it was released."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    generation: int
    owner: str
    acquired_at: datetime
    expires_at: datetime
    released: bool = False

    def is_free(self, now: datetime) -> bool:
        """Released, expired, or held by a process of this machine that no longer runs (killed)."""
        return self.released or self.expires_at <= now or self.holder_gone()

    def holder_gone(self) -> bool:
        host, _, rest = self.owner.rpartition(":")[0].rpartition(":")
        return rest.isdigit() and process_gone(host, int(rest))


def new_owner() -> str:
    """A worker id for messages and the lease record: machine, process and a random tag (no user data)."""
    return f"{machine_id()}:{os.getpid()}:{secrets.token_hex(4)}"


def _prefix(name: str) -> str:
    return check_key(lease_prefix(name))


def _generation_key(name: str, generation: int) -> str:
    return check_key(lease_generation_key(name, generation))


def read(store: ObjectStore, name: str) -> LeaseRecord | None:
    """The newest generation of the lease `name`, or None if it was never taken (or was dropped)."""
    keys = [k for k in store.list_keys(folder_prefix(_prefix(name))) if lease_name_of(k) == name]
    for key in reversed(keys):
        try:
            return LeaseRecord.model_validate_json(store.get_bytes(key))
        except KakuninError:
            continue  # dropped between listing and reading
    return None


class Lease:
    """A lease this worker holds. Use as a context manager to release it on the way out."""

    def __init__(self, store: ObjectStore, record: LeaseRecord, *, ttl: timedelta, now: Callable[[], datetime]) -> None:
        self.store = store
        self.record = record
        self.ttl = ttl
        self.now = now

    @property
    def name(self) -> str:
        return self.record.name

    def _next(self, *, released: bool) -> LeaseRecord:
        at = self.now()
        record = LeaseRecord(
            name=self.record.name,
            generation=self.record.generation + 1,
            owner=self.record.owner,
            acquired_at=self.record.acquired_at,
            expires_at=at if released else at + self.ttl,
            released=released,
        )
        if not self.store.put_bytes_if_absent(
            _generation_key(record.name, record.generation), record.model_dump_json().encode()
        ):
            raise LeaseLost(f"lease {self.record.name} was taken over by another worker after it expired")
        return record

    def renew(self, *, force: bool = False) -> None:
        """Make sure the lease is still ours, extending it by `ttl` once half of it has passed
        (or now, with `force`, before a unit of work that needs the whole lease ahead of it).

        While more than half the lease is left nobody can have taken it, so nothing is
        written; otherwise the next generation is written create-only, and `LeaseLost`
        says another worker took the lease after it expired.
        """
        if not force and self.now() < self.record.expires_at - self.ttl / 2:
            return
        self.record = self._next(released=False)

    def release(self) -> None:
        """Give the lease up; the next worker may take it at once. Losing it meanwhile is not an error here,
        nor a store that cannot take the release: the lease then simply expires."""
        try:
            self.record = self._next(released=True)
        except (LeaseLost, StorageError):
            return

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(
    store: ObjectStore,
    name: str,
    *,
    owner: str,
    now: Callable[[], datetime],
    ttl: timedelta = DEFAULT_TTL,
) -> Lease | None:
    """Take the lease `name` if it is free (never taken, released or expired); None if another worker holds it."""
    current = read(store, name)
    at = now()
    if current is not None and not current.is_free(at):
        return None
    record = LeaseRecord(
        name=name,
        generation=(current.generation if current else 0) + 1,
        owner=owner,
        acquired_at=at,
        expires_at=at + ttl,
    )
    if not store.put_bytes_if_absent(_generation_key(name, record.generation), record.model_dump_json().encode()):
        return None  # another worker took this generation first
    return Lease(store, record, ttl=ttl, now=now)
