"""lineage verify notices tampering, and passes again when the tampering is undone, on both stores.

On S3 the tampering is an outsider's (a plain PUT or DELETE: a new version or a delete marker) and
undoing it removes what was added, so each object's original version is current again."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.layout import BatchRef
from kakunin.lineage.verify import verify
from kakunin.storage import ObjectStore
from tests.conftest import TODAY
from tests.intake.conftest import make_context
from tests.stores import keys_like, tamper_delete, tamper_write, undoable

Select = Callable[[ObjectStore], list[str]]
Tamper = Callable[[ObjectStore, list[str]], object]


@pytest.fixture
def store(any_store: ObjectStore) -> ObjectStore:
    """Every test here runs on a folder and on S3 (`submit` lands its batches in this store)."""
    return any_store


@pytest.fixture
def published(store: ObjectStore, registry: Registry, submit: Callable[..., BatchRef]) -> ObjectStore:
    ctx = make_context(store, registry)
    for ref in [submit(), submit(), submit()]:
        run_batch(ref, ctx)
    assert verify(store, today=TODAY).intact
    return store


def _flip_byte(store: ObjectStore, key: str) -> None:
    data = bytearray(store.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    tamper_write(store, key, bytes(data))


def _replace(store: ObjectStore, key: str, old: bytes, new: bytes) -> None:
    tamper_write(store, key, store.get_bytes(key).replace(old, new))


def _problems(store: ObjectStore) -> list[str]:
    report = verify(store, today=TODAY)
    assert not report.intact
    return [f"{p.check} {p.where}: {p.message}" for p in report.problems]


def _swap(store: ObjectStore, first: str, second: str) -> None:
    a, b = store.get_bytes(first), store.get_bytes(second)
    tamper_write(store, first, b)
    tamper_write(store, second, a)


def _nth(pattern: str, n: int) -> Select:
    return lambda store: [sorted(keys_like(store, pattern))[n]]


def _last_batch_entirely(store: ObjectStore) -> list[str]:
    """Everything of the newest published batch: its link, header, manifest, receipt, commit and data."""
    link_key = sorted(keys_like(store, "lineage/chain/*.json"))[-1]
    header_key = json.loads(store.get_bytes(link_key))["header_key"]
    batch_id = header_key.split("/")[-2]
    keys = [link_key, header_key, header_key.replace("manifest.json", "manifest.parquet")]
    keys += keys_like(store, f"lineage/receipts/*/{batch_id}.json") + keys_like(
        store, f"curated/*/_commits/{batch_id}.json"
    )
    return keys + keys_like(store, f"curated/*/*/part-{batch_id}.parquet")


def _remove_all(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        tamper_delete(store, key)


# (objects to tamper with, what to do to them, a phrase verify must report)
TAMPERING = [
    pytest.param(
        _nth("lineage/manifests/*/*/manifest.parquet", 1),
        lambda store, ks: _flip_byte(store, ks[0]),
        "manifest.parquet changed",
        id="flipped-byte-in-manifest",
    ),
    pytest.param(
        _nth("lineage/manifests/*/*/manifest.json", 0),
        lambda store, ks: _replace(store, ks[0], b'"published": 30', b'"published": 31'),
        "header changed",
        id="edited-header",
    ),
    pytest.param(
        _nth("lineage/manifests/*/*/manifest.json", 2),
        lambda store, ks: tamper_delete(store, ks[0]),
        "manifest header is missing",
        id="deleted-header",
    ),
    pytest.param(
        lambda store: sorted(keys_like(store, "lineage/chain/*.json"))[:2],
        lambda store, ks: _swap(store, *ks),
        "stored as",
        id="two-swapped-chain-links",
    ),
    pytest.param(
        _nth("lineage/chain/*.json", 1),
        lambda store, ks: tamper_delete(store, ks[0]),
        "an entry is missing",
        id="removed-link",
    ),
    pytest.param(
        _nth("curated/*/*/part-*.parquet", 0),
        lambda store, ks: _flip_byte(store, ks[0]),
        "changed since it was published",
        id="changed-curated-file",
    ),
    pytest.param(
        _nth("curated/*/*/part-*.parquet", 0),
        lambda store, ks: tamper_delete(store, ks[0]),
        "published file is missing",
        id="deleted-curated-file",
    ),
    pytest.param(
        _nth("audit/log/*.json", 1),
        lambda store, ks: _replace(store, ks[0], b'"actor":"test"', b'"actor":"someone"'),
        "audit/log",
        id="edited-audit-entry",
    ),
    pytest.param(
        _nth("lineage/receipts/*/*.json", 0),
        lambda store, ks: tamper_delete(store, ks[0]),
        "before its keep_until",
        id="receipt-removed-early",
    ),
    pytest.param(_last_batch_entirely, _remove_all, "no longer holds as published", id="newest-batch-erased-whole"),
    pytest.param(
        _nth("curated/*/_commits/*.json", 0),
        lambda store, ks: _replace(store, ks[0], b'"rows": 30', b'"rows": 29'),
        "does not name the files",
        id="edited-commit",
    ),
]


@pytest.mark.parametrize(("select", "tamper", "expected"), TAMPERING)
def test_tampering_is_caught_and_undoing_it_passes_again(
    published: ObjectStore, select: Select, tamper: Tamper, expected: str
) -> None:
    keys = select(published)
    undo = undoable(published, keys)
    tamper(published, keys)
    assert any(expected in problem for problem in _problems(published))
    undo()
    assert verify(published, today=TODAY).intact


def _rewrite_json(store: ObjectStore, key: str, change: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(store.get_bytes(key).decode("utf-8"))
    change(data)
    tamper_write(store, key, json.dumps(data).encode("utf-8"))


def _set_in(dotted: str, value: object) -> Callable[[dict[str, object]], None]:
    def change(data: dict[str, object]) -> None:
        target: object = data
        *parents, last = dotted.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]  # type: ignore[index]
        target[last] = value  # type: ignore[index]

    return change


@pytest.mark.parametrize(
    ("pattern", "dotted"),
    [
        pytest.param("lineage/chain/*.json", "header_key", id="link-header-key"),
        pytest.param("lineage/manifests/*/*/manifest.json", "provenance_document.key", id="header-document-key"),
        pytest.param("lineage/manifests/*/*/manifest.json", "receipt.key", id="header-receipt-key"),
        pytest.param("lineage/manifests/*/*/manifest.json", "curated_files.0.key", id="header-curated-key"),
    ],
)
def test_an_unsafe_key_in_the_lineage_is_reported_as_tampering(
    published: ObjectStore, pattern: str, dotted: str
) -> None:
    (target,) = _nth(pattern, 1)(published)
    _rewrite_json(published, target, _set_in(dotted, "../../x"))
    problems = _problems(published)
    assert any(target in p and "unsafe" in p for p in problems), problems
