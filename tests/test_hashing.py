"""The one SHA-256 helper: bytes, files and stored objects give the same digest for the same content."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kakunin.hashing import sha256_bytes, sha256_file, sha256_stream
from kakunin.storage import LocalStore, object_sha256


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", id="empty"),
        pytest.param(b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", id="abc"),
    ],
)
def test_sha256_bytes_matches_the_published_vectors(data: bytes, expected: str) -> None:
    assert sha256_bytes(data) == expected


def test_a_file_and_a_stored_object_hash_like_their_bytes(tmp_path: Path) -> None:
    content = "確認 evidence\n".encode() * 100_000  # larger than one read block
    path = tmp_path / "evidence.pdf"
    path.write_bytes(content)
    store = LocalStore(tmp_path / "store")
    store.put_bytes("provenance/evidence.pdf", content)
    assert sha256_file(path) == sha256_bytes(content) == object_sha256(store, "provenance/evidence.pdf")


def test_a_stream_hashes_as_its_bytes_from_the_start_and_is_rewound() -> None:
    stream = io.BytesIO(b"evidence" * 300_000)
    stream.read(5)  # a stream someone already read from
    assert sha256_stream(stream) == sha256_bytes(b"evidence" * 300_000)
    assert stream.tell() == 0
