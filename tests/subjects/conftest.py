"""One person under two providers' customer numbers, published: the store the data-subject tests start from.

Provider A (the samples' 株式会社サンプルデータ) sends 花子 as C9000001; provider B
(株式会社架空リサーチ) sends her as C9100077, written its own way (case, width, phone
form). Both batches have 20 other, unrelated people.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.run import BatchResult, run_batch
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore, ObjectStore
from kakunin_dev.people import HANAKO, HANAKO_AS_SECOND_PROVIDER_WRITES, SECOND_PROVIDER, from_provider, plant
from kakunin_dev.samples import write_batch
from tests.conftest import RECEIVED_ON, TODAY
from tests.intake.conftest import KEY as KEY  # the HMAC key make_context uses
from tests.intake.conftest import make_context


@dataclass
class TwoProviders:
    store: ObjectStore
    first: BatchRef  # provider A: 花子 is C9000001 (row 1)
    second: BatchRef  # provider B: 花子 is C9100077 (row 3)


def submit_and_run(
    tmp: Path,
    store: ObjectStore,
    registry: Registry,
    name: str,
    *,
    seed: int,
    rows: int = 21,
    mutation: Any = None,
    data_mutation: Any = None,
) -> tuple[BatchRef, BatchResult]:
    """Write a sample batch, submit it and run intake on it; the batch and what intake decided."""
    folder = write_batch(
        tmp / name,
        document_id=f"PRV-2026-{700000 + seed:06d}",
        received_on=RECEIVED_ON,
        rows=rows,
        seed=seed,
        mutation=mutation,
        data_mutation=data_mutation,
    )
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    return ref, run_batch(ref, make_context(store, registry))


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def publish(tmp_path: Path, registry: Registry, store: ObjectStore) -> Callable[..., tuple[BatchRef, BatchResult]]:
    """`publish(name, seed=…, mutation=…, data_mutation=…)`: submit and run one more batch into `store`."""

    def run(name: str, **options: Any) -> tuple[BatchRef, BatchResult]:
        return submit_and_run(tmp_path, store, registry, name, **options)

    return run


@pytest.fixture(scope="session")
def _two_providers_store(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry
) -> tuple[Path, BatchRef, BatchRef]:
    """The two providers' store, published once per session (intake runs GX: ~10 s a batch); tests get a copy."""
    root = tmp_path_factory.mktemp("two-providers")
    store = LocalStore(root / "store")
    first, outcome = submit_and_run(
        root, store, registry, "first", seed=11, data_mutation=plant([(HANAKO, "C9000001")])
    )
    assert outcome.decision == "published", outcome
    second, outcome = submit_and_run(
        root,
        store,
        registry,
        "second",
        seed=12,
        mutation=from_provider(SECOND_PROVIDER),
        data_mutation=plant([(HANAKO_AS_SECOND_PROVIDER_WRITES, "C9100077")], start_row=2),
    )
    assert outcome.decision == "published", outcome
    return root / "store", first, second


@pytest.fixture
def two_providers(
    _two_providers_store: tuple[Path, BatchRef, BatchRef], store: ObjectStore, tmp_path: Path
) -> TwoProviders:
    """A copy of the session's two-providers store, in this test's `store` (a folder), and the two batch
    folders as submitted (`tmp_path/first`, `tmp_path/second`), which some tests copy rows from."""
    template, first, second = _two_providers_store
    shutil.copytree(template, store.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    for name in ("first", "second"):
        shutil.copytree(template.parent / name, tmp_path / name, dirs_exist_ok=True)
    return TwoProviders(store=store, first=first, second=second)
