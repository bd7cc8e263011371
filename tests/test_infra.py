"""`kakunin infra`: the bucket plan (pure), and bootstrap and Object Lock on a real S3 endpoint.

The S3 tests run against moto's standalone server on loopback (tests/infra_s3server.py), over
HTTP through boto3, and read every setting back the way an operator would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from kakunin.errors import ConfigError
from kakunin.infra import Observed, Options, bootstrap, bucket_specs, parse_storage_url, parse_zone_buckets, plan
from kakunin.infra.locks import lock_until, set_legal_holds, unlocked_objects
from tests.infra_s3server import CREDENTIALS, moto_server

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# ── the plan: pure ───────────────────────────────────────────────────────────────────


def _applied(specs: list[Any]) -> dict[str, Observed]:
    """What S3 would report after a plan for `specs` was applied to empty buckets."""
    observed = {}
    for change_list in (plan([spec], {spec.name: Observed(exists=False)}) for spec in specs):
        values = {c.setting: c.value for c in change_list}
        observed[change_list[0].bucket] = Observed(
            exists=True,
            versioning="Enabled",
            object_lock=True,
            default_retention=next(s.default_retention for s in specs if s.name == change_list[0].bucket),
            encryption=values["encryption"]["Rules"][0],
            public_access_block=values["public_access_block"],
            lifecycle_rules=tuple(values["lifecycle"]["Rules"]),
            policy=values["policy"],
        )
    return observed


def test_one_bucket_holds_every_zone_with_object_lock_but_no_default_retention() -> None:
    [spec] = bucket_specs("s3://acme-kakunin/prod", {}, Options())
    assert spec.name == "acme-kakunin"
    assert spec.prefix == "prod/"
    assert {"landing", "curated", "lineage", "audit"} <= set(spec.zones)
    assert spec.default_retention is None  # a default would lock curated data the purge must delete
    no_delete = next(s for s in spec.policy_statements if s["Sid"] == "KakuninNoDeleteWriteOnce")
    assert no_delete["Resource"] == [
        "arn:aws:s3:::acme-kakunin/prod/audit/*",
        "arn:aws:s3:::acme-kakunin/prod/lineage/*",
    ]


def test_a_lineage_and_audit_bucket_gets_the_default_retention_and_a_whole_bucket_no_delete() -> None:
    zone_buckets = {"lineage": "acme-write-once", "audit": "acme-write-once"}
    options = Options(lock_mode="COMPLIANCE", retention_days=3650, delete_exempt=("arn:aws:iam::1:role/pipeline",))
    main, write_once = bucket_specs("s3://acme-kakunin", zone_buckets, options)
    assert write_once.zones == ("audit", "lineage")
    assert write_once.default_retention == ("COMPLIANCE", 3650)
    assert main.default_retention is None
    assert "lineage" not in main.zones
    no_delete = next(s for s in write_once.policy_statements if s["Sid"] == "KakuninNoDeleteWriteOnce")
    assert no_delete["Resource"] == ["arn:aws:s3:::acme-write-once/*"]
    assert no_delete["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::1:role/pipeline"]}}
    assert [s["Sid"] for s in main.policy_statements] == ["KakuninTlsOnly"]
    [plain_main, _] = bucket_specs("s3://acme-kakunin", zone_buckets, Options(tls_only=False))
    assert plain_main.policy_statements == ()
    [policy] = [c for c in plan([plain_main], {plain_main.name: Observed(exists=True)}) if c.setting == "policy"]
    assert policy.action == "unchanged"  # nothing of ours wanted, nothing there: no empty policy is sent


def test_a_kms_key_means_sse_kms_with_a_bucket_key_else_sse_s3() -> None:
    [kms] = bucket_specs("s3://acme-kakunin", {}, Options(kms_key_id="alias/kakunin"))
    [s3] = bucket_specs("s3://acme-kakunin", {}, Options())
    kms_rule = plan([kms], {kms.name: Observed(exists=False)})[3].value["Rules"][0]
    assert kms_rule == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/kakunin"},
        "BucketKeyEnabled": True,
    }
    assert s3.encryption == {"SSEAlgorithm": "AES256"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("s3://acme-kakunin", ("acme-kakunin", ""), id="bucket"),
        pytest.param("s3://acme-kakunin/prod/", ("acme-kakunin", "prod/"), id="prefix"),
        pytest.param("s3://acme-kakunin/a/b", ("acme-kakunin", "a/b/"), id="nested-prefix"),
    ],
)
def test_storage_urls_name_the_bucket_and_prefix(url: str, expected: tuple[str, str]) -> None:
    assert parse_storage_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("file:///srv/kakunin", id="file-url"),
        pytest.param("s3://", id="no-bucket"),
        pytest.param("s3://Acme_Bucket/x", id="bad-bucket-name"),
        pytest.param("/srv/kakunin", id="a-path"),
    ],
)
def test_a_storage_url_bootstrap_cannot_use_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="bucket"):
        parse_storage_url(url)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param('["lineage"]', "JSON object", id="a-list"),
        pytest.param('{"archive": "acme-archive"}', "unknown zone", id="unknown-zone"),
        pytest.param('{"lineage": "No_Such"}', "not a valid S3 bucket name", id="bad-bucket"),
    ],
)
def test_a_bad_zone_bucket_map_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_zone_buckets(text)


def test_a_plan_for_missing_buckets_creates_and_sets_everything_and_after_it_nothing() -> None:
    specs = bucket_specs("s3://acme-kakunin", {"lineage": "acme-lineage"}, Options(kms_key_id="alias/k"))
    first = plan(specs, {spec.name: Observed(exists=False) for spec in specs})
    assert {c.action for c in first if c.setting == "bucket"} == {"create"}
    assert {c.action for c in first if c.setting != "bucket"} == {"set"}
    assert {c.action for c in plan(specs, _applied(specs))} == {"unchanged"}


def test_a_plan_changes_only_what_drifted_and_keeps_what_others_configured() -> None:
    [spec] = bucket_specs("s3://acme-kakunin", {}, Options())
    seen = _applied([spec])[spec.name]
    foreign_statement = {"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "s3:GetObject"}
    foreign_rule = {"ID": "theirs", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    drifted = Observed(
        exists=True,
        versioning="Suspended",
        object_lock=True,
        encryption=seen.encryption,
        public_access_block=seen.public_access_block,
        lifecycle_rules=(*seen.lifecycle_rules, foreign_rule),
        policy={"Version": "2012-10-17", "Statement": [*seen.policy["Statement"], foreign_statement]},  # type: ignore[index]
    )
    changes = {c.setting: c for c in plan([spec], {spec.name: drifted})}
    assert [s for s, c in changes.items() if c.action != "unchanged"] == ["versioning"]
    lock_drift = Observed(**{**drifted.__dict__, "versioning": "Enabled", "default_retention": ("GOVERNANCE", 1)})
    assert [c.setting for c in plan([spec], {spec.name: lock_drift}) if c.action != "unchanged"] == ["object_lock"]
    unsecured = Observed(**{**drifted.__dict__, "versioning": "Enabled", "policy": {"Statement": [foreign_statement]}})
    [policy] = [c for c in plan([spec], {spec.name: unsecured}) if c.action != "unchanged"]
    assert policy.setting == "policy"
    assert foreign_statement in policy.value["Statement"]


# ── bootstrap and locks on a real S3 endpoint ────────────────────────────────────────


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _kakunin(endpoint: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, **env}
    for name in ("KAKUNIN_STORAGE", "KAKUNIN_S3_ZONE_BUCKETS", "KAKUNIN_S3_KMS_KEY_ID"):
        if name not in env:
            environment.pop(name, None)
    command = [sys.executable, "-m", "kakunin.cli", *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, check=False)


def _bootstrap_json(endpoint: str, *args: str, **env: str) -> dict[str, Any]:
    done = _kakunin(endpoint, "infra", "bootstrap", "--json", *args, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def test_bootstrap_twice_the_second_run_changes_nothing_and_every_setting_is_there(endpoint: str, s3: Any) -> None:
    env = {"KAKUNIN_STORAGE": "s3://twice-main/prod", "KAKUNIN_S3_ZONE_BUCKETS": '{"lineage": "twice-lineage"}'}
    first = _bootstrap_json(endpoint, **env)
    assert first["changed"] == 14
    assert [b["name"] for b in first["buckets"]] == ["twice-main", "twice-lineage"]
    second = _bootstrap_json(endpoint, **env)
    assert second["changed"] == 0
    assert {c["action"] for c in second["changes"]} == {"unchanged"}
    assert len(second["changes"]) == 14

    for bucket in ("twice-main", "twice-lineage"):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
        [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
        statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
        assert statements["KakuninTlsOnly"]["Effect"] == "Deny"
        assert statements["KakuninTlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert statements["KakuninNoDeleteWriteOnce"]["Effect"] == "Deny"
        assert "s3:DeleteObjectVersion" in statements["KakuninNoDeleteWriteOnce"]["Action"]
    main_lock = s3.get_object_lock_configuration(Bucket="twice-main")["ObjectLockConfiguration"]
    assert main_lock == {"ObjectLockEnabled": "Enabled"}
    lineage_lock = s3.get_object_lock_configuration(Bucket="twice-lineage")["ObjectLockConfiguration"]
    assert lineage_lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert lineage_lock["Rule"]["DefaultRetention"]["Days"] == 365


def _changed(s3: Any, storage: str, zone_buckets: dict[str, str] | None = None, **options: Any) -> list[str]:
    """Bootstrap through the library (the CLI's own path is tested above); the settings it changed."""
    changes = bootstrap(s3, bucket_specs(storage, zone_buckets or {}, Options(**options)))
    return [f"{c.bucket}:{c.setting}" for c in changes if c.action != "unchanged"]


def test_bootstrap_repairs_drift_and_keeps_a_foreign_policy_statement(s3: Any) -> None:
    assert len(_changed(s3, "s3://drift-main", kms_key_id="alias/kakunin")) == 7
    s3.put_bucket_versioning(Bucket="drift-main", VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket="drift-main")
    theirs = {
        "Sid": "Theirs",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObjectAcl",
        "Resource": "arn:aws:s3:::drift-main/*",
    }
    s3.put_bucket_policy(Bucket="drift-main", Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]}))

    repaired = _changed(s3, "s3://drift-main", kms_key_id="alias/kakunin")
    assert repaired == ["drift-main:versioning", "drift-main:public_access_block", "drift-main:policy"]
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket="drift-main")["Policy"])["Statement"]]
    assert sids == ["Theirs", "KakuninTlsOnly", "KakuninNoDeleteWriteOnce"]
    [rule] = s3.get_bucket_encryption(Bucket="drift-main")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/kakunin"}
    assert _changed(s3, "s3://drift-main", kms_key_id="alias/kakunin") == []


