"""Write-once lineage and audit on S3 (Object Lock), against moto's server on loopback: receipts locked
through keep_until, manifests undeletable, legal holds from `kakunin hold`, verify's lock check, and
a purge that meets a receipt the store still locks."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from kakunin.codes import ReasonCode
from kakunin.contracts import Registry
from kakunin.errors import ConfigError, StorageLocked
from kakunin.infra.locks import end_of_day
from kakunin.layout import AUDIT_CHAIN, MANIFEST_CHAIN, BatchRef, chain_entry_key
from kakunin.lineage.formats import Receipt
from kakunin.lineage.verify import UNLOCKED, verify
from kakunin.retention.holds import lock_held_objects, place_hold, release_hold, unlock_released_objects
from kakunin.retention.purge import RetentionContext, run_retention
from kakunin.storage import LocalStore, S3Store, load, open_store
from kakunin.storage.config import S3Location, parse_storage_url
from tests.conftest import S3_BUCKET, TODAY, edits, kakunin_runner, s3_store
from tests.retention.conftest import _publish
from tests.s3server import CREDENTIALS, S3Server


def _head(store: S3Store, key: str) -> dict[str, Any]:
    bucket, s3_key = store.locate(key)
    answer: dict[str, Any] = store.client.head_object(Bucket=bucket, Key=s3_key)
    return answer


@pytest.fixture(scope="module")
def published(s3_endpoint: S3Server, registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One batch published on S3 (retention P1Y), shared by the tests that only read it or undo what they do."""
    store = s3_store(s3_endpoint)
    ref = _publish(tmp_path_factory.mktemp("locks"), store, registry, "a", 11, edits(retention__period="P1Y"))  # type: ignore[arg-type]
    return store, ref


def test_a_receipt_is_locked_through_the_end_of_its_keep_until(published: tuple[S3Store, BatchRef]) -> None:
    store, ref = published
    receipt = load(store, ref.receipt, Receipt)
    head = _head(store, ref.receipt)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"].astimezone(UTC) == end_of_day(receipt.keep_until)
    for key in (ref.manifest_parquet, ref.manifest_header, chain_entry_key(MANIFEST_CHAIN, 1), ref.commit):
        assert _head(store, key)["ObjectLockRetainUntilDate"].astimezone(UTC) == end_of_day(receipt.keep_until), key


def test_every_lineage_and_audit_object_is_locked_and_verify_passes(published: tuple[S3Store, BatchRef]) -> None:
    store, _ = published
    now = datetime.now(UTC)
    assert store.unlocked_keys("lineage/", now) == []
    assert store.unlocked_keys("audit/", now) == []
    audit_entry = _head(store, chain_entry_key(AUDIT_CHAIN, 1))
    assert audit_entry["ObjectLockRetainUntilDate"] > now + timedelta(days=1000), "audit entries: three years"
    report = verify(store, today=TODAY)
    assert report.intact, report.problems


def test_the_endpoint_refuses_to_delete_a_locked_manifest(published: tuple[S3Store, BatchRef]) -> None:
    store, ref = published
    bucket, key = store.locate(ref.manifest_header)
    version = _head(store, ref.manifest_header)["VersionId"]
    with pytest.raises(ClientError) as refused:
        store.client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(StorageLocked, match="locked by the store until"):
        store.delete(ref.manifest_header)
    assert store.exists(ref.manifest_header)


def test_verify_reports_an_object_written_without_its_lock(published: tuple[S3Store, BatchRef]) -> None:
    store, _ = published
    stray = "lineage/receipts/jp_customer_leads/stray.json"
    bucket, key = store.locate(stray)
    store.client.put_object(Bucket=bucket, Key=key, Body=b"{}")  # the raw client: no lock headers
    try:
        problems = [p for p in verify(store, today=TODAY).problems if p.check == UNLOCKED]
        assert [p.where for p in problems] == [stray]
        assert "no Object Lock" in problems[0].message
    finally:
        store.delete(stray)
    assert ReasonCode.LINEAGE_UNLOCKED.value == UNLOCKED


