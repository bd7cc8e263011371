"""Fixtures of the v2 tests: a registry with the test contracts and deny list, and v2 batch folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.provenance.document import check_path
from kakunin.provenance.findings import Verdict
from tests.conftest import TODAY
from tests.provenance.v2 import Mutation, make_registry, write_v2

JudgeV2 = Callable[..., Verdict]


@pytest.fixture(scope="session")
def v2_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return make_registry(tmp_path_factory.mktemp("v2") / "expectations")


@pytest.fixture
def judge_v2(tmp_path: Path, v2_registry: Registry) -> JudgeV2:
    """Write the good document of a ground, changed by a mutation, and judge it as of TODAY."""
    counter = iter(range(10_000))

    def judge(ground: str = "consent", mutation: Mutation | None = None) -> Verdict:
        batch = write_v2(tmp_path / f"v2-{next(counter)}", ground, mutation)
        return check_path(batch, registry=v2_registry, today=TODAY)

    return judge
