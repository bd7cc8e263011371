"""Sealed decision records: verify notices each one tampered with, names the right check and key,
and passes again when the tampering is undone (issue 16, "Seal every decision record")."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.layout import BatchRef
from kakunin.lineage.formats import AuditEntry
from kakunin.lineage.verify import verify
from kakunin.retention.holds import place_hold, release_hold
from kakunin.storage import LocalStore
from kakunin_dev.samples import write_batch
from tests.conftest import RECEIVED_ON, TODAY, Run
from tests.intake.conftest import make_context
from tests.stores import refused_at_submission, rejected_at_gate, submitted


@dataclass
class Decided:
    store: LocalStore
    published: list[BatchRef]
    rejected_at_gate: BatchRef  # an intake-stage rejection (its landed data changed after submission)
    rejected_at_submit: BatchRef  # a submit-stage rejection (the four-eyes rule)
    held: str  # a hold that stands
    released: str  # a hold placed and released


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Decided:
    """Built once (intake is slow); each test gets its own copy (`decided`)."""
    tmp = tmp_path_factory.mktemp("decided")
    store = LocalStore(tmp / "store")
    ctx = make_context(store, registry)

    def batch(n: int, **options: object) -> Path:
        return write_batch(
            tmp / f"b{n}", document_id=f"PRV-2026-{790000 + n:06d}", received_on=RECEIVED_ON, rows=20, seed=n, **options
        )  # type: ignore[arg-type]

    published = [submitted(store, registry, batch(1)), submitted(store, registry, batch(2))]
    for ref in published:
        assert run_batch(ref, ctx).decision == "published"
    gate = rejected_at_gate(store, registry, ctx, batch(3))
    refused = refused_at_submission(store, registry, lambda mutation: batch(4, mutation=mutation))
    dataset = published[0].dataset
    now = datetime.now(UTC)
    held = place_hold(
        store,
        dataset=dataset,
        batch_id=published[0].batch_id,
        record_id=None,
        reason="litigation",
        placed_by="l",
        now=now,
    )
    other = place_hold(store, dataset=dataset, batch_id=None, record_id=None, reason="inquiry", placed_by="l", now=now)
    release_hold(store, other.hold_id, reason="inquiry answered", released_by="legal", now=now)
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    return Decided(
        store=store,
        published=published,
        rejected_at_gate=gate,
        rejected_at_submit=refused,
        held=held.hold_id,
        released=other.hold_id,
    )


@pytest.fixture
def decided(template: Decided, tmp_path: Path) -> Decided:
    shutil.copytree(template.store.root, tmp_path / "store")
    return replace(template, store=LocalStore(tmp_path / "store"))


def _evidence_file(d: Decided) -> Path:
    return sorted(d.store.root.glob("provenance/*/evidence/*"))[0]


def _evidence_index(d: Decided) -> Path:
    return sorted(d.store.root.glob("provenance/*/evidence.json"))[0]


def _replace(path: Path) -> None:
    path.write_bytes(b"another contract altogether\n")


def _edit_json(name: str, value: object) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        data[name] = value
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    return edit


def _forge_release(d: Decided) -> Path:
    return d.store.root / "lineage/holds" / f"{d.held}.released.json"


def _write_release(path: Path) -> None:
    release = {
        "hold_id": path.name.split(".")[0],
        "reason": "x",
        "released_by": "x",
        "released_at": "2026-11-26T00:00:00Z",
    }
    path.write_text(json.dumps(release), encoding="utf-8")


def _stray_pending(d: Decided) -> Path:
    return sorted(d.store.root.glob("curated/*/expiry=*/part-*.parquet"))[0]


def _copy_to_pending(path: Path) -> None:
    shutil.copyfile(path, path.with_name(path.name.replace("part-", "_pending-")))


# (the file to tamper with, what to do to it, the check verify must name, a phrase of its message)
CASES = [
    pytest.param(_evidence_file, _replace, "file", "changed", id="evidence-file-replaced"),
    pytest.param(_evidence_file, Path.unlink, "file", "is missing", id="evidence-file-deleted"),
    pytest.param(_evidence_index, _replace, "evidence", "evidence index changed", id="evidence-json-edited"),
    pytest.param(_evidence_index, Path.unlink, "evidence", "evidence index missing", id="evidence-json-deleted"),
    pytest.param(
        lambda d: d.store.root / d.rejected_at_gate.rejection,
        _edit_json("stage", "accuracy"),
        "rejection",
        "changed since the audit log recorded it",
        id="intake-rejection-edited",
    ),
    pytest.param(
        lambda d: d.store.root / d.rejected_at_gate.rejection,
        Path.unlink,
        "rejection",
        "is missing",
        id="intake-rejection-deleted",
    ),
    pytest.param(
        lambda d: d.store.root / d.rejected_at_submit.rejection,
        _edit_json("findings", []),
        "rejection",
        "changed since the audit log recorded it",
        id="submit-rejection-edited",
    ),
    pytest.param(
        lambda d: d.store.root / d.rejected_at_submit.rejection,
        Path.unlink,
        "rejection",
        "is missing",
        id="submit-rejection-deleted",
    ),
    pytest.param(
        lambda d: d.store.root / "lineage/holds" / f"{d.held}.json",
        Path.unlink,
        "hold",
        "is missing",
        id="hold-deleted",
    ),
    pytest.param(
        lambda d: d.store.root / "lineage/holds" / f"{d.held}.json",
        _edit_json("target", "20260101T000000000000Z-00000000"),
        "hold",
        "hold changed since",
        id="hold-edited",
    ),
    pytest.param(_forge_release, _write_release, "hold", "never recorded", id="release-forged"),
    pytest.param(
        lambda d: d.store.root / "lineage/holds" / f"{d.released}.released.json",
        _edit_json("reason", "someone else's reason"),
        "hold",
        "hold release changed since",
        id="release-edited",
    ),
    pytest.param(
        lambda d: d.store.root / d.published[0].commit,
        _edit_json("committed_at", "2020-01-01T00:00:00Z"),
        "commit",
        "commit record changed since publish",
        id="commit-record-edited",
    ),
]


@pytest.mark.parametrize(("select", "tamper", "check", "phrase"), CASES)
def test_a_tampered_decision_record_is_reported_where_it_is_and_undoing_it_passes(
    decided: Decided,
    select: Callable[[Decided], Path],
    tamper: Callable[[Path], object],
    check: str,
    phrase: str,
) -> None:
    path = select(decided)
    original = path.read_bytes() if path.exists() else None
    tamper(path)
    report = verify(decided.store, today=TODAY)
    where = path.relative_to(decided.store.root).as_posix()
    assert not report.intact
    assert any(p.check == check and p.where == where and phrase in p.message for p in report.problems), report.problems
    if original is None:
        path.unlink()
    else:
        path.write_bytes(original)
    assert verify(decided.store, today=TODAY).intact


def test_a_stray_pending_file_of_a_published_batch_is_reported(decided: Decided) -> None:
    part = _stray_pending(decided)
    _copy_to_pending(part)
    pending = part.with_name(part.name.replace("part-", "_pending-"))
    report = verify(decided.store, today=TODAY)
    where = pending.relative_to(decided.store.root).as_posix()
    assert any(p.check == "leftover" and p.where == where for p in report.problems), report.problems
    pending.unlink()
    assert verify(decided.store, today=TODAY).intact


def test_a_rejection_no_one_logged_is_reported(decided: Decided) -> None:
    source = decided.store.root / decided.rejected_at_submit.rejection
    forged = (
        decided.store.root / BatchRef(decided.rejected_at_submit.dataset, "20261126T000000000000Z-0badf00d").rejection
    )
    forged.parent.mkdir(parents=True)
    data = json.loads(source.read_text(encoding="utf-8"))
    data.update(batch_id=forged.parent.name, rejected_at=datetime.now(UTC).isoformat())
    forged.write_text(json.dumps(data), encoding="utf-8")
    problems = verify(decided.store, today=TODAY).problems
    where = forged.relative_to(decided.store.root).as_posix()
    assert any(p.check == "rejection" and p.where == where and "never recorded" in p.message for p in problems)


def test_every_reject_hold_and_release_entry_carries_its_files_hash(decided: Decided) -> None:
    entries = [AuditEntry.model_validate_json(p.read_bytes()) for p in sorted(decided.store.root.glob("audit/log/*"))]
    rejects = [e for e in entries if e.action == "reject"]
    assert {e.batch_id for e in rejects} == {decided.rejected_at_gate.batch_id, decided.rejected_at_submit.batch_id}
    assert all(isinstance(e.detail.get("rejection_sha256"), str) for e in rejects)
    assert all("hold_sha256" in e.detail for e in entries if e.action == "hold")
    assert all("release_sha256" in e.detail for e in entries if e.action == "release-hold")
    submitted = next(e for e in rejects if e.batch_id == decided.rejected_at_submit.batch_id)
    assert submitted.detail["stage"] == "provenance"
    assert submitted.codes


def test_the_command_exits_1_on_a_replaced_evidence_file(decided: Decided, kakunin: Callable[..., Run]) -> None:
    home = str(decided.store.root)
    assert kakunin("lineage", "verify", env={"KAKUNIN_HOME": home}).code == 0
    evidence = _evidence_file(decided)
    original = evidence.read_bytes()
    _replace(evidence)
    broken = kakunin("lineage", "verify", "--json", env={"KAKUNIN_HOME": home})
    assert broken.code == 1
    where = evidence.relative_to(decided.store.root).as_posix()
    assert {"check": "file", "where": where} in [
        {k: p[k] for k in ("check", "where")} for p in broken.json()["problems"]
    ]
    evidence.write_bytes(original)
    assert kakunin("lineage", "verify", env={"KAKUNIN_HOME": home}).code == 0


def test_a_store_written_before_decisions_were_sealed_still_verifies(decided: Decided) -> None:
    """Legacy entries without hashes: only existence is checked; old headers without the new fields pass."""
    store = decided.store
    for path in sorted(store.root.glob("lineage/manifests/*/*/manifest.json")):
        header = json.loads(path.read_text(encoding="utf-8"))
        assert header["evidence_index"] is not None
        assert header["commit"] is not None
    rejection = store.root / decided.rejected_at_gate.rejection
    _edit_json("stage", "parse")(rejection)  # an edit a legacy (hash-less) entry cannot tell
    for path in sorted(store.root.glob("audit/log/*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        for name in ("rejection_sha256", "hold_sha256", "release_sha256"):
            entry["detail"].pop(name, None)
        path.write_text(json.dumps(entry), encoding="utf-8")
    problems = verify(store, today=TODAY).problems
    assert [p for p in problems if p.check not in ("chain", "audit")] == [], problems