def test_a_dry_run_reports_what_would_change_and_changes_nothing(endpoint: str, s3: Any) -> None:
    done = _kakunin(endpoint, "infra", "bootstrap", "--dry-run", KAKUNIN_STORAGE="s3://dry-main")
    assert done.returncode == 0, done.stderr
    assert "dry-main" in done.stdout
    assert "would create" in done.stdout
    assert "would change 7 setting(s)" in done.stdout
    assert "dry-main" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param((), {}, "Missing option '--storage'", id="no-storage"),
        pytest.param((), {"KAKUNIN_STORAGE": "file:///srv/kakunin"}, "must be an s3://", id="file-url"),
        pytest.param(
            (), {"KAKUNIN_STORAGE": "s3://ok-name", "KAKUNIN_S3_ZONE_BUCKETS": "{"}, "not JSON", id="bad-json"
        ),
        pytest.param(("--retention-days", "-1"), {"KAKUNIN_STORAGE": "s3://ok-name"}, "-1", id="negative-days"),
    ],
)
def test_bad_bootstrap_input_is_a_clear_error_without_a_traceback(
    endpoint: str, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    done = _kakunin(endpoint, "infra", "bootstrap", *args, **env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_endpoint_is_a_storage_error_in_json(endpoint: str) -> None:
    closed = re.sub(r":\d+$", ":9", endpoint)  # the discard port: nothing listens on loopback
    done = _kakunin(closed, "infra", "bootstrap", "--json", KAKUNIN_STORAGE="s3://nowhere-main", AWS_MAX_ATTEMPTS="1")
    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "storage"
    assert "nowhere-main" in error["message"]


@pytest.fixture
def locked_bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    """A bucket with Object Lock and no bucket policy, so any refusal below is the lock's alone."""
    name = "locks-" + re.sub(r"[^a-z0-9]", "-", request.node.name.lower())[:40].strip("-")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _delete_version(s3: Any, bucket: str, key: str, version: str) -> str:
    try:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "deleted"


def test_a_locked_receipt_cannot_be_deleted_and_an_unlocked_one_is_reported(s3: Any, locked_bucket: str) -> None:
    locked = s3.put_object(Bucket=locked_bucket, Key="lineage/receipts/a.json", Body=b"{}")
    s3.put_object(Bucket=locked_bucket, Key="lineage/receipts/b.json", Body=b"{}")
    lock_until(s3, locked_bucket, "lineage/receipts/a.json", date(2031, 3, 31), mode="COMPLIANCE")

    head = s3.head_object(Bucket=locked_bucket, Key="lineage/receipts/a.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == datetime(2031, 4, 1, tzinfo=UTC)  # kept through 31 March
    assert _delete_version(s3, locked_bucket, "lineage/receipts/a.json", locked["VersionId"]) == "AccessDenied"
    assert unlocked_objects(s3, locked_bucket, "lineage/", as_of=NOW) == ["lineage/receipts/b.json"]
    assert s3.get_object(Bucket=locked_bucket, Key="lineage/receipts/a.json")["Body"].read() == b"{}"
    # after keep_until the same lock no longer counts: the purge may remove the record
    later = datetime(2031, 4, 2, tzinfo=UTC)
    assert unlocked_objects(s3, locked_bucket, "lineage/", as_of=later) == [
        "lineage/receipts/a.json",
        "lineage/receipts/b.json",
    ]


def test_a_legal_hold_blocks_deletion_until_it_is_cleared(s3: Any, locked_bucket: str) -> None:
    keys = ["curated/leads/x.parquet", "curated/leads/y.parquet"]
    versions = {key: s3.put_object(Bucket=locked_bucket, Key=key, Body=b"data")["VersionId"] for key in keys}
    assert set_legal_holds(s3, locked_bucket, keys, on=True) == keys
    assert unlocked_objects(s3, locked_bucket, "curated/", as_of=NOW) == []
    assert _delete_version(s3, locked_bucket, keys[0], versions[keys[0]]) == "AccessDenied"

    set_legal_holds(s3, locked_bucket, keys[:1], on=False)
    assert unlocked_objects(s3, locked_bucket, "curated/", as_of=NOW) == keys[:1]
    assert _delete_version(s3, locked_bucket, keys[0], versions[keys[0]]) == "deleted"
    assert _delete_version(s3, locked_bucket, keys[1], versions[keys[1]]) == "AccessDenied"


def test_the_lineage_bucket_locks_every_new_object_by_default(s3: Any) -> None:
    zone_buckets = {"lineage": "deflock-lineage", "audit": "deflock-lineage"}
    _changed(s3, "s3://deflock-main", zone_buckets, retention_days=30, tls_only=False)
    s3.put_object(Bucket="deflock-lineage", Key="lineage/chain/0001.json", Body=b"{}")
    s3.put_object(Bucket="deflock-main", Key="curated/leads/x.parquet", Body=b"data")
    assert unlocked_objects(s3, "deflock-lineage", "", as_of=NOW) == []
    assert unlocked_objects(s3, "deflock-main", "", as_of=NOW) == ["curated/leads/x.parquet"]
    head = s3.head_object(Bucket="deflock-lineage", Key="lineage/chain/0001.json")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=29)


def test_a_plain_existing_bucket_is_versioned_then_locked(s3: Any) -> None:
    # Empty: moto refuses Object Lock on a bucket holding objects (AWS allows it on a versioned bucket).
    s3.create_bucket(Bucket="legacy-main")
    assert _changed(s3, "s3://legacy-main")[:2] == ["legacy-main:versioning", "legacy-main:object_lock"]
    assert s3.get_object_lock_configuration(Bucket="legacy-main")["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }
    assert s3.get_bucket_versioning(Bucket="legacy-main")["Status"] == "Enabled"
    assert _changed(s3, "s3://legacy-main") == []


def test_plain_http_leaves_out_only_the_tls_statement(s3: Any) -> None:
    _changed(s3, "s3://plain-main")
    assert _changed(s3, "s3://plain-main", tls_only=False) == ["plain-main:policy"]
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket="plain-main")["Policy"])["Statement"]]
    assert sids == ["KakuninNoDeleteWriteOnce"]


