"""The subject index kept honest: purged with its records, covered by `lineage verify`, rebuilt by reindex."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.contracts import IdentifierKind, Registry, default_expectations_root
from kakunin.layout import subject_index_key
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.formats import ManifestHeader
from kakunin.lineage.verify import verify
from kakunin.retention.context import InjectedFailure, RetentionContext
from kakunin.retention.erasure import erase_request
from kakunin.retention.purge import run_retention
from kakunin.storage import ObjectStore, S3Store, load
from kakunin.subjects.identifiers import Identifier, subject_key
from kakunin.subjects.register import read_index
from kakunin.subjects.reindex import reindex
from kakunin_dev.people import HANAKO, plant
from tests.conftest import TODAY, Run, edits, kakunin_runner
from tests.retention.conftest import _publish
from tests.subjects.conftest import KEY, TwoProviders, submit_and_run

HER_EMAIL = Identifier(IdentifierKind.EMAIL, HANAKO.email)


def _cli(two_providers: TwoProviders) -> Callable[..., Run]:
    return kakunin_runner(two_providers.store.root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})  # type: ignore[attr-defined]


def _her_batches(store: ObjectStore) -> list[str]:
    found = read_index(store, digests={HER_EMAIL.digest(subject_key(KEY))})
    return sorted(found.column("batch_id").to_pylist())


def _index(store: ObjectStore, key: str) -> pa.Table:
    with store.reading(key) as path:
        return pq.read_table(path)


def _put_index(store: ObjectStore, key: str, table: pa.Table) -> None:
    with store.writing(key) as path:
        pq.write_table(table, path)


def _problems(run: Run) -> list[str]:
    assert run.code == 1, run
    return [f"{p['check']} {p['where']}: {p['message']}" for p in json.loads(run.stdout)["problems"]]


def test_erasure_takes_her_rows_out_of_the_index_and_keyed_verify_stays_intact(two_providers: TwoProviders) -> None:
    store, kakunin = two_providers.store, _cli(two_providers)
    before = _index(store, subject_index_key(two_providers.first))
    assert _her_batches(store) == sorted([two_providers.first.batch_id, two_providers.second.batch_id])

    erased = kakunin(
        "erasure", "request", "--dataset", "jp_customer_leads", "--subject-key", "C9000001", "--reason", "R-1", "--now"
    )
    assert erased.code == 0, erased

    assert _her_batches(store) == [two_providers.second.batch_id]  # provider B's copy is another request's business
    after = _index(store, subject_index_key(two_providers.first))
    assert len(set(before.column("record_id").to_pylist())) - len(set(after.column("record_id").to_pylist())) == 1
    (certificate,) = closed_certificates(store)
    (action,) = certificate.subject_index
    assert (action.key, action.action, action.records_removed) == (subject_index_key(two_providers.first), "rewrite", 1)
    assert action.sha256_after is not None
    assert action.sha256_after != action.sha256_before
    checked = kakunin("lineage", "verify", "--json")
    assert checked.code == 0, checked
    assert json.loads(checked.stdout)["mode"] == "keyed"
    assert kakunin("retention", "run").code == 0  # a rerun purges nothing more and leaves the index alone
    assert _index(store, subject_index_key(two_providers.first)).equals(after)


def test_expiry_of_every_record_deletes_the_index_files(two_providers: TwoProviders) -> None:
    store, kakunin = two_providers.store, _cli(two_providers)
    ran = kakunin("retention", "run", "--as-of", "2099-01-01", "--allow-future-as-of")
    assert ran.code == 0, ran
    assert not store.exists(subject_index_key(two_providers.first))
    assert not store.exists(subject_index_key(two_providers.second))
    (certificate,) = closed_certificates(store)
    assert sorted(a.action for a in certificate.subject_index) == ["delete", "delete"]
    checked = kakunin("lineage", "verify")
    assert checked.code == 0, checked
    nothing = kakunin("subject", "reindex")  # no live record left: no index is right
    assert "nothing to do" in nothing.stdout, nothing
    assert not store.exists(subject_index_key(two_providers.first))


@pytest.mark.parametrize("crash_at", ["subject-index-planned", "subject-index-0"])
def test_a_run_killed_while_purging_the_index_is_finished_by_the_next(
    two_providers: TwoProviders, registry: Registry, crash_at: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = two_providers.store
    monkeypatch.setenv("KAKUNIN_HMAC_KEY", KEY.hex())  # the erasure request's audit entry is sealed like the rest
    now = datetime.now(UTC)
    erase_request(
        store,
        dataset="jp_customer_leads",
        subject_key=["C9000001"],
        reason="R-2",
        key=KEY,
        requested_by="test",
        now=now,
    )

    def context(fail_at: set[str]) -> RetentionContext:
        return RetentionContext(
            store=store,
            registry=registry,
            as_of=TODAY,
            now=lambda: datetime.now(UTC),
            actor="test",
            hmac_key=KEY,
            fail_at=fail_at,
        )

    with pytest.raises(InjectedFailure):
        run_retention(context({crash_at}))
    (closed,) = run_retention(context(set()))

    assert _her_batches(store) == [two_providers.second.batch_id]
    assert [a.key for a in closed.subject_index] == [subject_index_key(two_providers.first)]
    assert closed.subject_index[0].records_removed == 1
    report = verify(store, today=TODAY, key=KEY, contract_for=registry.contract)
    assert report.intact, report.problems


def test_an_index_row_removed_by_hand_is_reported(two_providers: TwoProviders) -> None:
    store, key = two_providers.store, subject_index_key(two_providers.first)
    table = _index(store, key)
    _put_index(store, key, table.slice(1))
    gone = table.column("record_id")[0].as_py()

    problems = _problems(_cli(two_providers)("lineage", "verify", "--json"))

    assert any("missing from the index" in p and gone in p and "reindex" in p for p in problems), problems


def test_an_index_row_added_by_hand_is_reported(two_providers: TwoProviders) -> None:
    store, key = two_providers.store, subject_index_key(two_providers.first)
    table = _index(store, key)
    someone = table.column("record_id")[0].as_py()
    planted = pa.table({"record_id": [someone], "kind": ["email"], "digest": [secrets.token_hex(32)]})
    _put_index(store, key, pa.concat_tables([table, planted.cast(table.schema)]))

    problems = _problems(_cli(two_providers)("lineage", "verify", "--json"))

    assert any("match no identifier of a live record" in p and someone in p for p in problems), problems


def test_a_purged_record_put_back_into_the_index_is_reported_even_without_the_key(
    two_providers: TwoProviders,
) -> None:
    store, kakunin, key = two_providers.store, _cli(two_providers), subject_index_key(two_providers.first)
    before = store.get_bytes(key)
    erased = kakunin(
        "erasure", "request", "--dataset", "jp_customer_leads", "--subject-key", "C9000001", "--reason", "R-3", "--now"
    )
    assert erased.code == 0, erased
    store.put_bytes(key, before)

    for mode in (("--json",), ("--json", "--keyless")):
        problems = _problems(kakunin("lineage", "verify", *mode))
        assert any(p.startswith(f"subjects {key}: the index still finds purged records: 1 record") for p in problems)
    assert HANAKO.email not in "".join(problems)
    rebuilt = kakunin("subject", "reindex", "--batch", two_providers.first.batch_id, "--json")
    assert json.loads(rebuilt.stdout)["batches"][0]["outcome"] == "rebuilt", rebuilt
    assert _her_batches(store) == [two_providers.second.batch_id]
    intact = kakunin("lineage", "verify")
    assert intact.code == 0, intact


def test_an_index_file_of_no_published_batch_is_reported(two_providers: TwoProviders) -> None:
    store = two_providers.store
    stray = subject_index_key(two_providers.first).replace(
        two_providers.first.batch_id, "20260101T000000000000Z-0badf00d"
    )
    store.put_bytes(stray, store.get_bytes(subject_index_key(two_providers.first)))
    store.put_bytes("subjects/index/jp_customer_leads/notes.txt", b"x")

    problems = _problems(_cli(two_providers)("lineage", "verify", "--json", "--keyless"))

    assert any(p.startswith(f"subjects {stray}: an index file of no published batch") for p in problems), problems
    assert any(p.startswith("subjects subjects/index/jp_customer_leads/notes.txt: not a batch's") for p in problems)


def test_reindex_restores_deleted_index_files_and_verify_is_intact_again(two_providers: TwoProviders) -> None:
    store, kakunin = two_providers.store, _cli(two_providers)
    keys = [subject_index_key(two_providers.first), subject_index_key(two_providers.second)]
    originals = [_index(store, k) for k in keys]
    for key in keys:
        store.delete(key)
    assert any("is missing" in p for p in _problems(kakunin("lineage", "verify", "--json")))

    done = kakunin("subject", "reindex", "--json")

    assert done.code == 0, done
    result = json.loads(done.stdout)
    assert result["written"] == 2
    assert sorted(b["outcome"] for b in result["batches"]) == ["written", "written"]
    for key, original in zip(keys, originals, strict=True):
        assert _index(store, key).equals(original)
    assert _her_batches(store) == sorted([two_providers.first.batch_id, two_providers.second.batch_id])
    checked = kakunin("lineage", "verify")
    assert checked.code == 0, checked
    again = kakunin("subject", "reindex")
    assert again.code == 0, again
    assert "nothing to do" in again.stdout
    rebuilt = kakunin("subject", "reindex", "--batch", two_providers.first.batch_id, "--json")
    assert json.loads(rebuilt.stdout)["batches"][0]["outcome"] == "unchanged", rebuilt


def test_reindex_refuses_without_the_key_or_for_an_unknown_batch(two_providers: TwoProviders) -> None:
    kakunin = _cli(two_providers)
    keyless = kakunin("subject", "reindex", env={"KAKUNIN_HMAC_KEY": ""})
    assert keyless.code == 2, keyless
    assert keyless.stderr.startswith("error: KAKUNIN_HMAC_KEY is not set"), keyless
    unknown = kakunin("subject", "reindex", "--batch", "B-NOPE")
    assert unknown.code == 2, unknown
    assert "error: no published batch B-NOPE" in unknown.stderr
    assert "Traceback" not in keyless.stderr + unknown.stderr


def test_a_batch_published_before_the_index_is_reported_keyed_and_reindex_writes_it(
    tmp_path: Path, registry: Registry, store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAKUNIN_HMAC_KEY", KEY.hex())
    before_the_index = tmp_path / "expectations-before-the-index"
    shutil.copytree(default_expectations_root(), before_the_index)
    contract = before_the_index / "jp_customer_leads" / "contract.yaml"
    contract.write_text(re.sub(r"(?m)^identifiers:.*\n(?:  - .*\n)+", "", contract.read_text()))
    ref, outcome = submit_and_run(
        tmp_path, store, Registry(before_the_index), "old", seed=13, data_mutation=plant([(HANAKO, "C9000001")])
    )
    assert outcome.decision == "published", outcome
    assert load(store, ref.manifest_header, ManifestHeader).subject_index is None

    report = verify(store, today=TODAY, key=KEY, contract_for=registry.contract)
    (problem,) = report.problems
    assert problem.check == "subjects"
    assert "published before the subject index" in problem.message
    assert "kakunin subject reindex" in problem.message
    assert verify(store, today=TODAY).intact  # keyless, nobody can tell which datasets have identifiers

    done = reindex(store, hmac_key=KEY, contract_for=registry.contract, now=lambda: datetime.now(UTC), actor="test")

    assert [(b.batch_id, b.outcome) for b in done.batches] == [(ref.batch_id, "written")]
    assert _her_batches(store) == [ref.batch_id]
    report = verify(store, today=TODAY, key=KEY, contract_for=registry.contract)
    assert report.intact, report.problems
    assert (
        reindex(
            store, hmac_key=KEY, contract_for=registry.contract, now=lambda: datetime.now(UTC), actor="test"
        ).batches
        == []
    )


def test_on_both_stores_no_version_of_a_purged_index_row_survives(
    any_store: ObjectStore, registry: Registry, tmp_path: Path
) -> None:
    mutation = edits(retention__period="P1Y", retention__clock="column:last_purchase_on")
    ref = _publish(tmp_path, any_store, registry, "b", 12, mutation)  # type: ignore[arg-type]
    before = _index(any_store, subject_index_key(ref))
    context = RetentionContext(
        store=any_store, registry=registry, as_of=date(2026, 5, 22), now=lambda: datetime.now(UTC), actor="test"
    )

    (certificate,) = run_retention(context)

    (action,) = certificate.subject_index
    with any_store.reading(certificate.records.key) as path:
        purged = set(pq.read_table(path).column("record_id").to_pylist())
    after = set(_index(any_store, action.key).column("record_id").to_pylist()) if action.action == "rewrite" else set()
    assert after == set(before.column("record_id").to_pylist()) - purged
    assert after.isdisjoint(purged)
    if isinstance(any_store, S3Store):
        left = any_store.versions(action.key)
        assert len(left) == (1 if action.action == "rewrite" else 0)
        assert action.versions_removed, "the certificate names the versions it destroyed"
        assert {v["VersionId"] for v in left}.isdisjoint(action.versions_removed)
    else:
        assert action.versions_removed == [], "a folder keeps no versions"
    report = verify(any_store, today=TODAY)
    assert report.intact, report.problems


def test_keyless_verify_finds_strangers_and_unreadable_blocks_in_any_block_of_a_large_index(
    two_providers: TwoProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyless check reads an index file a block of row groups at a time: what is wrong in a later
    block is reported as when the file was read whole, and a block that cannot be read makes the file
    unreadable, whatever the blocks before it held."""
    from kakunin.lineage import subject_index_check

    store, key = two_providers.store, subject_index_key(two_providers.first)
    table = _index(store, key)
    strangers = ["00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"]
    planted = pa.table({"record_id": strangers, "kind": ["email"] * 2, "digest": [secrets.token_hex(32)] * 2})
    rows = pa.concat_tables([planted.slice(0, 1).cast(table.schema), table, planted.slice(1).cast(table.schema)])
    with store.writing(key) as path:
        pq.write_table(rows, path, row_group_size=2)
    monkeypatch.setattr(subject_index_check, "_BLOCK_ROWS", 3)  # a row group per block, and many blocks

    problems = [p for p in verify(store, today=TODAY).problems if p.where == key]

    assert [p.message for p in problems] == [
        f"2 record(s) in the index are not records of batch {two_providers.first.batch_id} (first: {strangers[0]})"
    ]

    read_row_groups = pq.ParquetFile.read_row_groups

    def broken(self: pq.ParquetFile, row_groups: list[int], **kwargs: object) -> pa.Table:
        if row_groups[0] > 2:
            raise OSError("a damaged row group")
        return read_row_groups(self, row_groups, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", broken)
    problems = [p for p in verify(store, today=TODAY).problems if p.where == key]
    assert [p.message for p in problems] == ["not a readable subject index (record_id, kind, digest)"]
