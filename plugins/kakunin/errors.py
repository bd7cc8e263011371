"""Kakunin's one exception tree; library errors are translated into it at the boundary.

    KakuninError                 anything Kakunin reports to a user as `code: message`
    ├── ConfigError              a contract or the purpose register is broken (names file and field)
    ├── InputError               a user-supplied path or file cannot be used (missing, unsafe, unreadable)
    └── StorageError             the store refused an operation
        ├── StorageNotFound      the object or folder is not in the store
        └── StorageLocked        S3 Object Lock refuses to delete it yet (a retention or a legal hold)

The CLI maps every `KakuninError` to exit 2 ("could not run") with its message and
never shows a traceback for one.
"""

from __future__ import annotations

from datetime import datetime


class KakuninError(Exception):
    """Base of every error Kakunin raises on purpose."""

    code = "error"


class ConfigError(KakuninError):
    """A dataset contract or the purpose register is invalid."""

    code = "config"


class InputError(KakuninError):
    """A path or file given by a user cannot be used."""

    code = "input"


class UnknownRecord(InputError):
    """A well-formed record id no manifest holds (the web answers 404; the CLI exits 2, code `input`, as before)."""


class StorageError(KakuninError):
    """The object store could not complete an operation."""

    code = "storage"


class StorageNotFound(StorageError):
    """The requested object or folder does not exist in the store."""

    code = "not_found"


class StorageLocked(StorageError):
    """The store refuses to delete an object its Object Lock protects; `until` is when the retention
    ends (None under a legal hold, which lasts until it is cleared)."""

    code = "locked"

    def __init__(self, message: str, *, key: str, until: datetime | None, legal_hold: bool) -> None:
        super().__init__(message)
        self.key = key
        self.until = until
        self.legal_hold = legal_hold
