"""Intake and data subjects: an erased person is dropped for good; a batch that copies another provider's
people is refused as a likely leaked copy (名簿業者 resale)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin.batches import Rejection, submit_batch
from kakunin.contracts import IdentifierKind, Registry
from kakunin.intake.run import BatchResult, run_batch
from kakunin.intake.subjects import ProviderId, judge_overlap, overlapping_rows
from kakunin.intake.work import find_pending
from kakunin.layout import AUDIT_CHAIN, BatchRef
from kakunin.lineage.formats import SOURCE_ROW, AuditEntry, ManifestHeader
from kakunin.lineage.verify import verify
from kakunin.storage import ObjectStore, load
from kakunin.subjects.formats import IdentifierDigest, Suppression
from kakunin.subjects.identifiers import Identifier, subject_key
from kakunin.subjects.register import read_index, write_suppression
from kakunin_dev.people import (
    HANAKO,
    HANAKO_AS_SECOND_PROVIDER_WRITES,
    SECOND_PROVIDER,
    copy_rows,
    from_provider,
    plant,
)
from kakunin_dev.samples import write_batch
from tests.chaos.faults import FaultyStore, Killed
from tests.conftest import RECEIVED_ON, TODAY, kakunin_runner
from tests.intake.conftest import make_context
from tests.stores import keys_like
from tests.subjects.conftest import KEY, TwoProviders

Publish = Callable[..., tuple[BatchRef, BatchResult]]

THIRD_PROVIDER: dict[str, Any] = {
    "kind": "business",
    "legal_name": "株式会社名簿センター",
    "address": "福岡県福岡市中央区天神1-1-1",
    "representative": "代表取締役 架空三郎",
    "corporate_number": "1011101054321",
    "country": "JP",
}


def _suppress(store: ObjectStore, *identifiers: Identifier) -> None:
    """What a carried-out erasure request leaves behind: the person's digests on the suppression list."""
    key = subject_key(KEY)
    write_suppression(
        store,
        Suppression(
            request_id="ERQ-20261127T000000Z-abc123",
            digests=[IdentifierDigest(kind=i.kind, digest=i.digest(key)) for i in identifiers],
            recorded_at=datetime.now(UTC),
        ),
    )


def _audit(store: ObjectStore, action: str, batch_id: str) -> AuditEntry:
    entries = [AuditEntry.model_validate_json(store.get_bytes(k)) for k in keys_like(store, f"{AUDIT_CHAIN}/*.json")]
    (entry,) = [e for e in entries if e.action == action and e.batch_id == batch_id]
    return entry


def _batches_json(store: ObjectStore) -> dict[str, dict[str, Any]]:
    """`kakunin batches --json`, run for real on the store, by batch id."""
    run = kakunin_runner(store.root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})  # type: ignore[attr-defined]
    done = run("batches", "--json")
    assert done.code == 0, done.stderr
    return {b["batch_id"]: b for b in json.loads(done.stdout)}


def _batches_text(store: ObjectStore) -> str:
    done = kakunin_runner(store.root)("batches")  # type: ignore[attr-defined]
    assert done.code == 0, done.stderr
    return done.stdout


def _data_csv(tmp_path: Path, name: str) -> Path:
    return tmp_path / name / "data.csv"


def test_an_erased_person_sent_again_is_dropped_and_counted_the_others_published(
    two_providers: TwoProviders, publish: Publish
) -> None:
    store = two_providers.store
    _suppress(store, Identifier(IdentifierKind.PHONE, "+81 90-1111-2222"))  # erased by phone, written another way
    ref, outcome = publish(
        "next-month",
        seed=21,
        mutation=from_provider(SECOND_PROVIDER),
        data_mutation=plant([(HANAKO_AS_SECOND_PROVIDER_WRITES, "C9100077")], start_row=4),
    )
    assert outcome.decision == "published", outcome
    assert "subject.erased" in outcome.codes
    header = load(store, ref.manifest_header, ManifestHeader)
    assert (header.counts.received, header.counts.erased, header.counts.published) == (21, 1, 20)
    assert header.counts.quarantined == 0
    assert not store.exists(ref.quarantine("failed_rows.parquet"))  # not even quarantined

    with store.reading(header.curated_files[0].key) as path:
        published = pq.read_table(path)
    assert "C9100077" not in published.column("customer_no").to_pylist()
    assert HANAKO_AS_SECOND_PROVIDER_WRITES.email not in published.column("email").to_pylist()
    email = Identifier(IdentifierKind.EMAIL, HANAKO.email).digest(subject_key(KEY))
    assert ref.batch_id not in read_index(store, digests={email}).column("batch_id").to_pylist()

    entry = _audit(store, "publish", ref.batch_id)
    assert "subject.erased" in (entry.codes or [])
    assert entry.detail is not None
    assert entry.detail["erased"] == 1
    listed = _batches_json(store)[ref.batch_id]
    assert (listed["erased"], listed["published"]) == (1, 20)
    assert "subject.erased" in listed["reason_codes"]
    assert "subject.erased×1" in _batches_text(store)
    assert verify(store, today=TODAY, key=KEY).intact


