"""A folder on the local disk as an object store: the default, and a real backend.

Whole-object writes go through a temporary file in `<root>/.tmp/`, named after the host
and process that made it, then a rename (or a hard link, for create-only writes) onto the
key. A process killed mid-write leaves its temporary there, outside every zone and every
listing; `partial_writes` finds those of dead processes and `sweep_partial_writes`
removes them, so a crash never leaves personal data where neither verify nor retention
looks.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from kakunin.errors import StorageError, StorageNotFound
from kakunin.hashing import sha256_file
from kakunin.storage.base import PartialWrite, check_key

TEMP_FOLDER = ".tmp"
STALE_AFTER_SECONDS = 24 * 3600  # a temporary this old is abandoned even if its process id was reused


def machine_id() -> str:
    """This machine as process ids see it: host name and pid namespace (containers sharing a host
    name do not share process ids)."""
    try:
        namespace = Path("/proc/self/ns/pid").stat().st_ino
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}~{namespace}"


def process_gone(host: str, pid: int) -> bool:
    """True only when `host` is this machine (`machine_id`) and no process `pid` runs on it (a crashed writer)."""
    if host != machine_id() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class LocalStore:
    """Objects are files under `root`; atomic writes go through a temporary file and a rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def _temp_dir(self) -> Path:
        folder = self.root / TEMP_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _new_temp(self) -> tuple[int, str]:
        """An open temporary file in `.tmp/`, named `<host>-<pid>-<random>` so a sweeper can tell whose it is."""
        return tempfile.mkstemp(prefix=f"{machine_id()}-{os.getpid()}-", dir=self._temp_dir())

    def partial_writes(self) -> list[PartialWrite]:
        """Temporaries left by writes that never finished: their process is gone, or they are a day old.

        Also `.tmp-*` files beside their keys, where releases before the `.tmp/` folder put them:
        nothing writes those any more, so every one is a leftover.
        """
        found = [
            PartialWrite(name=path.relative_to(self.root).as_posix(), bytes=path.stat().st_size, age_seconds=0.0)
            for path in self._legacy_temporaries()
        ]
        folder = self.root / TEMP_FOLDER
        if not folder.is_dir():
            return found
        for path in sorted(folder.iterdir()):
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            owner_host, _, rest = path.name.rpartition("-")[0].rpartition("-")
            pid = int(rest) if rest.isdigit() else -1
            if process_gone(owner_host, pid) or age > STALE_AFTER_SECONDS:
                name = f"{TEMP_FOLDER}/{path.name}"
                found.append(PartialWrite(name=name, bytes=path.stat().st_size, age_seconds=age))
        return found

    def _legacy_temporaries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not (d == TEMP_FOLDER and Path(dirpath) == self.root))
            found += [Path(dirpath, name) for name in sorted(filenames) if name.startswith(".tmp-")]
        return found

    def sweep_partial_writes(self) -> list[PartialWrite]:
        """Remove the temporaries `partial_writes` finds; returns what was removed."""
        removed = []
        for partial in self.partial_writes():
            try:
                (self.root / partial.name).unlink()
            except FileNotFoundError:
                continue
            removed.append(partial)
        return removed

    def path_of(self, key: str) -> Path:
        """The file behind `key` (for readers such as pyarrow that want a path)."""
        return self.root / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path_of(key)
        self._write_atomically(target, lambda handle: handle.write(data))

    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        target = self.path_of(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._temp_with(data)
            try:
                os.link(tmp, target)  # fails if the target exists: the atomic "create only"
            except FileExistsError:
                return False
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot write {key}: {exc.strerror}") from exc
        return True

    def put_file(self, key: str, source: Path) -> None:
        target = self.path_of(key)
        try:
            with source.open("rb") as src:
                self._write_atomically(target, lambda handle: shutil.copyfileobj(src, handle, 1 << 20))
        except OSError as exc:
            raise StorageError(f"cannot copy {source.name} to {key}: {exc.strerror}") from exc

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageNotFound(f"{key} is not in the store") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror}") from exc

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root / check_key(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not (d == TEMP_FOLDER and Path(dirpath) == self.root))
            for name in sorted(filenames):
                if name.startswith(".tmp-"):
                    continue
                yield Path(dirpath, name).relative_to(self.root).as_posix()

    def delete(self, key: str) -> list[str]:
        """Remove the file; a folder keeps no versions, so no version ids."""
        try:
            self.path_of(key).unlink()
        except FileNotFoundError as exc:
            raise StorageNotFound(f"{key} is not in the store") from exc
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc.strerror}") from exc
        return []

    def prune_versions(self, key: str) -> list[str]:
        """A folder keeps no old versions: a replaced file is gone."""
        return []

    def tidy(self, prefix: str) -> None:
        """Remove the folder of `prefix` once its objects are gone (empty folders would pile up)."""
        folder = self.root / check_key(prefix.rstrip("/"))
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)

    def sha256(self, key: str) -> str:
        """Streamed from the file (a folder keeps no checksums)."""
        path = self.path_of(key)
        try:
            return sha256_file(path)
        except FileNotFoundError as exc:
            raise StorageNotFound(f"{key} is not in the store") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror}") from exc

    def open_input(self, key: str) -> BinaryIO:
        """The file itself, opened for reading (seekable, so pyarrow reads only what it needs).

        A pyarrow `OSFile`, not a Python file object: pyarrow reading a Python file on its thread
        pool can abort the process at exit ("terminate called without an active exception",
        apache/arrow#33975, #50482), after the command's work and output are done.
        """
        import pyarrow as pa

        path = self.path_of(key)
        try:
            if not path.is_file():
                raise FileNotFoundError(2, "No such file", str(path))
            handle: BinaryIO = pa.OSFile(str(path), "rb")
            return handle
        except FileNotFoundError as exc:
            raise StorageNotFound(f"{key} is not in the store") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror}") from exc

    def dataset_location(self, key: str) -> tuple[str, str]:
        """OpenLineage (namespace, name) of a key: `file` and the absolute path."""
        return "file", str((self.root / key).resolve())

    def lock_until(self, key: str, until: date) -> bool:
        """A folder has no Object Lock: nothing is locked (file permissions are the operator's business)."""
        return False

    def set_legal_holds(self, keys: list[str], *, on: bool) -> list[str]:
        """No store-level holds on a folder: retention honours the hold records themselves."""
        return []

    def held_keys(self, keys: list[str]) -> list[str] | None:
        return None

    def unlocked_keys(self, prefix: str, as_of: datetime) -> list[str] | None:
        """None: a folder cannot lock, so there is no lock to lack."""
        return None

    def lock_missing(self, prefix: str) -> str | None:
        return None

    def rename(self, source: str, target: str) -> None:
        destination = self.path_of(target)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.path_of(source).replace(destination)
        except FileNotFoundError as exc:
            raise StorageNotFound(f"{source} is not in the store") from exc
        except OSError as exc:
            raise StorageError(f"cannot move {source} to {target}: {exc.strerror}") from exc

    @contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        path = self.path_of(key)
        if not path.is_file():
            raise StorageNotFound(f"{key} is not in the store")
        yield path

    @contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = self._new_temp()
        os.close(fd)
        try:
            yield Path(tmp)
            try:
                with Path(tmp).open("rb+") as handle:
                    os.fsync(handle.fileno())  # durable before it becomes visible under its name
                Path(tmp).replace(target)
            except OSError as exc:
                raise StorageError(f"cannot write {key}: {exc.strerror}") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _temp_with(self, data: bytes) -> str:
        fd, tmp = self._new_temp()
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return tmp

    def _write_atomically(self, target: Path, write: Callable[[BinaryIO], object]) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = self._new_temp()
            try:
                with os.fdopen(fd, "wb") as handle:
                    write(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                Path(tmp).replace(target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {target.relative_to(self.root)}: {exc.strerror}") from exc
