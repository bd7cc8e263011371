"""What the auditor's checks report: one `Problem` per thing that is not as the lineage says."""

from __future__ import annotations

from pydantic import BaseModel

from kakunin.errors import StorageError
from kakunin.storage.base import check_key


class Problem(BaseModel):
    """One thing that is not as the lineage says it should be."""

    check: str
    where: str
    message: str


class Problems(list[Problem]):
    """The problems found so far, in the order found."""

    def fail(self, check: str, where: str, message: str) -> None:
        self.append(Problem(check=check, where=where, message=message))


def unsafe_keys(keys: list[str]) -> list[str]:
    """The keys among `keys` that no writer would produce (`../x`, absolute): tampering, not an I/O error."""
    bad = []
    for key in keys:
        try:
            check_key(key)
        except StorageError:
            bad.append(key)
    return bad
