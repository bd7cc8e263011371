"""Write-once helpers over S3 Object Lock, for the store and the CLI. Pure boto3; time is an argument.

- `lock_until` puts a retention on one object (a receipt record until its `keep_until`): S3
  then refuses to delete that version, or shorten the date, until the date has passed
  (COMPLIANCE: for everyone; GOVERNANCE: except callers allowed s3:BypassGovernanceRetention).
- `set_legal_holds` sets or clears legal holds (`kakunin hold`): a held version cannot be
  deleted until the hold is cleared, whatever its retention says.
- `unlocked_objects` names the objects under a prefix that carry neither a retention still
  running nor a legal hold (`lineage verify` on S3). It reads `head_object`, which every
  S3-compatible server answers, rather than GetObjectRetention, which some do not.
The bucket must have Object Lock enabled (`kakunin infra bootstrap` does it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from kakunin.errors import StorageError
from kakunin.infra.bootstrap import translated
from kakunin.infra.spec import LockMode


@dataclass(frozen=True)
class LockState:
    """An object version's lock, as `head_object` reports it."""

    key: str
    mode: str | None
    retain_until: datetime | None
    legal_hold: bool

    def locked(self, as_of: datetime) -> bool:
        """True when S3 would refuse to delete this version at `as_of`."""
        return self.legal_hold or (
            self.mode is not None and self.retain_until is not None and self.retain_until > as_of
        )


def lock_state(key: str, head: dict[str, Any]) -> LockState:
    """The lock of one object from a `head_object` answer (absent fields mean no lock)."""
    until = head.get("ObjectLockRetainUntilDate")
    return LockState(
        key=key,
        mode=head.get("ObjectLockMode"),
        retain_until=until.astimezone(UTC) if isinstance(until, datetime) else None,
        legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
    )


def end_of_day(day: date) -> datetime:
    """The first instant after `day` in UTC: a record kept "until" a date is kept through that day."""
    return datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)


def lock_until(
    client: Any,
    bucket: str,
    key: str,
    until: datetime | date,
    *,
    mode: LockMode = "GOVERNANCE",
    version_id: str | None = None,
) -> None:
    """Lock one object version until `until` (a date locks through the end of that day, UTC)."""
    retain = until if isinstance(until, datetime) else end_of_day(until)
    if retain.tzinfo is None:
        raise StorageError(f"lock_until needs a timezone-aware time for {key!r}, got {retain.isoformat()}")
    arguments: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Retention": {"Mode": mode, "RetainUntilDate": retain},
    }
    if version_id:
        arguments["VersionId"] = version_id
    with translated(f"lock {key!r} in bucket {bucket!r} until {retain.isoformat()}"):
        client.put_object_retention(**arguments)


def set_legal_holds(client: Any, bucket: str, keys: Iterable[str], *, on: bool) -> list[str]:
    """Set (`on=True`) or clear legal holds on the current version of each key; returns the keys done."""
    status = "ON" if on else "OFF"
    done = []
    for key in keys:
        with translated(f"set legal hold {status} on {key!r} in bucket {bucket!r}"):
            client.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": status})
        done.append(key)
    return done


def lock_states(client: Any, bucket: str, prefix: str) -> list[LockState]:
    """The lock of the current version of every object under `prefix`, in key order."""
    states = []
    with translated(f"list the locks under {prefix!r} in bucket {bucket!r}"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                head = client.head_object(Bucket=bucket, Key=item["Key"])
                states.append(lock_state(item["Key"], head))
    return sorted(states, key=lambda state: state.key)


def unlocked_objects(client: Any, bucket: str, prefix: str, *, as_of: datetime) -> list[str]:
    """The keys under `prefix` whose current version S3 would let anyone delete at `as_of`."""
    return [state.key for state in lock_states(client, bucket, prefix) if not state.locked(as_of)]