def test_hold_add_sets_legal_holds_and_remove_clears_them(
    published: tuple[S3Store, BatchRef], s3_endpoint: S3Server, tmp_path: Path
) -> None:
    store, ref = published
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_endpoint.endpoint,
        "KAKUNIN_STORAGE": f"s3://{S3_BUCKET}/{store.location.prefix}",
    }
    kakunin = kakunin_runner(tmp_path / "unused", base_env=env)
    covered = [ref.manifest_parquet, ref.manifest_header, ref.receipt, ref.commit]
    covered += [k for k in store.list_keys("curated/") if f"part-{ref.batch_id}" in k]
    first = kakunin("hold", "add", "--dataset", ref.dataset, "--batch", ref.batch_id, "--reason", "case 1", "--json")
    second = kakunin("hold", "add", "--dataset", ref.dataset, "--reason", "case 2", "--json")
    assert first.code == second.code == 0, (first.stderr, second.stderr)
    assert first.json()["legal_holds"] == len(covered)
    assert sorted(store.held_keys(covered)) == sorted(covered)
    listed = {h["hold_id"]: h["legal_holds"] for h in kakunin("hold", "list", "--json").json()}
    assert listed == {first.json()["hold_id"]: len(covered), second.json()["hold_id"]: len(covered)}

    removed = kakunin("hold", "remove", first.json()["hold_id"], "--reason", "settled", "--json")
    assert removed.code == 0, removed.stderr
    assert removed.json()["legal_holds_cleared"] == 0, "the dataset hold still covers every object"
    assert sorted(store.held_keys(covered)) == sorted(covered)
    last = kakunin("hold", "remove", second.json()["hold_id"], "--reason", "settled")
    assert last.code == 0, last.stderr
    assert f"{len(covered)} object(s) no longer under an S3 legal hold" in last.stdout
    assert store.held_keys(covered) == []
    assert _head(store, ref.receipt)["ObjectLockLegalHoldStatus"] == "OFF"


def test_a_record_hold_leaves_the_curated_file_purgeable(published: tuple[S3Store, BatchRef]) -> None:
    """Its file also holds other records, which retention must still destroy in every version."""
    store, ref = published
    with store.open_input(ref.manifest_parquet) as handle:
        record_id = pq.read_table(handle, columns=["record_id"]).column("record_id")[0].as_py()
    now = datetime.now(UTC)
    hold = place_hold(
        store, dataset=ref.dataset, batch_id=None, record_id=record_id, reason="r", placed_by="t", now=now
    )
    try:
        held = lock_held_objects(store, hold)
        assert held == sorted([ref.manifest_parquet, ref.manifest_header, ref.receipt, ref.commit])
        parts = [k for k in store.list_keys("curated/") if k.endswith(".parquet")]
        assert parts
        assert store.held_keys(parts) == []
    finally:
        release_hold(store, hold.hold_id, reason="done", released_by="t", now=now)
        unlock_released_objects(store, hold)
    assert store.held_keys(held) == []


def test_a_purge_leaves_a_receipt_the_store_still_locks_for_a_later_run(
    s3_endpoint: S3Server, registry: Registry, tmp_path: Path
) -> None:
    store = s3_store(s3_endpoint)
    ref = _publish(tmp_path, store, registry, "a", 11, edits(retention__period="P1Y"))  # type: ignore[arg-type]
    keep_until = load(store, ref.receipt, Receipt).keep_until
    bucket, key = store.locate(ref.receipt)
    lock_ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)  # the lock, in the real near future
    store.client.put_object_retention(
        Bucket=bucket,
        Key=key,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": lock_ends},
        BypassGovernanceRetention=True,  # shortening a GOVERNANCE lock needs the bypass (the test's own doing)
    )
    later = keep_until + timedelta(days=10)  # the receipt's keep_until has passed on the run's clock

    def run() -> tuple[RetentionContext, list[Any]]:
        ctx = RetentionContext(
            store=store,
            registry=registry,
            as_of=later,
            actor="test",
            now=lambda: datetime.combine(later, datetime.min.time(), UTC),
        )
        return ctx, run_retention(ctx)

    ctx, (certificate,) = run()
    assert certificate.receipts_removed == [], "the certificate lists only what went"
    assert ctx.deferred == [
        f"not purged yet: {ref.receipt} is locked by the store until {lock_ends:%Y-%m-%d %H:%M} UTC "
        "(S3 Object Lock); it stays until then; a later run removes it"
    ]
    assert store.exists(ref.receipt)
    assert verify(store, today=TODAY).intact

    while datetime.now(UTC) <= lock_ends:  # wait for the lock to run out: S3 decides by its own clock
        time.sleep(0.5)
    ctx, (again,) = run()
    assert [r.key for r in again.receipts_removed] == [ref.receipt]
    assert again.receipts_removed[0].versions_removed
    assert ctx.deferred == []
    assert not store.exists(ref.receipt)
    assert store.versions(ref.receipt) == []


