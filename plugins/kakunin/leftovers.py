"""Leftovers: what a crashed run leaves outside the lineage, found and removed by store layout alone.

A worker killed at the wrong moment can leave data that no manifest names and that no
retention run would otherwise reach:

- `partial-write`: a temporary file of a write that never finished (its process is gone);
- `staged`: a `_pending-<batch>.parquet` curated file of a batch that is no longer in landing;
- `work`: files under `work/<dataset>/<batch>/` of a batch that is no longer in landing;
- `unsubmitted`: a file in landing of a submission that never wrote `_submission.json`
  (its submit was killed) and is over a day old;
- `lock`: a free lease of a batch that is no longer in landing.

A batch still in landing (its `_submission.json` is there) is in flight, and nothing of it
is a leftover: its own next intake step finishes or replaces it. Intake and retention runs
remove leftovers; `lineage verify` reports those that can hold personal data. This module
reads only the store layout, so verify does not depend on the code that wrote the data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from kakunin import leases
from kakunin.layout import (
    CURATED,
    LANDING,
    SUBMISSION_FILE,
    WORK,
    BatchRef,
    batch_prefix,
    folder_prefix,
    intake_lease_batch,
    intake_leases_prefix,
    lease_name_of,
    lease_prefix,
    parse_curated_key,
    split_batch_key,
)
from kakunin.storage import ObjectStore

__all__ = ["Leftover", "find_leftovers", "remove_leftovers"]

Kind = Literal["partial-write", "staged", "work", "unsubmitted", "lock"]
ABANDONED_AFTER = timedelta(days=1)  # a submit that has not finished in a day was killed


class Leftover(BaseModel):
    """One object (or lease) left behind by a run that did not finish."""

    kind: Kind
    key: str
    holds_data: bool

    @property
    def message(self) -> str:
        return {
            "partial-write": "a write whose process died before finishing",
            "staged": "a staged curated file of a batch no longer in landing",
            "work": "a work file of a batch no longer in landing",
            "unsubmitted": "a file of a submission that never finished (no _submission.json after a day)",
            "lock": "a free lease of a batch no longer in landing",
        }[self.kind]


def _in_flight(store: ObjectStore) -> set[BatchRef]:
    flights = set()
    for key in store.list_keys(batch_prefix(LANDING)):
        split = split_batch_key(key, LANDING)
        if split is not None and split[1] == SUBMISSION_FILE:
            flights.add(split[0])
    return flights


def _batch_keys(store: ObjectStore, zone: str) -> list[tuple[str, BatchRef]]:
    """(key, batch) of every object in a batch folder of `zone`, whatever the folder's names."""
    return [(key, split[0]) for key in store.list_keys(batch_prefix(zone)) if (split := split_batch_key(key, zone))]


def _submitted_at(batch_id: str) -> datetime | None:
    try:
        return datetime.strptime(batch_id.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def find_leftovers(store: ObjectStore, *, now: datetime | None = None) -> list[Leftover]:
    """Every leftover in the store now, in key order within each kind.

    Candidates are listed before landing is read: a batch's submission exists before any of
    its work files and goes only after them, so a batch submitted meanwhile is never taken
    for finished. Free leases and abandoned submissions need `now`.
    """
    staged = [
        (c.key, c.ref) for k in store.list_keys(batch_prefix(CURATED)) if (c := parse_curated_key(k)) and c.pending
    ]
    work = _batch_keys(store, WORK)
    locks = sorted({name for key in store.list_keys(intake_leases_prefix()) if (name := lease_name_of(key))})
    landed = _batch_keys(store, LANDING)
    partial = store.partial_writes()
    flights = _in_flight(store)
    found = [Leftover(kind="partial-write", key=p.name, holds_data=True) for p in partial]
    found += [Leftover(kind="staged", key=k, holds_data=True) for k, ref in staged if ref not in flights]
    found += [Leftover(kind="work", key=k, holds_data=True) for k, ref in work if ref not in flights]
    if now is None:
        return found
    for key, ref in landed:
        started = _submitted_at(ref.batch_id)
        if ref not in flights and started is not None and now - started > ABANDONED_AFTER:
            found.append(Leftover(kind="unsubmitted", key=key, holds_data=True))
    for name in locks:
        batch = intake_lease_batch(name)
        if batch is None or batch in flights:
            continue
        record = leases.read(store, name)
        if record is None or record.is_free(now):
            found += [
                Leftover(kind="lock", key=key, holds_data=False)
                for key in store.list_keys(folder_prefix(lease_prefix(name)))
            ]
    return found


def remove_leftovers(store: ObjectStore, leftovers: list[Leftover]) -> int:
    """Remove the leftovers found (partial writes through the store's own sweep); returns how many went."""
    from kakunin.errors import StorageNotFound

    removed = 0
    if any(item.kind == "partial-write" for item in leftovers):
        removed += len(store.sweep_partial_writes())
    for item in leftovers:
        if item.kind == "partial-write":
            continue
        try:
            store.delete(item.key)
        except StorageNotFound:
            continue
        removed += 1
    return removed