def test_kakunin_infra_unlocked_names_the_lineage_object_without_a_lock(endpoint: str, s3: Any) -> None:
    zone_buckets = {"audit": "report-lineage", "lineage": "report-lineage"}
    _changed(s3, "s3://report-main/prod", zone_buckets, retention_days=0, tls_only=False)  # no default retention
    s3.put_object(Bucket="report-lineage", Key="prod/lineage/receipts/locked.json", Body=b"{}")
    s3.put_object(Bucket="report-lineage", Key="prod/lineage/receipts/bare.json", Body=b"{}")
    s3.put_object(Bucket="report-main", Key="prod/curated/leads/x.parquet", Body=b"data")  # not a zone checked
    lock_until(s3, "report-lineage", "prod/lineage/receipts/locked.json", date(2099, 1, 1))
    env = {"KAKUNIN_STORAGE": "s3://report-main/prod", "KAKUNIN_S3_ZONE_BUCKETS": json.dumps(zone_buckets)}

    done = _kakunin(endpoint, "infra", "unlocked", "--json", **env)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["unlocked"] == [
        {"bucket": "report-lineage", "key": "prod/lineage/receipts/bare.json"}
    ]
    lock_until(s3, "report-lineage", "prod/lineage/receipts/bare.json", date(2099, 1, 1))
    done = _kakunin(endpoint, "infra", "unlocked", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 unlocked object(s)"
