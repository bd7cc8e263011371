"""Local scratch folders, named for the process that made them, so a later run removes what a killed one left.

A scratch folder can hold personal data: a curated file downloaded from S3, a batch's uploaded data, the
customer numbers the uniqueness check spills to disk. Python removes a temporary folder on exit and on
error, but not when its process is killed (SIGKILL, the OOM killer, a lost worker): the folder then stays
in the system temporary directory, out of reach of the store's own leftover sweep (`kakunin.leftovers`).
Each folder is therefore named `kakunin-<purpose>-<pid>-<random>`, and `sweep_scratch` removes those whose
process is gone. It relies on the temporary directory being this host's (or container's) own, where
process ids mean the same thing; a folder whose process id was reused by a live process stays until then.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
_NAME = re.compile(r"kakunin-(?P<purpose>[a-z0-9]+)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+")


@contextmanager
def scratch_dir(purpose: str) -> Iterator[Path]:
    """A private temporary folder (mode 0700), removed on leaving, also on error; `purpose` is a lower-case word."""
    if not re.fullmatch("[a-z0-9]+", purpose):
        raise ValueError(f"a scratch folder's purpose is one lower-case word, not {purpose!r}")
    with tempfile.TemporaryDirectory(prefix=f"kakunin-{purpose}-{os.getpid()}-") as folder:
        yield Path(folder)


def owner_pid(name: str) -> int | None:
    """The process id a scratch folder's name carries (None: not a scratch folder of this scheme)."""
    found = _NAME.fullmatch(name)
    return int(found["pid"]) if found else None


def sweep_scratch(root: Path | None = None) -> int:
    """Remove this user's scratch folders whose process is gone (in the system temporary directory by default).

    Returns how many were removed. Folders of live processes, of other users, and anything not
    named by `scratch_dir` (a symbolic link or a file included) are left alone."""
    root = Path(tempfile.gettempdir()) if root is None else root
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0  # no temporary directory to sweep is not this run's failure
    removed = 0
    for entry in entries:
        pid = owner_pid(entry.name)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue  # gone meanwhile
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += not os.path.lexists(entry.path)
    if removed:
        log.info("removed %d scratch folder(s) of processes that were killed", removed)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
