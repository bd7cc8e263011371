"""Object Lock for `S3Store`: the lineage and audit zones are write-once.

What is locked, and until when (lineage-manifest.md: these records are append-only):
- every object written into the lineage or audit zone is locked in the same PUT
  (`x-amz-object-lock-*` headers, so there is no moment it is unlocked) for
  `KAKUNIN_S3_LOCK_DAYS` (default 1095 days, the receipt record's three years) from the write:
  audit entries, chain links, certificates, holds and erasure requests;
- `lock_until` then extends a lock to a record's own date: a receipt record until the end of
  its `keep_until`, and the batch's manifest (Parquet, header, chain link) and commit record
  until the same date, so the law's minimum is enforced by the store and the purge may remove
  the receipt after it. A lock is only ever extended, never shortened.
The mode is `KAKUNIN_S3_LOCK_MODE`: GOVERNANCE (default; callers allowed
s3:BypassGovernanceRetention may lift it) or COMPLIANCE (nobody can).

A bucket without Object Lock is not an error for writers: they write unlocked (S3 would refuse
the lock headers) and `lineage verify` reports the bucket (`lock_missing`) and every object.
Whether a bucket has Object Lock is asked once per bucket and store (`GetObjectLockConfiguration`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kakunin.errors import StorageError, StorageLocked
from kakunin.layout import AUDIT_CHAIN, MANIFESTS
from kakunin.storage.config import S3Location

log = logging.getLogger(__name__)
WRITE_ONCE_ZONES = (MANIFESTS.partition("/")[0], AUDIT_CHAIN.partition("/")[0])


def error_code(exc: Exception) -> str:
    """The S3 error code of a botocore `ClientError` (empty for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class ObjectLocks:
    """The Object Lock half of `S3Store` (it supplies `client`, `location`, `locate` and `_store_key`)."""

    client: Any
    location: S3Location
    _lock_enabled: dict[str, bool]
    _warned: set[str]

    def locate(self, key: str) -> tuple[str, str]:
        raise NotImplementedError

    def _store_key(self, s3_key: str) -> str:
        raise NotImplementedError

    def bucket_can_lock(self, bucket: str) -> bool:
        """Whether `bucket` has Object Lock enabled (asked once per bucket)."""
        if bucket not in self._lock_enabled:
            try:
                answer = self.client.get_object_lock_configuration(Bucket=bucket)
                enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except Exception as exc:
                if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                    raise StorageError(f"cannot read the Object Lock setting of bucket {bucket!r}: {exc}") from exc
                enabled = False
            self._lock_enabled[bucket] = enabled
        return self._lock_enabled[bucket]

    def write_lock_args(self, key: str) -> dict[str, Any]:
        """The lock headers for a write of `key`: a lineage/audit object is locked as it is written."""
        if key.split("/", 1)[0] not in WRITE_ONCE_ZONES:
            return {}
        bucket = self.locate(key)[0]
        if not self.bucket_can_lock(bucket):
            if bucket not in self._warned:
                self._warned.add(bucket)
                zone = key.split("/", 1)[0]
                log.warning("%s; %s objects are written there unlocked", self.lock_missing(f"{zone}/"), zone)
            return {}
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=self.location.lock_days)
        return {"ObjectLockMode": self.location.lock_mode, "ObjectLockRetainUntilDate": until}

    def lock_until(self, key: str, until: date) -> bool:
        """Lock the current version of `key` through the end of `until` (UTC), or leave a later lock as it is.

        False when the bucket has no Object Lock. A date already past locks nothing (S3 refuses a
        retention in the past) and answers whether the object is locked anyway.
        """
        from kakunin.infra.locks import end_of_day, lock_state
        from kakunin.infra.locks import lock_until as put_retention

        bucket, s3_key = self.locate(key)
        if not self.bucket_can_lock(bucket):
            return False
        retain = end_of_day(until)
        head = self._head_version(key, bucket, s3_key, None)
        state = lock_state(key, head)
        if state.retain_until is not None and state.retain_until >= retain:
            return True
        now = datetime.now(UTC)
        if retain <= now:
            return state.locked(now)
        compliance = self.location.lock_mode == "COMPLIANCE"
        version = head.get("VersionId")
        put_retention(
            self.client, bucket, s3_key, retain, mode="COMPLIANCE" if compliance else "GOVERNANCE", version_id=version
        )
        return True

    def set_legal_holds(self, keys: list[str], *, on: bool) -> list[str]:
        """Set or clear legal holds on the keys that exist, in buckets with Object Lock; returns those done."""
        from kakunin.infra.locks import set_legal_holds

        by_bucket: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            bucket, s3_key = self.locate(key)
            if self.bucket_can_lock(bucket) and self._head_if_present(bucket, s3_key) is not None:
                by_bucket[bucket].append(s3_key)
        done = []
        for bucket, s3_keys in sorted(by_bucket.items()):
            done += [self._store_key(k) for k in set_legal_holds(self.client, bucket, s3_keys, on=on)]
        return sorted(done)

    def held_keys(self, keys: list[str]) -> list[str]:
        """The keys among `keys` whose current version is under a legal hold."""
        from kakunin.infra.locks import lock_state

        held = []
        for key in keys:
            bucket, s3_key = self.locate(key)
            head = self._head_if_present(bucket, s3_key) if self.bucket_can_lock(bucket) else None
            if head is not None and lock_state(key, head).legal_hold:
                held.append(key)
        return held

    def unlocked_keys(self, prefix: str, as_of: datetime) -> list[str]:
        """Keys under `prefix` whose current version was never locked: no retention, no legal hold.

        A retention that ran out by `as_of` is not missing: it did its job (a receipt past its
        `keep_until` may go). In a bucket without Object Lock every object is unlocked.
        """
        from kakunin.infra.locks import lock_states

        bucket, s3_prefix = self.locate(prefix.rstrip("/"))
        states = lock_states(self.client, bucket, s3_prefix + "/")
        return [
            self._store_key(s.key) for s in states if not s.locked(as_of) and s.mode is None and s.retain_until is None
        ]

    def lock_missing(self, prefix: str) -> str | None:
        bucket, _ = self.locate(prefix.rstrip("/"))
        if self.bucket_can_lock(bucket):
            return None
        return (
            f"bucket {bucket!r} has no Object Lock: nothing under {prefix} can be made write-once "
            "(run `kakunin infra bootstrap`, which enables it)"
        )

    def refused_delete(self, key: str, version_id: str, message: str) -> StorageError:
        """The error for a version S3 would not delete: `StorageLocked` when its lock is why."""
        from kakunin.infra.locks import lock_state

        bucket, s3_key = self.locate(key)
        try:
            head = self._head_version(key, bucket, s3_key, version_id)
        except StorageError:
            head = {}
        state = lock_state(key, head)
        now = datetime.now(UTC)
        if state.locked(now):
            why = "under a legal hold" if state.legal_hold else f"until {state.retain_until:%Y-%m-%d %H:%M} UTC"
            return StorageLocked(
                f"{key} is locked by the store {why} (S3 Object Lock); it stays until then",
                key=key,
                until=None if state.legal_hold else state.retain_until,
                legal_hold=state.legal_hold,
            )
        return StorageError(f"cannot delete {key} (version {version_id}): {message}")

    def _head_version(self, key: str, bucket: str, s3_key: str, version_id: str | None) -> dict[str, Any]:
        extra = {"VersionId": version_id} if version_id and version_id != "null" else {}
        try:
            answer: dict[str, Any] = self.client.head_object(Bucket=bucket, Key=s3_key, **extra)
        except Exception as exc:
            raise StorageError(f"cannot read the lock of {key}: {exc}") from exc
        return answer

    def _head_if_present(self, bucket: str, s3_key: str) -> dict[str, Any] | None:
        """The object's current version's HEAD answer; None when there is none."""
        try:
            answer: dict[str, Any] = self.client.head_object(Bucket=bucket, Key=s3_key)
        except Exception as exc:
            if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise StorageError(f"cannot read s3://{bucket}/{s3_key}: {exc}") from exc
        return answer
