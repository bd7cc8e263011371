"""Submitting a batch: what lands, under which keys, and that a failed submit leaves nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.errors import StorageError
from kakunin.layout import SUBMISSION_FILE
from kakunin.storage import LocalStore
from tests.conftest import TODAY

MakeBatch = Callable[..., Path]


def _rename_evidence(index: int, name: str) -> Callable[[dict[str, Any], Path], None]:
    def mutate(doc: dict[str, Any], batch: Path) -> None:
        entry = doc["evidence"][index]
        (batch / entry["file"]).rename(batch / "evidence" / name)
        entry["file"] = f"evidence/{name}"

    return mutate


def test_evidence_lands_under_its_content_key_with_its_name_kept(
    make_batch: MakeBatch, registry: Registry, tmp_path: Path
) -> None:
    batch = make_batch(_rename_evidence(0, "契約書2026.pdf"))
    store = LocalStore(tmp_path / "store")
    result = submit_batch(batch, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    prefix = f"landing/jp_customer_leads/{result.batch_id}"
    submission = json.loads(store.get_bytes(f"{prefix}/{SUBMISSION_FILE}"))
    named = {f["path"]: f for f in submission["files"]}
    content = (batch / "evidence" / "契約書2026.pdf").read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    assert named["evidence/契約書2026.pdf"]["key"] == f"evidence/{digest}"
    assert store.get_bytes(f"{prefix}/evidence/{digest}") == content
    assert named["data.csv"]["key"] == "data.csv"
    keys = sorted(k.removeprefix(prefix + "/") for k in store.list_keys(prefix + "/"))
    assert all(k in {"_submission.json", "data.csv", "provenance.yaml"} or k.startswith("evidence/") for k in keys)


class _FailingStore(LocalStore):
    """A local store whose third file copy fails, as a full disk or a lost connection would."""

    copies = 0

    def put_file(self, key: str, source: Path) -> None:
        self.copies += 1
        if self.copies == 3:
            raise StorageError(f"cannot copy {source.name} to {key}: No space left on device")
        super().put_file(key, source)


def test_a_submit_that_fails_midway_leaves_nothing_in_landing(
    make_batch: MakeBatch, registry: Registry, tmp_path: Path
) -> None:
    store = _FailingStore(tmp_path / "store")
    with pytest.raises(StorageError, match="No space left"):
        submit_batch(make_batch(), store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert list(store.list_keys("landing/")) == []
