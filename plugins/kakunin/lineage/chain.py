"""An append-only hash chain of JSON entries under a store prefix (`<prefix>/<sequence>.json`),
and the readers of the manifest and certificate chains.

Each entry names its sequence and the SHA-256 of the previous entry's bytes. A new
entry is written create-only, so two writers racing for the same sequence cannot both
win: the loser rebuilds on the new head and tries again. The readers follow the chains
(not a listing of folders), so what they return is what the chains vouch for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from kakunin.errors import StorageError
from kakunin.hashing import sha256_bytes
from kakunin.layout import CERTIFICATE_CHAIN, MANIFEST_CHAIN, chain_entry_key, chain_sequence, manifest_parquet_of
from kakunin.lineage.formats import Certificate, CertificateLink, ChainLink
from kakunin.storage import ObjectStore, load

_ATTEMPTS = 50


def canonical_json(payload: object) -> bytes:
    """The one canonical JSON writer: the bytes of a chain entry (audit log, manifest and certificate chains).

    Sorted keys, no spaces, UTF-8 kept, one trailing newline, so the same entry always has
    the same bytes and hence the same SHA-256 the next entry links to. Other JSON documents
    are written through `kakunin.yaml_io` (`dump_json`, `json_bytes`, `json_text`).
    """
    return (json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()


class Chain:
    """The chain under `prefix` in `store`."""

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    def keys(self) -> list[str]:
        return [k for k in self.store.list_keys(self.prefix + "/") if k.endswith(".json")]

    def entries(self) -> Iterator[tuple[str, bytes]]:
        for key in self.keys():
            yield key, self.store.get_bytes(key)

    def head(self) -> tuple[int, str | None]:
        """(last sequence, SHA-256 of the last entry), or (0, None) for an empty chain."""
        keys = self.keys()
        if not keys:
            return 0, None
        last = keys[-1]
        return chain_sequence(last), sha256_bytes(self.store.get_bytes(last))

    def append(self, build: Callable[[int, str | None], bytes]) -> tuple[int, bytes]:
        """Add the entry `build(sequence, previous_sha256)` at the end; returns (sequence, bytes)."""
        for _ in range(_ATTEMPTS):
            sequence, previous = self.head()
            data = build(sequence + 1, previous)
            if self.store.put_bytes_if_absent(chain_entry_key(self.prefix, sequence + 1), data):
                return sequence + 1, data
        raise StorageError(f"could not append to {self.prefix} after {_ATTEMPTS} attempts (too many writers?)")


def linked_manifests(store: ObjectStore) -> Iterator[tuple[str, str]]:
    """(header key, manifest.parquet key) of every manifest in the chain whose Parquet exists, in order."""
    for _, data in Chain(store, MANIFEST_CHAIN).entries():
        header_key = ChainLink.model_validate_json(data).header_key
        manifest_key = manifest_parquet_of(header_key)
        try:
            present = store.exists(manifest_key)
        except StorageError:  # a link altered to name an unsafe key: verify reports it, readers pass it by
            continue
        if present:
            yield header_key, manifest_key


def closed_certificates(store: ObjectStore) -> list[Certificate]:
    """Every closed purge certificate, in chain order."""
    found = []
    for _, data in Chain(store, CERTIFICATE_CHAIN).entries():
        link = CertificateLink.model_validate_json(data)
        if store.exists(link.certificate_key):
            found.append(load(store, link.certificate_key, Certificate))
    return found
