"""lineage verify notices tampering, and passes again when the tampering is undone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.intake.steps import BatchRef
from kakunin.lineage.verify import verify
from kakunin.storage import LocalStore
from tests.conftest import TODAY
from tests.intake.conftest import make_context


@pytest.fixture
def published(store: LocalStore, registry: Registry, submit: Callable[..., BatchRef]) -> LocalStore:
    ctx = make_context(store, registry)
    for ref in [submit(), submit(), submit()]:
        run_batch(ref, ctx)
    assert verify(store, today=TODAY).intact
    return store


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _problems(store: LocalStore) -> list[str]:
    report = verify(store, today=TODAY)
    assert not report.intact
    return [f"{p.check} {p.where}: {p.message}" for p in report.problems]


def test_a_flipped_byte_in_a_manifest_is_caught(published: LocalStore) -> None:
    manifest = sorted((published.root / "lineage/manifests").rglob("manifest.parquet"))[1]
    original = manifest.read_bytes()
    _flip_byte(manifest)
    assert any("manifest.parquet changed" in p for p in _problems(published))
    manifest.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_a_changed_header_is_caught(published: LocalStore) -> None:
    header = sorted((published.root / "lineage/manifests").rglob("manifest.json"))[0]
    original = header.read_bytes()
    header.write_bytes(original.replace(b'"published": 30', b'"published": 31'))
    assert any("header changed" in p for p in _problems(published))
    header.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_a_deleted_header_is_caught(published: LocalStore) -> None:
    header = sorted((published.root / "lineage/manifests").rglob("manifest.json"))[2]
    original = header.read_bytes()
    header.unlink()
    assert any("manifest header is missing" in p for p in _problems(published))
    header.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_two_swapped_chain_links_are_caught(published: LocalStore) -> None:
    first, second = sorted((published.root / "lineage/chain").glob("*.json"))[:2]
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    problems = _problems(published)
    assert any(("chain" in p and "previous" in p) or "stored as" in p for p in problems)
    first.write_bytes(a)
    second.write_bytes(b)
    assert verify(published, today=TODAY).intact


def test_a_removed_link_is_caught(published: LocalStore) -> None:
    link = sorted((published.root / "lineage/chain").glob("*.json"))[1]
    original = link.read_bytes()
    link.unlink()
    assert any("an entry is missing" in p for p in _problems(published))
    link.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_a_changed_curated_file_is_caught(published: LocalStore) -> None:
    curated = sorted((published.root / "curated").rglob("part-*.parquet"))[0]
    original = curated.read_bytes()
    _flip_byte(curated)
    assert any("changed since it was published" in p for p in _problems(published))
    curated.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_a_deleted_curated_file_is_caught(published: LocalStore) -> None:
    curated = sorted((published.root / "curated").rglob("part-*.parquet"))[0]
    original = curated.read_bytes()
    curated.unlink()
    problems = _problems(published)
    assert any("published file is missing" in p for p in problems)
    assert any("not in the curated store" in p for p in problems)
    curated.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_an_audit_entry_edited_is_caught(published: LocalStore) -> None:
    entry = sorted((published.root / "audit/log").glob("*.json"))[1]
    original = entry.read_bytes()
    entry.write_bytes(original.replace(b'"actor":"test"', b'"actor":"someone"'))
    assert any("audit/log" in p for p in _problems(published))
    entry.write_bytes(original)
    assert verify(published, today=TODAY).intact


def test_a_receipt_removed_before_keep_until_is_caught(published: LocalStore) -> None:
    receipt = sorted((published.root / "lineage/receipts").rglob("*.json"))[0]
    original = receipt.read_bytes()
    receipt.unlink()
    assert any("before its keep_until" in p for p in _problems(published))
    receipt.write_bytes(original)
    assert verify(published, today=TODAY).intact
