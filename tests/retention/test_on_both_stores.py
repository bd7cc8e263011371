"""A retention run on both stores: on S3 (versioned) nothing of a purged file survives in any
version, and the certificate lists the version ids it destroyed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from kakunin.contracts import Registry
from kakunin.lineage.verify import verify
from kakunin.retention.purge import RetentionContext, run_retention
from kakunin.storage import ObjectStore, S3Store
from tests.conftest import TODAY, edits
from tests.retention.conftest import _publish

MakeContext = Callable[..., RetentionContext]


def test_a_purge_destroys_every_version_and_certifies_them(
    any_store: ObjectStore, registry: Registry, retention_context: MakeContext, tmp_path: Path
) -> None:
    mutation = edits(retention__period="P1Y", retention__clock="column:last_purchase_on")
    _publish(tmp_path, any_store, registry, "b", 12, mutation)  # type: ignore[arg-type]
    (certificate,) = run_retention(retention_context(any_store, date(2026, 5, 22)))
    assert {f.action for f in certificate.files} == {"delete", "rewrite"}
    for action in certificate.files:
        if isinstance(any_store, S3Store):
            left = any_store.versions(action.key)
            assert len(left) == (1 if action.action == "rewrite" else 0), action.key
            assert action.versions_removed, "the certificate names the versions it destroyed"
            assert {v["VersionId"] for v in left}.isdisjoint(action.versions_removed)
        else:
            assert action.versions_removed == [], "a folder keeps no versions"
    report = verify(any_store, today=TODAY)
    assert report.intact, report.problems