def test_a_bucket_without_object_lock_takes_writes_unlocked_and_verify_says_so(
    s3_endpoint: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    s3_endpoint.make_bucket("kakunin-test-nolock", object_lock=False)
    store = S3Store(S3Location("kakunin-test-nolock", prefix=uuid.uuid4().hex[:8]), client=s3_endpoint.client())
    with caplog.at_level("WARNING", logger="kakunin.storage.s3_lock"):
        store.put_bytes("audit/log/000000000001.json", b"{}")
        store.put_bytes("audit/log/000000000002.json", b"{}")
    assert [r.getMessage() for r in caplog.records] == [
        "bucket 'kakunin-test-nolock' has no Object Lock: nothing under audit/ can be made write-once "
        "(run `kakunin infra bootstrap`, which enables it); audit objects are written there unlocked"
    ], "said once per bucket"
    assert store.lock_until("audit/log/000000000001.json", date(2099, 1, 1)) is False
    assert store.set_legal_holds(["audit/log/000000000001.json"], on=True) == []
    problems = [p for p in verify(store, today=TODAY).problems if p.check == UNLOCKED]
    assert [p.where for p in problems] == ["lineage/", "audit/"]
    assert "has no Object Lock" in problems[1].message
    assert "2 object(s) there are unlocked" in problems[1].message


def test_a_folder_cannot_lock_and_verify_reports_no_lock(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("lineage/receipts/d/b.json", b"{}")
    assert store.lock_until("lineage/receipts/d/b.json", date(2099, 1, 1)) is False
    assert store.set_legal_holds(["lineage/receipts/d/b.json"], on=True) == []
    assert store.unlocked_keys("lineage/", datetime.now(UTC)) is None
    assert store.held_keys(["lineage/receipts/d/b.json"]) is None


def test_compliance_mode_locks_in_compliance(s3_endpoint: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAKUNIN_S3_LOCK_MODE", "compliance")
    monkeypatch.setenv("KAKUNIN_S3_LOCK_DAYS", "30")
    monkeypatch.delenv("KAKUNIN_S3_ZONE_BUCKETS", raising=False)
    store = open_store(f"s3://{S3_BUCKET}/c-{uuid.uuid4().hex[:8]}", s3_client=s3_endpoint.client())
    assert isinstance(store, S3Store)
    store.put_bytes("audit/log/000000000001.json", b"{}")
    head = _head(store, "audit/log/000000000001.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] < datetime.now(UTC) + timedelta(days=31)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("KAKUNIN_S3_LOCK_MODE", "LEGAL", "use GOVERNANCE or COMPLIANCE", id="unknown-mode"),
        pytest.param("KAKUNIN_S3_LOCK_DAYS", "0", "at least 1", id="zero-days"),
        pytest.param("KAKUNIN_S3_LOCK_DAYS", "a year", "a whole number of days", id="words"),
    ],
)
def test_a_bad_lock_setting_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        parse_storage_url("s3://bucket/prefix")


def test_a_bad_lock_mode_is_a_clear_cli_error(tmp_path: Path) -> None:
    env = {"KAKUNIN_STORAGE": "s3://bucket/prefix", "KAKUNIN_S3_LOCK_MODE": "LEGAL", **CREDENTIALS}
    run = kakunin_runner(tmp_path, base_env=env)("hold", "list")
    assert run.code == 2
    assert "KAKUNIN_S3_LOCK_MODE='LEGAL': use GOVERNANCE or COMPLIANCE" in run.stderr
    assert "Traceback" not in run.stderr
