"""One object-store interface for every zone: a local folder by default, S3 in production."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from kakunin.storage.base import ObjectStore, check_key
from kakunin.storage.config import STORAGE_ENV, parse_storage_url
from kakunin.storage.local import LocalStore
from kakunin.storage.s3 import S3Store

__all__ = [
    "LocalStore",
    "ObjectStore",
    "S3Store",
    "check_key",
    "delete_prefix",
    "load",
    "object_sha256",
    "open_store",
]

Model = TypeVar("Model", bound=BaseModel)


def open_store(home: str | None = None, *, s3_client: Any | None = None) -> ObjectStore:
    """The store named by `home` (a folder or a store URL), else `KAKUNIN_STORAGE`
    (`file:///srv/kakunin`, `s3://bucket/prefix`), else the folder `KAKUNIN_HOME`, else `./var`.

    `s3_client` is a ready boto3 S3 client (a DAG builds one from its Airflow connection);
    without it an S3 store builds one from the standard AWS environment.
    """
    if home is not None and "://" not in home:
        return LocalStore(Path(home))
    where = home or os.environ.get(STORAGE_ENV, "").strip()
    if not where:
        return LocalStore(Path(os.environ.get("KAKUNIN_HOME") or "var"))
    location = parse_storage_url(where)
    if isinstance(location, Path):
        return LocalStore(location)
    return S3Store(location, client=s3_client)


def load(store: ObjectStore, key: str, model: type[Model]) -> Model:
    """The JSON document at `key`, validated as `model` (typed, so callers need no casts)."""
    return model.model_validate_json(store.get_bytes(key))


def delete_prefix(store: ObjectStore, prefix: str) -> int:
    """Delete every object under `prefix` (every version, on S3); returns how many. Empty local folders go too."""
    keys = list(store.list_keys(prefix))
    for key in keys:
        store.delete(key)
    store.tidy(prefix)
    return len(keys)


def object_sha256(store: ObjectStore, key: str) -> str:
    """Hex SHA-256 of a stored object (`StorageNotFound` if absent); S3 answers from its checksum."""
    return store.sha256(key)
