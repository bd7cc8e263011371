"""One object-store interface for every zone: a local folder by default, S3 in production."""

from __future__ import annotations

import os
from pathlib import Path

from kakunin.storage.base import ObjectStore, check_key
from kakunin.storage.local import LocalStore

__all__ = ["LocalStore", "ObjectStore", "check_key", "open_store"]


def open_store(home: str | None = None) -> ObjectStore:
    """The store named by `home`, else `KAKUNIN_HOME`, else `./var`."""
    return LocalStore(Path(home or os.environ.get("KAKUNIN_HOME") or "var"))
