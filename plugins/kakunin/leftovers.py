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
from kakunin.storage import ObjectStore

__all__ = ["Leftover", "find_leftovers", "remove_leftovers"]

Kind = Literal["partial-write", "staged", "work", "unsubmitted", "lock"]
_SUBMISSION = "_submission.json"
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


def _in_flight(store: ObjectStore) -> set[tuple[str, str]]:
    flights = set()
    for key in store.list_keys("landing/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == _SUBMISSION:
            flights.add((parts[1], parts[2]))
    return flights


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
    staged = []
    for key in store.list_keys("curated/"):
        parts = key.split("/")
        name = parts[-1]
        if len(parts) == 4 and name.startswith("_pending-") and name.endswith(".parquet"):
            staged.append((key, parts[1], name.removeprefix("_pending-").removesuffix(".parquet")))
    work = [(key, *key.split("/")[1:3]) for key in store.list_keys("work/") if key.count("/") >= 3]
    locks = sorted({key.rsplit("/", 1)[0].removeprefix(f"{leases.LOCKS}/") for key in _lock_keys(store)})
    landed = [key for key in store.list_keys("landing/") if key.count("/") >= 3]
    partial = store.partial_writes()
    flights = _in_flight(store)
    found = [Leftover(kind="partial-write", key=p.name, holds_data=True) for p in partial]
    found += [Leftover(kind="staged", key=k, holds_data=True) for k, d, b in staged if (d, b) not in flights]
    found += [Leftover(kind="work", key=k, holds_data=True) for k, d, b in work if (d, b) not in flights]
    if now is None:
        return found
    for key in landed:
        _, dataset, batch_id, *_ = key.split("/")
        started = _submitted_at(batch_id)
        if (dataset, batch_id) not in flights and started is not None and now - started > ABANDONED_AFTER:
            found.append(Leftover(kind="unsubmitted", key=key, holds_data=True))
    for name in locks:
        parts = name.split("/")
        if len(parts) != 3 or (parts[1], parts[2]) in flights:
            continue
        record = leases.read(store, name)
        if record is None or record.is_free(now):
            found += [
                Leftover(kind="lock", key=key, holds_data=False) for key in store.list_keys(f"{leases.LOCKS}/{name}/")
            ]
    return found


def _lock_keys(store: ObjectStore) -> list[str]:
    return [key for key in store.list_keys(f"{leases.LOCKS}/intake/") if key.endswith(".json")]


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
