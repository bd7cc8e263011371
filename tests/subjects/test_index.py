"""The subject index intake writes at publish: keyed digests of normalised identifiers, never the values."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq

from kakunin.contracts import IdentifierKind
from kakunin.layout import subject_index_key
from kakunin.lineage.formats import ManifestHeader
from kakunin.storage import load
from kakunin.subjects.identifiers import Identifier, subject_key
from kakunin.subjects.register import read_index
from kakunin_dev.people import HANAKO
from tests.subjects.conftest import KEY, TwoProviders


def test_one_person_written_two_ways_by_two_providers_has_one_digest_per_identifier(
    two_providers: TwoProviders,
) -> None:
    key = subject_key(KEY)
    for identifier in (
        Identifier(IdentifierKind.EMAIL, HANAKO.email),
        Identifier(IdentifierKind.PHONE, "+81 (0)90 1111 2222"),
        Identifier(IdentifierKind.NAME, "かくう はなこ", date.fromisoformat(HANAKO.birth_date)),
        Identifier(IdentifierKind.NAME, "架空花子", date.fromisoformat(HANAKO.birth_date)),
    ):
        found = read_index(two_providers.store, digests={identifier.digest(key)})
        assert sorted(set(found.column("batch_id").to_pylist())) == sorted(
            [two_providers.first.batch_id, two_providers.second.batch_id]
        ), identifier.kind


def test_the_index_is_pinned_by_the_header_and_holds_no_identifier_in_clear(two_providers: TwoProviders) -> None:
    store = two_providers.store
    header = load(store, two_providers.first.manifest_header, ManifestHeader)
    assert header.subject_index is not None
    assert header.subject_index.key == subject_index_key(two_providers.first)
    with store.reading(header.subject_index.key) as path:
        table = pq.read_table(path)
    assert table.column_names == ["record_id", "kind", "digest"]
    assert set(table.column("kind").to_pylist()) == {"email", "phone", "name"}
    root = store.root  # type: ignore[attr-defined]
    for path in root.rglob("*"):
        if path.is_file() and "curated" not in path.parts and "landing" not in path.parts:
            data = path.read_bytes()
            for clear in (HANAKO.email.encode(), b"09011112222", HANAKO.name_kana.encode()):
                assert clear not in data, path
