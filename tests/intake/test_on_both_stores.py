"""Intake end to end on both stores (a folder, and S3 on a loopback endpoint), and a publish that
dies midway on S3 (where a rename is a copy and a delete): no commit record and no manifest name
the batch, it stays pending, and the rerun publishes it once.

(`lineage verify` run inside that window reports the uncommitted `part-` file as unnamed by any
manifest, on both stores alike: it reads curated files, not commit records.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.run import run_intake
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.lineage.verify import verify
from kakunin.storage import ObjectStore
from kakunin_dev.samples import write_batch
from tests.conftest import RECEIVED_ON, TODAY, s3_store
from tests.intake.conftest import make_context
from tests.s3server import S3Server


def land(store: ObjectStore, registry: Registry, folder: Path, n: int, **options: Any) -> BatchRef:
    batch = write_batch(
        folder / f"b{n}", document_id=f"PRV-2026-{710000 + n:06d}", received_on=RECEIVED_ON, rows=30, seed=n, **options
    )
    result = submit_batch(batch, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    return ref


def curated_rows(store: ObjectStore) -> int:
    rows = 0
    for key in store.list_keys("curated/"):
        if key.rsplit("/", 1)[-1].startswith("part-"):
            with store.open_input(key) as handle:
                rows += pq.ParquetFile(handle).metadata.num_rows
    return rows


def test_batches_are_published_with_lineage_on_both_stores(
    any_store: ObjectStore, registry: Registry, tmp_path: Path
) -> None:
    land(any_store, registry, tmp_path, 1)
    land(any_store, registry, tmp_path, 2, encoding="cp932", beyond_jis=True)
    results = run_intake(make_context(any_store, registry))  # type: ignore[arg-type]
    assert [(r.decision, r.published) for r in results] == [("published", 30)] * 2
    assert curated_rows(any_store) == 60
    assert list(any_store.list_keys("landing/")) == [], "landing is cleared once lineage is written"
    assert list(any_store.list_keys("work/")) == []
    report = verify(any_store, today=TODAY)
    assert report.intact, report.problems
    assert (report.manifests, report.records) == (2, 60)


def test_a_publish_that_dies_on_s3_shows_readers_the_old_state(
    s3_endpoint: S3Server, registry: Registry, tmp_path: Path
) -> None:
    store = s3_store(s3_endpoint)
    ref = land(store, registry, tmp_path, 3)

    def network_gone(**kwargs: Any) -> None:
        if "/_commits/" in kwargs["params"]["Key"]:
            raise ConnectionResetError("the endpoint went away before the commit record")

    store.client.meta.events.register("before-parameter-build.s3.PutObject", network_gone)
    (failed,) = run_intake(make_context(store, registry))  # type: ignore[arg-type]
    assert failed.decision == "failed", failed
    assert not store.exists(ref.commit)
    assert list(store.list_keys("lineage/manifests/")) == [], "no manifest names a half-published batch"
    assert [r.batch_id for r in find_pending(store)] == [ref.batch_id], "the batch is still pending"
    store.client.meta.events.unregister("before-parameter-build.s3.PutObject", network_gone)
    assert [r.decision for r in run_intake(make_context(store, registry))] == ["published"]  # type: ignore[arg-type]
    assert curated_rows(store) == 30, "the rerun publishes the batch once"
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert report.manifests == 1
