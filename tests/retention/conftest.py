"""A store with three published batches whose records expire at different times.

`store` here is a folder; a module whose tests hold on both backends overrides it with one that
returns `any_store` (tests/conftest.py), and `published` then publishes into that store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.retention.purge import RetentionContext
from kakunin.storage import LocalStore, ObjectStore
from kakunin_dev.samples import write_batch
from tests.conftest import RECEIVED_ON, TODAY, edits
from tests.intake.conftest import make_context


@dataclass
class Published:
    store: ObjectStore
    one_year: BatchRef  # retention P1Y from received_on: 2027-11-20
    by_purchase: BatchRef  # P1Y from last_purchase_on (empty → received_on): spread over many months
    three_years: BatchRef  # P3Y, same people as one_year (same customer numbers)


def _publish(tmp: Path, store: ObjectStore, registry: Registry, name: str, seed: int, mutation: Any) -> BatchRef:
    folder = write_batch(
        tmp / name,
        document_id=f"PRV-2026-{600000 + ord(name):06d}",
        received_on=RECEIVED_ON,
        rows=40,
        seed=seed,
        mutation=mutation,
    )
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    outcome = run_batch(ref, make_context(store, registry))
    assert outcome.decision == "published"
    return ref


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def published(tmp_path: Path, registry: Registry, store: ObjectStore) -> Published:
    return Published(
        store=store,
        one_year=_publish(tmp_path, store, registry, "a", 11, edits(retention__period="P1Y")),
        by_purchase=_publish(
            tmp_path,
            store,
            registry,
            "b",
            12,
            edits(retention__period="P1Y", retention__clock="column:last_purchase_on"),
        ),
        three_years=_publish(tmp_path, store, registry, "c", 11, edits(retention__period="P3Y")),
    )


@pytest.fixture
def retention_context(registry: Registry) -> Callable[..., RetentionContext]:
    def make(store: ObjectStore, as_of: date, **options: Any) -> RetentionContext:
        options.setdefault("now", lambda: datetime.now(UTC))
        return RetentionContext(store=store, registry=registry, as_of=as_of, actor="test", **options)

    return make
