"""The local folder store: safe keys, atomic writes, create-only writes, listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakunin.errors import StorageError, StorageNotFound
from kakunin.storage import LocalStore


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("../escape", id="parent"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("landing//x", id="empty-part"),
        pytest.param("landing/./x", id="dot"),
        pytest.param("landing/a\x00b", id="nul"),
        pytest.param("", id="empty"),
        pytest.param("landing/x\n", id="trailing-newline"),
    ],
)
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError, match="unsafe or malformed"):
        LocalStore(tmp_path).put_bytes(key, b"x")


def test_put_get_list_delete(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("zone/b/2.json", b"two")
    store.put_bytes("zone/a/1.json", b"one")
    assert store.get_bytes("zone/a/1.json") == b"one"
    assert list(store.list_keys("zone/")) == ["zone/a/1.json", "zone/b/2.json"]
    store.delete("zone/a/1.json")
    with pytest.raises(StorageNotFound):
        store.get_bytes("zone/a/1.json")
    assert not list(tmp_path.rglob(".tmp-*"))


def test_create_only_write_never_replaces(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.put_bytes_if_absent("audit/000001.json", b"first")
    assert not store.put_bytes_if_absent("audit/000001.json", b"second")
    assert store.get_bytes("audit/000001.json") == b"first"


def test_put_file_copies_content(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    store = LocalStore(tmp_path / "store")
    store.put_file("landing/x/data.bin", source)
    assert store.get_bytes("landing/x/data.bin") == source.read_bytes()
