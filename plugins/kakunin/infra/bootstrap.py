"""Bootstrap's I/O: read each bucket's settings from S3, and apply a plan's changes. Thin on purpose.

The decisions live in `kakunin.infra.plan` (pure); this module only asks S3 what is there
(`observe`) and sends what the plan says (`apply_change`). botocore errors are translated
once here into `StorageError`, naming the bucket and the operation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kakunin.errors import StorageError
from kakunin.infra.plan import Change, Observed, plan
from kakunin.infra.spec import BucketSpec
from kakunin.yaml_io import json_text

_ABSENT = {
    "ServerSideEncryptionConfigurationNotFoundError",
    "ObjectLockConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchLifecycleConfiguration",
    "NoSuchBucketPolicy",
}


def s3_client() -> Any:
    """An S3 client from the standard AWS environment (AWS_ENDPOINT_URL, AWS_PROFILE, keys, region)."""
    import boto3
    from botocore.config import Config

    with translated("create an S3 client"):
        return boto3.client("s3", config=Config(retries={"mode": "adaptive"}))


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn botocore's errors into StorageError with a message a user can act on."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise StorageError(f"S3 refused to {what}: {error.get('Code', '?')}: {error.get('Message', '')}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"could not {what}: {exc}") from exc


def _optional(call: Callable[[], Any]) -> Any:
    """The answer of `call`, or None when S3 says the setting is not configured."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _ABSENT:
            return None
        raise


def bucket_exists(client: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or exc.response.get("Error", {}).get("Code") in {"404", "NoSuchBucket"}:
            return False
        if status == 403:
            raise StorageError(f"bucket {bucket!r} exists but this identity may not use it (403)") from exc
        raise
    return True


def observe(client: Any, bucket: str) -> Observed:
    """What S3 says bucket `bucket` has now."""
    with translated(f"read the settings of bucket {bucket!r}"):
        if not bucket_exists(client, bucket):
            return Observed(exists=False)
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status")
        lock = _optional(lambda: client.get_object_lock_configuration(Bucket=bucket)) or {}
        encryption = _optional(lambda: client.get_bucket_encryption(Bucket=bucket)) or {}
        block = _optional(lambda: client.get_public_access_block(Bucket=bucket)) or {}
        lifecycle = _optional(lambda: client.get_bucket_lifecycle_configuration(Bucket=bucket)) or {}
        policy = _optional(lambda: client.get_bucket_policy(Bucket=bucket))
    lock_config = lock.get("ObjectLockConfiguration", {})
    rules = encryption.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return Observed(
        exists=True,
        versioning=versioning,
        object_lock=lock_config.get("ObjectLockEnabled") == "Enabled",
        default_retention=_retention_days(lock_config.get("Rule", {}).get("DefaultRetention")),
        encryption=rules[0] if rules else None,
        public_access_block=block.get("PublicAccessBlockConfiguration"),
        lifecycle_rules=tuple(lifecycle.get("Rules", [])),
        policy=json.loads(policy["Policy"]) if policy else None,
    )


def _retention_days(retention: dict[str, Any] | None) -> tuple[str, int] | None:
    """A default retention as (mode, days); S3 may state it in years (counted as 365 days)."""
    if not retention:
        return None
    days = int(retention.get("Days") or 0) + 365 * int(retention.get("Years") or 0)
    return (str(retention.get("Mode")), days)


def apply_change(client: Any, change: Change) -> None:
    """Send one planned change to S3; `unchanged` sends nothing."""
    if change.action == "unchanged":
        return
    bucket = change.bucket
    what = "create" if change.setting == "bucket" else f"set {change.setting} on"
    with translated(f"{what} bucket {bucket!r}"):
        if change.setting == "bucket":
            _create_bucket(client, bucket)
        elif change.setting == "versioning":
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": change.value})
        elif change.setting == "object_lock":
            client.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=change.value)
        elif change.setting == "encryption":
            client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=change.value)
        elif change.setting == "public_access_block":
            client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=change.value)
        elif change.setting == "lifecycle":
            client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=change.value)
        elif change.setting == "policy" and change.value:
            client.put_bucket_policy(Bucket=bucket, Policy=json_text(change.value, indent=None))
        elif change.setting == "policy":
            client.delete_bucket_policy(Bucket=bucket)


def _create_bucket(client: Any, bucket: str) -> None:
    """Create with Object Lock on from the start (which also turns versioning on)."""
    arguments: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
    region = client.meta.region_name
    if region and region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(**arguments)


def bootstrap(client: Any, specs: list[BucketSpec], *, dry_run: bool = False) -> list[Change]:
    """Observe every bucket, plan, and (unless `dry_run`) apply; returns the plan that was carried out."""
    changes = plan(specs, {spec.name: observe(client, spec.name) for spec in specs})
    if not dry_run:
        for change in changes:
            apply_change(client, change)
    return changes
