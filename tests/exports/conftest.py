"""A published store whose two batches carry different purposes: the store the export tests start from.

`email_only` (seed 41) is received for marketing_email alone and holds 花子 as C9000001;
`research` (seed 42) for marketing_email and product_research. Each has 21 rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kakunin.contracts import Registry
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore
from kakunin_dev.people import HANAKO, plant
from tests.conftest import Run, kakunin_runner
from tests.subjects.conftest import KEY, submit_and_run

ROWS = 21


def research_too(doc: dict[str, Any], batch: Path) -> None:
    """The batch is received for product research as well (its consent and notice already name it)."""
    doc["purposes"] = ["marketing_email", "product_research"]


@dataclass
class Published:
    store: LocalStore
    email_only: BatchRef
    research: BatchRef


@pytest.fixture(scope="session")
def _published_store(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> tuple[Path, BatchRef, BatchRef]:
    """Published once per session (intake runs GX); each test gets a copy."""
    root = tmp_path_factory.mktemp("exports")
    store = LocalStore(root / "store")
    email_only, outcome = submit_and_run(
        root, store, registry, "email_only", seed=41, data_mutation=plant([(HANAKO, "C9000001")])
    )
    assert outcome.decision == "published", outcome
    research, outcome = submit_and_run(root, store, registry, "research", seed=42, mutation=research_too)
    assert outcome.decision == "published", outcome
    return root / "store", email_only, research


@pytest.fixture
def published(_published_store: tuple[Path, BatchRef, BatchRef], tmp_path: Path) -> Published:
    template, email_only, research = _published_store
    store = LocalStore(tmp_path / "store")
    shutil.copytree(template, store.root, dirs_exist_ok=True)
    return Published(store=store, email_only=email_only, research=research)


@pytest.fixture
def cli(published: Published) -> Callable[..., Run]:
    """The real `kakunin` command on the test's copy of the store."""
    return kakunin_runner(published.store.root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})
