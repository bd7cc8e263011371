"""A local store that dies (`os._exit`, like kill -9) just before its N-th state-changing operation.

Every operation that changes the store is a fault point: put, create-only put, copy in,
delete, rename, and for `writing` two points (before the temporary file is made, and
after it is written but before it becomes the object). Reads change nothing, so a kill
before a read is the same as a kill before the next write. It subclasses `LocalStore`, so
the code under test takes exactly the paths it takes in production.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kakunin.storage import LocalStore

KILLED = 137  # the exit status a shell shows for kill -9


class Killed(BaseException):
    """An in-process stand-in for kill -9: a BaseException, so no `except Exception` handler absorbs it."""


class FaultyStore(LocalStore):
    """`LocalStore` with a kill before operation `kill_at` (1-based; 0 never), logging each point to `log`.

    In-process tests use `kill_when` instead: a regular expression matched against
    `"<operation> <key>"`; the `occurrence`-th operation that matches raises `Killed`.
    """

    def __init__(
        self,
        root: Path,
        *,
        kill_at: int = 0,
        log: Path | None = None,
        kill_when: str | None = None,
        occurrence: int = 1,
    ) -> None:
        super().__init__(root)
        self.kill_at = kill_at
        self.log = log
        self.kill_when = re.compile(kill_when) if kill_when else None
        self.matches_left = occurrence
        self.count = 0
        self.killed = False

    def _point(self, operation: str, key: str) -> None:
        self.count += 1
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as handle:
                handle.write(f"{self.count}\t{operation}\t{key}\n")
        if self.count == self.kill_at:
            os._exit(KILLED)
        if self.kill_when is not None and not self.killed and self.kill_when.search(f"{operation} {key}"):
            self.matches_left -= 1
            if self.matches_left == 0:
                self.killed = True
                raise Killed(f"killed before {operation} {key}")

    def put_bytes(self, key: str, data: bytes) -> None:
        self._point("put", key)
        super().put_bytes(key, data)

    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        self._point("put-if-absent", key)
        return super().put_bytes_if_absent(key, data)

    def put_file(self, key: str, source: Path) -> None:
        self._point("put-file", key)
        super().put_file(key, source)

    def delete(self, key: str) -> None:
        self._point("delete", key)
        super().delete(key)

    def rename(self, source: str, target: str) -> None:
        self._point("rename", f"{source} -> {target}")
        super().rename(source, target)

    @contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        self._point("write-open", key)
        with super().writing(key) as path:
            yield path
            self._point("write-commit", key)
