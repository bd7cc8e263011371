"""lineage verify notices tampering, and passes again when the tampering is undone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.layout import BatchRef
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


def _swap(first: Path, second: Path) -> None:
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)


def _nth(pattern: str, n: int) -> Callable[[Path], list[Path]]:
    return lambda root: [sorted(root.glob(pattern))[n]]


def _last_batch_entirely(root: Path) -> list[Path]:
    """Everything of the newest published batch: its link, header, manifest, receipt, commit and data."""
    import json

    link_path = sorted(root.glob("lineage/chain/*.json"))[-1]
    header_key = json.loads(link_path.read_text())["header_key"]
    batch_id = header_key.split("/")[-2]
    paths = [link_path, root / header_key, root / header_key.replace("manifest.json", "manifest.parquet")]
    paths += list(root.glob(f"lineage/receipts/*/{batch_id}.json")) + list(
        root.glob(f"curated/*/_commits/{batch_id}.json")
    )
    return paths + list(root.glob(f"curated/*/*/part-{batch_id}.parquet"))


def _remove_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink()


# (files to tamper with, what to do to them, a phrase verify must report)
TAMPERING = [
    pytest.param(
        _nth("lineage/manifests/*/*/manifest.parquet", 1),
        lambda ps: _flip_byte(ps[0]),
        "manifest.parquet changed",
        id="flipped-byte-in-manifest",
    ),
    pytest.param(
        _nth("lineage/manifests/*/*/manifest.json", 0),
        lambda ps: ps[0].write_bytes(ps[0].read_bytes().replace(b'"published": 30', b'"published": 31')),
        "header changed",
        id="edited-header",
    ),
    pytest.param(
        _nth("lineage/manifests/*/*/manifest.json", 2),
        lambda ps: ps[0].unlink(),
        "manifest header is missing",
        id="deleted-header",
    ),
    pytest.param(
        lambda root: sorted(root.glob("lineage/chain/*.json"))[:2],
        lambda ps: _swap(*ps),
        "stored as",
        id="two-swapped-chain-links",
    ),
    pytest.param(_nth("lineage/chain/*.json", 1), lambda ps: ps[0].unlink(), "an entry is missing", id="removed-link"),
    pytest.param(
        _nth("curated/*/*/part-*.parquet", 0),
        lambda ps: _flip_byte(ps[0]),
        "changed since it was published",
        id="changed-curated-file",
    ),
    pytest.param(
        _nth("curated/*/*/part-*.parquet", 0),
        lambda ps: ps[0].unlink(),
        "published file is missing",
        id="deleted-curated-file",
    ),
    pytest.param(
        _nth("audit/log/*.json", 1),
        lambda ps: ps[0].write_bytes(ps[0].read_bytes().replace(b'"actor":"test"', b'"actor":"someone"')),
        "audit/log",
        id="edited-audit-entry",
    ),
    pytest.param(
        _nth("lineage/receipts/*/*.json", 0),
        lambda ps: ps[0].unlink(),
        "before its keep_until",
        id="receipt-removed-early",
    ),
    pytest.param(_last_batch_entirely, _remove_all, "no longer holds as published", id="newest-batch-erased-whole"),
    pytest.param(
        _nth("curated/*/_commits/*.json", 0),
        lambda ps: ps[0].write_bytes(ps[0].read_bytes().replace(b'"rows": 30', b'"rows": 29')),
        "does not name the files",
        id="edited-commit",
    ),
]


@pytest.mark.parametrize(("select", "tamper", "expected"), TAMPERING)
def test_tampering_is_caught_and_undoing_it_passes_again(
    published: LocalStore,
    select: Callable[[Path], list[Path]],
    tamper: Callable[[list[Path]], object],
    expected: str,
) -> None:
    paths = select(published.root)
    originals = {path: path.read_bytes() for path in paths}
    tamper(paths)
    assert any(expected in problem for problem in _problems(published))
    for path, content in originals.items():
        path.write_bytes(content)
    assert verify(published, today=TODAY).intact


def _rewrite_json(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


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
    published: LocalStore, pattern: str, dotted: str
) -> None:
    (target,) = _nth(pattern, 1)(published.root)
    _rewrite_json(target, _set_in(dotted, "../../x"))
    problems = _problems(published)
    where = target.relative_to(published.root).as_posix()
    assert any(where in p and "unsafe" in p for p in problems), problems
