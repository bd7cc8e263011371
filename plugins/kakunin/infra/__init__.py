"""S3 infrastructure for Kakunin: bucket bootstrap and write-once (Object Lock) helpers. Pure boto3.

`bucket_specs` says what the buckets must look like, `plan` compares that with what S3 has
(pure), `bootstrap` observes and applies (I/O). `kakunin.infra.locks` holds the per-object
helpers the store and the CLI call: retention until a date, legal holds, and the objects
that lack a lock. Nothing here imports Airflow; the client comes from the caller or from the
standard AWS environment (`s3_client`).
"""

from __future__ import annotations

from kakunin.infra.bootstrap import bootstrap, observe, s3_client
from kakunin.infra.plan import Change, Observed, plan, plan_bucket
from kakunin.infra.spec import BucketSpec, Options, bucket_specs, parse_storage_url, parse_zone_buckets

__all__ = [
    "BucketSpec",
    "Change",
    "Observed",
    "Options",
    "bootstrap",
    "bucket_specs",
    "observe",
    "parse_storage_url",
    "parse_zone_buckets",
    "plan",
    "plan_bucket",
    "s3_client",
]
