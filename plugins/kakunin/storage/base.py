"""The object-store interface every zone (landing, curated, lineage, ...) is reached through.

Implementations: `LocalStore` (a folder, the default) and `S3Store` (production). Keys are
POSIX-style relative paths (`landing/<dataset>/<batch_id>/data.csv`); `check_key`
refuses anything that could escape the store, so a key built from user input cannot
reach outside it. Writes of a whole object are atomic: a reader sees the old object,
the new one, or none, never a part. `rename` is atomic only on a local store (on S3 it is a
copy and a delete), so nothing that must be all-or-nothing may rely on it.

Write-once (Object Lock, S3 only): `lock_until` keeps an object from being deleted until a
date, `set_legal_holds` until the hold is cleared, and `unlocked_keys` finds what lacks its
lock. A store that cannot lock (a folder) answers False, [] and None: nothing to lock, and
nobody pretends otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from pydantic import BaseModel

from kakunin.errors import StorageError

_KEY_PART = re.compile(r"[A-Za-z0-9._=@+-][A-Za-z0-9._=@+ -]*")


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key; raise `StorageError` otherwise."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in {"", ".", ".."} or not _KEY_PART.fullmatch(p) for p in parts):
        raise StorageError(f"unsafe or malformed store key {key!r}")
    return key


class PartialWrite(BaseModel):
    """A write that never finished (its writer died): data outside every zone until it is swept."""

    name: str
    bytes: int
    age_seconds: float


class ObjectStore(Protocol):
    """What intake, retention and lineage need from a store; nothing more."""

    def describe(self) -> str:
        """Where the store is, for messages (`/srv/kakunin`, `s3://bucket/prefix`)."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write (or replace) an object atomically."""
        ...

    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        """Write an object only if none exists at `key`; False when one did."""
        ...

    def put_file(self, key: str, source: Path) -> None:
        """Copy a local file into the store atomically."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole object; `StorageNotFound` if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under `prefix` (a folder-like prefix ending in `/`), in key order."""
        ...

    def delete(self, key: str) -> list[str]:
        """Remove an object, every version and delete marker of it where the store keeps versions;
        returns the version ids removed (none on a store without versions)."""
        ...

    def rename(self, source: str, target: str) -> None:
        """Move an object to a new key (replacing any object there). Atomic on a local store only:
        on S3 a crash between the copy and the delete leaves both."""
        ...

    def prune_versions(self, key: str) -> list[str]:
        """Destroy every version of `key` but the current one (after a rewrite that must not leave the
        old content recoverable); returns their version ids (none on a store without versions)."""
        ...

    def tidy(self, prefix: str) -> None:
        """After every object under `prefix` is deleted: remove what is left of it (empty folders)."""
        ...

    def sha256(self, key: str) -> str:
        """Hex SHA-256 of the object (S3: from its stored checksum, no download); `StorageNotFound` if absent."""
        ...

    def open_input(self, key: str) -> BinaryIO:
        """A seekable binary reader of the object (ranged reads on S3), e.g. for `pyarrow.parquet`."""
        ...

    def dataset_location(self, key: str) -> tuple[str, str]:
        """OpenLineage (namespace, name) of a key."""
        ...

    def reading(self, key: str) -> AbstractContextManager[Path]:
        """A local file with the object's content, for readers such as pyarrow that want a path."""
        ...

    def writing(self, key: str) -> AbstractContextManager[Path]:
        """A local path to write; on a clean exit it becomes the object at `key`, atomically."""
        ...

    def partial_writes(self) -> list[PartialWrite]:
        """Writes whose writer died before finishing (temporaries; on S3, incomplete multipart uploads)."""
        ...

    def sweep_partial_writes(self) -> list[PartialWrite]:
        """Remove what `partial_writes` finds; returns it."""
        ...

    def lock_until(self, key: str, until: date) -> bool:
        """Keep the current version of `key` from being deleted through the end of `until` (UTC); True
        when it is locked at least that long now, False when this store or its bucket cannot lock."""
        ...

    def set_legal_holds(self, keys: list[str], *, on: bool) -> list[str]:
        """Set (or clear) a legal hold on each of `keys` that exists; returns those done (none if unable)."""
        ...

    def held_keys(self, keys: list[str]) -> list[str] | None:
        """The keys among `keys` under a legal hold now; None when this store cannot hold."""
        ...

    def unlocked_keys(self, prefix: str, as_of: datetime) -> list[str] | None:
        """Keys under `prefix` whose current version was never locked (no retention, no legal hold) and
        so could be deleted at `as_of`; None when this store cannot lock at all."""
        ...

    def lock_missing(self, prefix: str) -> str | None:
        """Why objects under `prefix` cannot be locked (a bucket without Object Lock); None when they can,
        or when the store cannot lock at all (then `unlocked_keys` is None)."""
        ...
