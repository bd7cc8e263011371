"""One object-store interface for every zone: a local folder by default, S3 in production."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from kakunin.hashing import sha256_file
from kakunin.storage.base import ObjectStore, check_key
from kakunin.storage.local import LocalStore

__all__ = [
    "LocalStore",
    "ObjectStore",
    "check_key",
    "delete_prefix",
    "load",
    "local_folder",
    "object_sha256",
    "open_store",
]

Model = TypeVar("Model", bound=BaseModel)


def open_store(home: str | None = None) -> ObjectStore:
    """The store named by `home`, else `KAKUNIN_HOME`, else `./var`."""
    return LocalStore(Path(home or os.environ.get("KAKUNIN_HOME") or "var"))


def load(store: ObjectStore, key: str, model: type[Model]) -> Model:
    """The JSON document at `key`, validated as `model` (typed, so callers need no casts)."""
    return model.model_validate_json(store.get_bytes(key))


def delete_prefix(store: ObjectStore, prefix: str) -> int:
    """Delete every object under `prefix`; returns how many. Empty local folders go too."""
    keys = list(store.list_keys(prefix))
    for key in keys:
        store.delete(key)
    if isinstance(store, LocalStore):
        folder = store.root / check_key(prefix.rstrip("/"))
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    return len(keys)


@contextmanager
def local_folder(store: ObjectStore, prefix: str) -> Iterator[Path]:
    """The objects under `prefix` as a local folder (the real one for a local store, a copy otherwise)."""
    if isinstance(store, LocalStore):
        yield store.root / check_key(prefix.rstrip("/"))
        return
    with tempfile.TemporaryDirectory(prefix="kakunin-") as tmp:
        for key in store.list_keys(prefix):
            target = Path(tmp, key[len(prefix) :].lstrip("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(store.get_bytes(key))
        yield Path(tmp)


def object_sha256(store: ObjectStore, key: str) -> str:
    """Hex SHA-256 of a stored object, streamed (`StorageNotFound` if absent)."""
    with store.reading(key) as path:
        return sha256_file(path)
