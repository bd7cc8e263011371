"""A store with submitted sample batches and an intake context over it.

`store` here is a folder; a module whose tests hold on both backends overrides it with one that
returns `any_store` (tests/conftest.py), and `submit` then lands batches in that store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.context import IntakeContext
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore, ObjectStore
from kakunin_dev.samples import spoil_a_few_rows, write_batch
from tests.conftest import RECEIVED_ON, TODAY

KEY = bytes(range(32))


def make_context(store: ObjectStore, registry: Registry, **options: object) -> IntakeContext:
    return IntakeContext(
        store=store,
        registry=registry,
        today=TODAY,
        now=lambda: datetime.now(UTC),
        hmac_key=KEY,
        actor="test",
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def submit(tmp_path: Path, store: ObjectStore, registry: Registry) -> Callable[..., BatchRef]:
    """Write a sample batch, submit it, and return its reference."""
    counter = iter(range(1, 1000))

    def make(**options: object) -> BatchRef:
        n = next(counter)
        folder = write_batch(
            tmp_path / "batches" / f"b{n}",
            document_id=f"PRV-2026-{700000 + n:06d}",
            received_on=RECEIVED_ON,
            rows=int(options.pop("rows", 30)),  # type: ignore[call-overload]
            seed=100 + n,
            **options,  # type: ignore[arg-type]
        )
        result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
        assert result.landed, result.verdict.findings
        (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
        return ref

    return make


def few_bad_rows() -> dict[str, object]:
    return {"rows": 600, "data_mutation": spoil_a_few_rows}


__all__ = ["KEY", "date", "few_bad_rows", "make_context"]
