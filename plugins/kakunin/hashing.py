"""SHA-256, the one hash Kakunin records for files, documents, chain entries and stored objects.

Every digest in a manifest, receipt, certificate or audit entry is the lowercase hex
SHA-256 these functions return; a stored object is hashed with `storage.object_sha256`,
which streams it through `sha256_file`. Keyed digests of records (HMAC) are a different
thing and live in `lineage.digests`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

__all__ = ["sha256_bytes", "sha256_file", "sha256_stream"]


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks so a large file does not fill memory."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_stream(stream: BinaryIO) -> str:
    """Hex SHA-256 of an open binary stream from its start (an upload), in blocks; the stream is rewound."""
    stream.seek(0)
    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()
