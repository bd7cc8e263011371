"""Every row of the tamper table: tamper, verify in each mode (caught exactly where the table says, at
the right place), undo, intact again; and the auditor's guide shows the same table."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kakunin import audit
from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.lineage.checkpoint import Anchors, take_checkpoint
from kakunin.lineage.formats import AuditAction
from kakunin.lineage.verify import VerifyReport, verify
from kakunin.retention.context import RetentionContext
from kakunin.retention.holds import place_hold, release_hold
from kakunin.retention.purge import run_retention
from kakunin.storage import LocalStore
from kakunin_dev.samples import write_batch
from tests.conftest import RECEIVED_ON, REPO, TODAY, edits
from tests.exports.conftest import export_batch
from tests.intake.conftest import KEY, make_context
from tests.stores import refused_at_submission, rejected_at_gate, submitted
from tests.tamper.table import CASES, Case, markdown

SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))


@dataclass
class Template:
    root: Path
    anchors: Anchors


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Template:
    """Built once: three published batches (one purged by retention, one held), a rejection at the gate
    and one at submission, a standing hold and a released one, a closed purge certificate, a checkpoint."""
    tmp = tmp_path_factory.mktemp("tamper")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KAKUNIN_HMAC_KEY", KEY.hex())  # every writer seals, as in a deployment (audit.record reads it)
        return _build(tmp, registry)


def _build(tmp: Path, registry: Registry) -> Template:
    store = LocalStore(tmp / "store")
    ctx = make_context(store, registry)

    def batch(n: int, **options: object) -> Path:
        return write_batch(
            tmp / f"b{n}", document_id=f"PRV-2026-{880000 + n:06d}", received_on=RECEIVED_ON, rows=20, seed=n, **options
        )  # type: ignore[arg-type]

    # Decisions first, auditor activity last: the audit log's tail then holds entries that no other
    # record is cross-checked with (publish, purge, trace, verify), the case a checkpoint exists for.
    rejected_at_gate(store, registry, ctx, batch(4))
    refused_at_submission(store, registry, lambda mutation: batch(5, mutation=mutation))
    one_year = edits(retention__period="P1Y")
    published = [submitted(store, registry, batch(n, mutation=one_year)) for n in (1, 2)]
    for ref in published:
        assert run_batch(ref, ctx).decision == "published"
    now = datetime.now(UTC)
    dataset = published[0].dataset
    place_hold(
        store, dataset=dataset, batch_id=published[1].batch_id, record_id=None, reason="case", placed_by="l", now=now
    )
    other = place_hold(store, dataset=dataset, batch_id=None, record_id=None, reason="inquiry", placed_by="l", now=now)
    release_hold(store, other.hold_id, reason="answered", released_by="legal", now=now)
    newest = submitted(store, registry, batch(3))
    assert run_batch(newest, ctx).decision == "published"
    export_batch(store, registry, published[0], "EXP-PURGED")  # deleted whole by the purge below
    export_batch(store, registry, published[1], "EXP-HELD")  # past its retention too, but the batch is held
    run_retention(
        RetentionContext(
            store=store,
            registry=registry,
            as_of=date(2027, 12, 1),
            now=lambda: datetime.now(UTC),
            actor="test",
            hmac_key=KEY,
        )
    )
    audit.record(store, AuditAction.TRACE, at=datetime.now(UTC), actor="auditor", dataset=dataset)
    audit.record(store, AuditAction.VERIFY, at=datetime.now(UTC), actor="auditor")
    checkpoint = take_checkpoint(store, SIGNING_KEY, now=datetime.now(UTC))
    anchors = Anchors(checkpoints=[("the auditor's copy", checkpoint)], public_key=SIGNING_KEY.public_key())
    report = verify(store, today=TODAY, key=KEY, anchors=anchors)
    assert report.intact, report.problems
    assert report.certificates == 1
    assert report.exports == 2
    return Template(root=store.root, anchors=anchors)


@pytest.fixture
def copy(template: Template, tmp_path: Path) -> LocalStore:
    shutil.copytree(template.root, tmp_path / "store")
    return LocalStore(tmp_path / "store")


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _restore(root: Path, snapshot: dict[Path, bytes]) -> None:
    for path in [p for p in root.rglob("*") if p.is_file() and p not in snapshot]:
        path.unlink()
    for path, data in snapshot.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def _modes(store: LocalStore, anchors: Anchors, registry: Registry) -> dict[str, VerifyReport]:
    """The three ways an auditor can run `kakunin lineage verify` (keyed, it also re-derives record digests)."""
    contracts = registry.contract
    return {
        "keyless": verify(store, today=TODAY),
        "keyed": verify(store, today=TODAY, key=KEY, contract_for=contracts),
        "anchored": verify(store, today=TODAY, key=KEY, anchors=anchors, contract_for=contracts),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_tampering_is_caught_where_the_table_says(
    case: Case, copy: LocalStore, template: Template, registry: Registry
) -> None:
    before = _snapshot(copy.root)
    case.tamper(copy.root)
    assert _snapshot(copy.root) != before, "the tampering changed nothing"
    reports = _modes(copy, template.anchors, registry)
    caught = {mode: not report.intact for mode, report in reports.items()}
    assert caught == {"keyless": case.keyless, "keyed": case.keyed, "anchored": True}, {
        mode: [f"{p.check} {p.where}" for p in report.problems] for mode, report in reports.items()
    }
    places = [p.where for p in reports["anchored"].problems]
    assert any(where.startswith(case.where) for where in places), places
    _restore(copy.root, before)
    assert all(report.intact for report in _modes(copy, template.anchors, registry).values())


def test_every_case_is_caught_with_the_key_and_a_checkpoint_and_the_modes_differ() -> None:
    """The table's promise (keyed + checkpoint catches all) and why the other modes are not enough."""
    assert len({c.id for c in CASES}) == len(CASES) >= 40
    assert any(c.keyed and not c.keyless for c in CASES)  # re-hashing: only the seals see it
    assert any(not c.keyed for c in CASES)  # the tails: only a checkpoint sees it


def test_the_auditors_guide_shows_this_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown() in readme, "README's tamper table is stale: paste `python -m tests.tamper.table`"
