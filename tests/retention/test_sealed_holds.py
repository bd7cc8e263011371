"""Holds and open certificates are checked against the audit log: a forged release or a deleted
hold does not let retention purge held records, and verify reports both; an edited open
certificate is reported while it is open."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.lineage.verify import verify
from kakunin.retention.holds import place_hold
from kakunin.retention.purge import InjectedFailure, RetentionContext, run_retention
from kakunin.storage import LocalStore
from tests.conftest import TODAY, edits
from tests.retention.conftest import Published, _publish

MakeContext = Callable[..., RetentionContext]
AS_OF = date(2028, 1, 1)  # the one-year batch has expired by then


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Published:
    """Built once (intake is slow); each test gets its own copy."""
    tmp = tmp_path_factory.mktemp("sealed")
    store = LocalStore(tmp / "store")
    one_year = _publish(tmp, store, registry, "a", 11, edits(retention__period="P1Y"))
    three_years = _publish(tmp, store, registry, "c", 11, edits(retention__period="P3Y"))
    return Published(store=store, one_year=one_year, by_purchase=one_year, three_years=three_years)


@pytest.fixture
def copy(template: Published, tmp_path: Path) -> Published:
    shutil.copytree(template.store.root, tmp_path / "store")
    return replace(template, store=LocalStore(tmp_path / "store"))


def _held_batch(published: Published) -> tuple[str, Path]:
    """A hold on the one-year batch (due at AS_OF); returns its id and its file."""
    hold = place_hold(
        published.store,
        dataset=published.one_year.dataset,
        batch_id=published.one_year.batch_id,
        record_id=None,
        reason="litigation",
        placed_by="legal",
        now=datetime.now(UTC),
    )
    return hold.hold_id, published.store.root / "lineage/holds" / f"{hold.hold_id}.json"


def _curated_batches(store: LocalStore) -> set[str]:
    """The batches with records in the curated store (a file is named `part-<batch_id>.parquet`)."""
    return {p.name.removeprefix("part-").removesuffix(".parquet") for p in (store.root / "curated").rglob("part-*")}


def test_a_forged_release_keeps_the_hold_and_verify_reports_it(copy: Published, retention_context: MakeContext) -> None:
    store = copy.store
    hold_id, hold_file = _held_batch(copy)
    forged = hold_file.with_name(f"{hold_id}.released.json")
    release = {"hold_id": hold_id, "reason": "done", "released_by": "legal", "released_at": "2026-11-26T00:00:00Z"}
    forged.write_text(json.dumps(release), encoding="utf-8")
    run_retention(retention_context(store, AS_OF))
    assert copy.one_year.batch_id in _curated_batches(store), "the held batch survives the run"
    report = verify(store, today=TODAY)
    where = forged.relative_to(store.root).as_posix()
    assert [p.check for p in report.problems if p.where == where] == ["hold"], report.problems
    assert "never recorded" in next(p.message for p in report.problems if p.where == where)
    forged.unlink()
    assert verify(store, today=TODAY).intact


def test_a_deleted_hold_still_holds_and_verify_reports_it(copy: Published, retention_context: MakeContext) -> None:
    store = copy.store
    _, hold_file = _held_batch(copy)
    original = hold_file.read_bytes()
    hold_file.unlink()
    run_retention(retention_context(store, AS_OF))
    assert copy.one_year.batch_id in _curated_batches(store), "the hold is kept from its audit entry"
    report = verify(store, today=TODAY)
    where = hold_file.relative_to(store.root).as_posix()
    assert any(p.check == "hold" and p.where == where and "is missing" in p.message for p in report.problems)
    hold_file.write_bytes(original)
    assert verify(store, today=TODAY).intact


def test_an_edited_open_certificate_is_reported_while_it_is_open(
    copy: Published, retention_context: MakeContext
) -> None:
    store = copy.store
    with pytest.raises(InjectedFailure):
        run_retention(retention_context(store, AS_OF, fail_at={"opened"}))
    (opened,) = sorted((store.root / "lineage/certificates").glob("*.open.json"))
    where = opened.relative_to(store.root).as_posix()
    original = opened.read_bytes()
    certificate = json.loads(original)
    certificate["retained"] = []
    certificate["actor"] = "someone else"
    opened.write_text(json.dumps(certificate, indent=2), encoding="utf-8")
    edited = verify(store, today=TODAY).problems
    assert any(p.check == "certificate" and p.where == where and "open certificate edited" in p.message for p in edited)
    opened.write_bytes(original)
    undone = verify(store, today=TODAY).problems
    assert [p.message for p in undone if p.where == where] == [
        "a purge was interrupted: its certificate is still open (the next run finishes it)"
    ]
    run_retention(retention_context(store, AS_OF))
    assert verify(store, today=TODAY).intact
