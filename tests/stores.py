"""Building blocks for test stores that hold every kind of decision (published, rejected at the gate,
refused at submission), shared by the decision-record tests and the tamper table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.context import IntakeContext
from kakunin.intake.run import run_batch
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore
from tests.conftest import TODAY, edits

Mutation = Callable[[dict[str, Any], Path], None]


def submitted(store: LocalStore, registry: Registry, folder: Path) -> BatchRef:
    """Submit a batch folder that must land; its reference in landing."""
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    return ref


def rejected_at_gate(store: LocalStore, registry: Registry, ctx: IntakeContext, folder: Path) -> BatchRef:
    """A batch the intake gate rejects: its landed data changed after it was submitted."""
    ref = submitted(store, registry, folder)
    data = store.root / ref.landing("data.csv")
    data.write_bytes(data.read_bytes() + b"\n")
    assert run_batch(ref, ctx).decision.startswith("rejected")
    return ref


def refused_at_submission(store: LocalStore, registry: Registry, write: Callable[[Mutation], Path]) -> BatchRef:
    """A batch refused when submitted (the four-eyes rule: approved by its own author); `write(mutation)`
    writes the batch folder."""
    folder = write(edits(approved_by="E1024"))
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert not result.landed
    (rejection,) = list(store.root.glob(f"quarantine/*/{result.batch_id}/rejection.json"))
    return BatchRef(rejection.parent.parent.name, result.batch_id)
