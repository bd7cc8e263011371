"""Building blocks for test stores, on either backend (a folder or S3):

- stores that hold every kind of decision (published, rejected at the gate, refused at
  submission), shared by the decision-record tests and the tamper table;
- reading a store the way a user's tools would (`keys_like`, `read_parquet`, `zone_bytes`),
  through the store API only, so the same assertion holds on `LocalStore` and `S3Store`;
- tampering as an outsider would (`tamper_write`, `tamper_delete`) and undoing it (`undoable`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.context import IntakeContext
from kakunin.intake.run import run_batch
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore, ObjectStore, S3Store
from tests.conftest import TODAY, edits

Mutation = Callable[[dict[str, Any], Path], None]


# ── reading a store through its API ──────────────────────────────────────────────────


def keys_like(store: ObjectStore, pattern: str) -> list[str]:
    """Keys matching a glob, part by part like `Path.glob` (`*` never crosses a `/`), in key order."""
    parts = pattern.split("/")
    literal = _leading_literals(parts)
    prefix = "/".join(literal) + "/" if literal else ""
    return [
        key
        for key in store.list_keys(prefix)
        if len(key.split("/")) == len(parts)
        and all(fnmatch.fnmatchcase(k, p) for k, p in zip(key.split("/"), parts, strict=True))
    ]


def _leading_literals(parts: list[str]) -> list[str]:
    """The folders of a pattern before its first wildcard: the prefix worth listing."""
    literal: list[str] = []
    for part in parts[:-1]:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    return literal


def keys_named(store: ObjectStore, prefix: str, name: str) -> list[str]:
    """Keys under `prefix` at any depth whose last part matches the glob `name` (like `rglob`)."""
    return [key for key in store.list_keys(prefix) if fnmatch.fnmatchcase(key.rsplit("/", 1)[-1], name)]


def holds_nothing(store: ObjectStore, prefix: str) -> bool:
    """No object under `prefix`; on a folder store not even an empty folder is left."""
    if list(store.list_keys(prefix)):
        return False
    return not isinstance(store, LocalStore) or not (store.root / prefix).exists()


def read_parquet(store: ObjectStore, key: str) -> pa.Table:
    """One Parquet object, read through the store (ranged reads on S3)."""
    with store.open_input(key) as handle:
        return pq.read_table(handle)


def read_parquets(store: ObjectStore, keys: Iterable[str]) -> pa.Table | None:
    """Several Parquet objects as one table (None when there are none)."""
    tables = [read_parquet(store, key) for key in keys]
    return pa.concat_tables(tables, promote_options="default") if tables else None


def zone_bytes(store: ObjectStore, zone: str) -> bytes:
    """Every object under a zone, concatenated in key order (to search for a value anywhere in it)."""
    return b"".join(store.get_bytes(key) for key in store.list_keys(f"{zone}/"))


def names_under(store: ObjectStore, prefix: str) -> set[str]:
    """The names directly under a folder-like prefix (files and 'folders' alike), like `iterdir`."""
    base = prefix.rstrip("/") + "/"
    return {key.removeprefix(base).split("/", 1)[0] for key in store.list_keys(base)}


# ── tampering as an outsider would, and undoing it ──────────────────────────────────


def tamper_write(store: ObjectStore, key: str, data: bytes) -> None:
    """Overwrite an object behind Kakunin's back (on S3: a plain PUT, a new version of the key)."""
    if isinstance(store, S3Store):
        bucket, s3_key = store.locate(key)
        store.client.put_object(Bucket=bucket, Key=s3_key, Body=data, ChecksumAlgorithm="SHA256")
    else:
        store.put_bytes(key, data)


def tamper_delete(store: ObjectStore, key: str) -> None:
    """Remove an object behind Kakunin's back (on S3: a DELETE without a version id, which a
    versioned bucket turns into a delete marker; locked versions stay, hidden)."""
    if isinstance(store, S3Store):
        bucket, s3_key = store.locate(key)
        store.client.delete_object(Bucket=bucket, Key=s3_key)
    else:
        store.delete(key)


def undoable(store: ObjectStore, keys: Iterable[str]) -> Callable[[], None]:
    """Note how `keys` are now; the function returned puts them back so. On S3 it removes the
    versions and delete markers added since, so each key's original version (lock and all) is
    current again; on a folder it writes the original bytes back."""
    keys = list(keys)
    if isinstance(store, S3Store):
        before = {key: {v["VersionId"] for v in store.versions(key)} for key in keys}

        def restore_versions() -> None:
            for key, known in before.items():
                added = [v for v in store.versions(key) if v["VersionId"] not in known]
                if added:
                    bucket, _ = store.locate(key)
                    store.client.delete_objects(Bucket=bucket, Delete={"Objects": added, "Quiet": True})

        return restore_versions
    originals = {key: store.get_bytes(key) for key in keys}

    def restore_bytes() -> None:
        for key, content in originals.items():
            store.put_bytes(key, content)

    return restore_bytes


# ── stores holding every kind of decision ────────────────────────────────────────────


def submitted(store: ObjectStore, registry: Registry, folder: Path) -> BatchRef:
    """Submit a batch folder that must land; its reference in landing."""
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    return ref


def rejected_at_gate(store: ObjectStore, registry: Registry, ctx: IntakeContext, folder: Path) -> BatchRef:
    """A batch the intake gate rejects: its landed data changed after it was submitted."""
    ref = submitted(store, registry, folder)
    data = ref.landing("data.csv")
    store.put_bytes(data, store.get_bytes(data) + b"\n")
    assert run_batch(ref, ctx).decision.startswith("rejected")
    return ref


def refused_at_submission(store: ObjectStore, registry: Registry, write: Callable[[Mutation], Path]) -> BatchRef:
    """A batch refused when submitted (the four-eyes rule: approved by its own author); `write(mutation)`
    writes the batch folder."""
    folder = write(edits(approved_by="E1024"))
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert not result.landed
    (rejection,) = keys_like(store, f"quarantine/*/{result.batch_id}/rejection.json")
    return BatchRef(rejection.split("/")[1], result.batch_id)