def test_a_batch_whose_every_row_is_erased_is_published_empty_with_nothing_kept(
    two_providers: TwoProviders, publish: Publish, tmp_path: Path
) -> None:
    store = two_providers.store
    first_people = read_index(store, kinds={"email"})
    first_people = first_people.filter(pc.equal(first_people.column("batch_id"), two_providers.first.batch_id))
    write_suppression(
        store,
        Suppression(
            request_id="ERQ-20261127T000000Z-def456",
            digests=[IdentifierDigest(kind=IdentifierKind.EMAIL, digest=d) for d in first_people["digest"].to_pylist()],
            recorded_at=datetime.now(UTC),
        ),
    )
    ref, outcome = publish("resent", seed=22, data_mutation=copy_rows(_data_csv(tmp_path, "first"), 21))
    assert outcome.decision == "published", outcome
    header = load(store, ref.manifest_header, ManifestHeader)
    assert (header.counts.received, header.counts.erased, header.counts.published) == (21, 21, 0)
    assert header.curated_files == []
    assert not list(store.list_keys(f"landing/{ref.dataset}/{ref.batch_id}/"))
    assert not list(store.list_keys(f"quarantine/{ref.dataset}/{ref.batch_id}/"))
    assert store.exists(ref.receipt)  # who sent it is still on record (Art. 30)
    assert verify(store, today=TODAY, key=KEY).intact


def test_a_batch_half_of_another_providers_people_is_refused_as_a_likely_leaked_copy(
    two_providers: TwoProviders, publish: Publish, tmp_path: Path
) -> None:
    store = two_providers.store
    ref, outcome = publish(
        "copy-half",
        seed=31,
        rows=20,
        mutation=from_provider(THIRD_PROVIDER),
        data_mutation=copy_rows(_data_csv(tmp_path, "first"), 10),
    )
    assert outcome.decision == "rejected (provenance)", outcome
    assert outcome.codes == ["intake.overlap"]
    rejection = load(store, ref.rejection, Rejection)
    (finding,) = rejection.findings
    assert "10 of 20 rows (50%)" in finding.message
    assert "2 other provider(s)" in finding.message  # A for all ten; B too for 花子
    assert "leaked copy (名簿業者 resale)" in finding.message
    assert "confirm how this provider acquired it" in finding.message
    assert not store.exists(ref.manifest_header)
    assert store.exists(ref.quarantine("data.csv"))
    assert _audit(store, "reject", ref.batch_id).codes == ["intake.overlap"]
    listed = _batches_json(store)[ref.batch_id]
    assert (listed["state"], listed["reason_codes"]) == ("rejected", ["intake.overlap"])
    assert verify(store, today=TODAY, key=KEY).intact


def test_a_tenth_of_another_providers_people_is_published_with_the_overlap_shown(
    two_providers: TwoProviders, publish: Publish, tmp_path: Path
) -> None:
    store = two_providers.store
    ref, outcome = publish(
        "copy-tenth",
        seed=32,
        rows=20,
        mutation=from_provider(THIRD_PROVIDER),
        data_mutation=copy_rows(_data_csv(tmp_path, "second"), 2),
    )
    assert outcome.decision == "published", outcome
    overlap = load(store, ref.manifest_header, ManifestHeader).overlap
    assert overlap is not None
    assert (overlap.rows, overlap.considered, overlap.ratio, overlap.providers) == (2, 20, 0.1, 1)
    detail = _audit(store, "publish", ref.batch_id).detail or {}
    assert (detail["overlap_rows"], detail["overlap_ratio"], detail["overlap_providers"]) == (2, 0.1, 1)
    listed = _batches_json(store)[ref.batch_id]
    assert (listed["overlap"]["rows"], listed["overlap"]["ratio"]) == (2, 0.1)
    assert "overlap 2/20 (10%) from 1 other provider(s)" in _batches_text(store)
    assert verify(store, today=TODAY, key=KEY).intact


def test_a_provider_sending_its_own_people_again_is_no_overlap(
    two_providers: TwoProviders, publish: Publish, tmp_path: Path
) -> None:
    # provider B re-sends ten of its own rows: only 花子 among them, whom provider A holds too, overlaps
    ref, outcome = publish(
        "own-again",
        seed=33,
        rows=20,
        mutation=from_provider({**SECOND_PROVIDER, "legal_name": "(株)架空リサーチ"}),
        data_mutation=copy_rows(_data_csv(tmp_path, "second"), 10),
    )
    assert outcome.decision == "published", outcome
    overlap = load(two_providers.store, ref.manifest_header, ManifestHeader).overlap
    assert overlap is not None
    assert (overlap.rows, overlap.providers) == (1, 1)


