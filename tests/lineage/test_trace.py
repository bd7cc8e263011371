"""lineage trace tells a record's whole story, and checks its content against its digest, on both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kakunin.contracts import Registry
from kakunin.errors import InputError
from kakunin.intake.run import run_batch
from kakunin.layout import MANIFESTS, BatchRef
from kakunin.lineage.trace import trace
from kakunin.storage import ObjectStore
from tests.intake.conftest import KEY, make_context
from tests.stores import keys_named, read_parquet


@pytest.fixture
def store(any_store: ObjectStore) -> ObjectStore:
    """Every test here runs on a folder and on S3 (`submit` lands its batches in this store)."""
    return any_store


def test_trace_tells_the_story(store: ObjectStore, registry: Registry, submit: Callable[..., BatchRef]) -> None:
    ref = submit()
    run_batch(ref, make_context(store, registry))
    (manifest_key,) = keys_named(store, f"{MANIFESTS}/", "manifest.parquet")
    manifest = read_parquet(store, manifest_key).to_pylist()
    row = manifest[7]
    story = trace(store, row["record_id"], contract_for=registry.contract, hmac_key=KEY)
    assert (story.batch_id, story.source_row, story.provenance_document_id) == (ref.batch_id, 8, "PRV-2026-700001")
    assert story.provider == "株式会社サンプルデータ"
    assert story.purposes == ["marketing_email"]
    assert story.legal_ground == "consent"
    assert str(story.retention_until) == "2029-11-20"
    assert story.status.startswith("live in curated/jp_customer_leads/expiry=2029-11/")
    assert story.digest_check.startswith("matches")
    wrong = trace(store, row["record_id"], contract_for=registry.contract, hmac_key=b"w" * 32)
    assert wrong.digest_check.startswith("DOES NOT MATCH")


@pytest.mark.parametrize("record_id", ["not-a-uuid", "../../etc/passwd", "019abef0-2300-7f64-94c4-bd404e68c655"])
def test_trace_of_an_unknown_or_malformed_id_is_a_clear_error(store: ObjectStore, record_id: str) -> None:
    with pytest.raises(InputError):
        trace(store, record_id)