def test_the_same_person_from_a_second_provider_is_one_overlapping_row(two_providers: TwoProviders) -> None:
    store = two_providers.store
    first = load(store, two_providers.first.manifest_header, ManifestHeader).overlap
    second = load(store, two_providers.second.manifest_header, ManifestHeader).overlap
    assert first is not None
    assert second is not None
    assert (first.rows, first.considered) == (0, 21)
    assert (second.rows, second.considered, second.providers) == (1, 21, 1)


@pytest.mark.parametrize(
    ("rows", "considered", "max_ratio", "rejected", "ratio"),
    [
        pytest.param(10, 20, 0.2, True, 0.5, id="half-rejected"),
        pytest.param(2, 20, 0.2, False, 0.1, id="tenth-published"),
        pytest.param(4, 20, 0.2, False, 0.2, id="at-the-limit-published"),
        pytest.param(5, 20, 0.2, True, 0.25, id="just-above-rejected"),
        pytest.param(0, 0, 0.2, False, 0.0, id="nothing-considered"),
        pytest.param(1, 20, 0.0, True, 0.05, id="zero-tolerance"),
    ],
)
def test_the_overlap_verdict(rows: int, considered: int, max_ratio: float, rejected: bool, ratio: float) -> None:
    verdict = judge_overlap(rows=rows, considered=considered, providers=1, max_ratio=max_ratio)
    assert (verdict.rejected, verdict.overlap.ratio) == (rejected, ratio)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(
            ("株式会社架空リサーチ", "1011101012345"), ("(株)架空リサーチ", "1011101012345"), True, id="number"
        ),
        pytest.param(
            ("株式会社架空リサーチ", "1011101012345"),
            ("株式会社架空リサーチ", "9999999999999"),
            False,
            id="numbers-differ",
        ),
        pytest.param(
            ("株式会社 架空リサーチ", None), ("架空リサーチ株式会社", "1011101012345"), True, id="name-when-one-lacks"
        ),
        pytest.param(("株式会社架空リサーチ", None), ("株式会社名簿センター", None), False, id="names-differ"),
        pytest.param((None, None), (None, None), False, id="nameless-never-same"),
    ],
)
def test_provider_identity(a: tuple[str | None, str | None], b: tuple[str | None, str | None], same: bool) -> None:
    assert ProviderId.of(*a).same_as(ProviderId.of(*b)) is same


def test_overlapping_rows_counts_rows_not_digests() -> None:
    contact = pa.table({SOURCE_ROW: pa.array([1, 1, 2, 3], pa.int64()), "digest": ["e1", "p1", "e2", "e3"]})
    assert overlapping_rows(contact, {"e1", "p1", "e3"}) == 2
    assert overlapping_rows(contact, set()) == 0


def _land(tmp_path: Path, store: ObjectStore, registry: Registry, name: str, **options: Any) -> BatchRef:
    """Submit a sample batch without running intake on it."""
    folder = write_batch(
        tmp_path / name, document_id=f"PRV-2026-{700000 + options['seed']:06d}", received_on=RECEIVED_ON, **options
    )
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    return ref


@pytest.mark.parametrize(
    ("pattern", "copied", "action"),
    [
        pytest.param(r"^put work/.*/assign\.json", 1, "publish", id="erased-killed-before-assign-record"),
        pytest.param(r"^rename landing/.*/data\.csv", 10, "reject", id="overlap-killed-moving-to-quarantine"),
    ],
)
def test_a_kill_midway_is_finished_by_the_rerun_with_the_same_counts(
    two_providers: TwoProviders, registry: Registry, tmp_path: Path, pattern: str, copied: int, action: str
) -> None:
    store = two_providers.store
    _suppress(store, Identifier(IdentifierKind.EMAIL, HANAKO.email))  # 花子 is the first row copied
    ref = _land(
        tmp_path,
        store,
        registry,
        "killed",
        seed=41,
        rows=20,
        mutation=from_provider(THIRD_PROVIDER),
        data_mutation=copy_rows(_data_csv(tmp_path, "first"), copied),
    )
    faulty = FaultyStore(store.root, kill_when=pattern)  # type: ignore[attr-defined]
    with pytest.raises(Killed):
        run_batch(ref, make_context(faulty, registry))
    run_batch(ref, make_context(store, registry))
    entries = [AuditEntry.model_validate_json(store.get_bytes(k)) for k in keys_like(store, f"{AUDIT_CHAIN}/*.json")]
    assert [e.action for e in entries if e.batch_id == ref.batch_id] == ["accept", action]
    if action == "publish":
        header = load(store, ref.manifest_header, ManifestHeader)
        assert (header.counts.erased, header.counts.published) == (1, 19)
        assert header.overlap is not None
        assert header.overlap.rows == 0  # 花子 is held from A and B, but erased rows never count
    else:
        (finding,) = load(store, ref.rejection, Rejection).findings
        assert finding.message.startswith("9 of 19 rows (47%)")  # erased 花子 on neither side of the ratio
        assert not store.exists(ref.landing("data.csv"))
    assert verify(store, today=TODAY, key=KEY).intact
