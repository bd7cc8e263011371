"""What the buckets should look like: which buckets hold which zones, and each bucket's wanted settings.

Pure: built from the storage URL, the zone-to-bucket map and the options, never from the network.
`KAKUNIN_STORAGE=s3://bucket/prefix` names the main bucket and the key prefix; the optional
`KAKUNIN_S3_ZONE_BUCKETS` JSON map (`{"lineage": "b-lineage", ...}`) moves a top-level zone into
its own bucket. Every bucket gets Object Lock enabled (legal holds need it, on curated data too);
only a bucket that holds nothing but the write-once zones (lineage, audit) gets a default
retention, since a default on a shared bucket would also lock data the purge must delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kakunin import layout
from kakunin.errors import ConfigError
from kakunin.infra.policies import bucket_statements
from kakunin.storage import config as storage_config

LockMode = Literal["GOVERNANCE", "COMPLIANCE"]

# The top-level folders of the store (kakunin.layout), and the two that are write-once.
LINEAGE_ZONE = layout.MANIFESTS.partition("/")[0]
AUDIT_ZONE = layout.AUDIT_CHAIN.partition("/")[0]
WRITE_ONCE_ZONES = (LINEAGE_ZONE, AUDIT_ZONE)
ZONES = tuple(
    sorted(
        {
            key.partition("/")[0]
            for key in (
                layout.LANDING,
                layout.WORK,
                layout.QUARANTINE,
                layout.CURATED,
                layout.PROVENANCE,
                layout.MANIFESTS,
                layout.AUDIT_CHAIN,
                layout.RETENTION_JOURNAL,
                layout.LOCKS,
                layout.SUBJECTS,
                layout.GX_REPORTS,
                layout.EXPORTS,
            )
        }
    )
)


@dataclass(frozen=True)
class Options:
    """The operator's choices for every bucket."""

    kms_key_id: str | None = None
    lock_mode: LockMode = "GOVERNANCE"
    retention_days: int = 365
    abort_multipart_days: int = 7
    delete_exempt: tuple[str, ...] = ()  # principal ARNs (the pipeline's role) the no-delete policy lets through
    tls_only: bool = True  # False only for a plain-HTTP endpoint on loopback (moto, a dev MinIO)


@dataclass(frozen=True)
class BucketSpec:
    """One bucket and the settings it must end up with."""

    name: str
    zones: tuple[str, ...]  # the zones whose keys live in this bucket
    prefix: str  # the key prefix inside the bucket ("" or ending in "/")
    encryption: dict[str, object]
    default_retention: tuple[LockMode, int] | None
    abort_multipart_days: int
    policy_statements: tuple[dict[str, object], ...] = field(default=())


def _holds_only_write_once(zones: list[str]) -> bool:
    return bool(zones) and set(zones) <= set(WRITE_ONCE_ZONES)


def parse_storage_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, "prefix/"), parsed as the store parses it; a file URL or anything
    else is a ConfigError naming the URL."""
    location = storage_config.parse_storage_url(url)
    if not isinstance(location, storage_config.S3Location):
        raise ConfigError(f"KAKUNIN_STORAGE must be an s3://bucket[/prefix] URL for bootstrap, got {url!r}")
    return location.bucket, f"{location.prefix}/" if location.prefix else ""


def parse_zone_buckets(text: str | None) -> dict[str, str]:
    """The `KAKUNIN_S3_ZONE_BUCKETS` JSON object, checked as the store checks it."""
    return storage_config.parse_zone_buckets(text)


def bucket_specs(storage_url: str, zone_buckets: dict[str, str], options: Options) -> list[BucketSpec]:
    """Every bucket the store uses, with its wanted settings, in a stable order (main bucket first)."""
    main, prefix = parse_storage_url(storage_url)
    zones_of: dict[str, list[str]] = {main: []}
    for zone in ZONES:
        zones_of.setdefault(zone_buckets.get(zone, main), []).append(zone)
    if options.kms_key_id:
        encryption: dict[str, object] = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": options.kms_key_id}
    else:
        encryption = {"SSEAlgorithm": "AES256"}
    specs = []
    for name, zones in zones_of.items():
        write_once_only = _holds_only_write_once(zones)
        retention = (options.lock_mode, options.retention_days) if write_once_only and options.retention_days else None
        statements = bucket_statements(
            bucket=name,
            prefix=prefix,
            write_once=[z for z in zones if z in WRITE_ONCE_ZONES],
            whole_bucket=write_once_only,
            delete_exempt=options.delete_exempt,
            tls_only=options.tls_only,
        )
        specs.append(
            BucketSpec(
                name=name,
                zones=tuple(zones),
                prefix=prefix,
                encryption=encryption,
                default_retention=retention,
                abort_multipart_days=options.abort_multipart_days,
                policy_statements=tuple(statements),
            )
        )
    return specs


def zone_location(storage_url: str, zone_buckets: dict[str, str], zone: str) -> tuple[str, str]:
    """Where a zone's keys live: (bucket, key prefix ending in "/")."""
    if zone not in ZONES:
        raise ConfigError(f"unknown zone {zone!r}; zones are {list(ZONES)}")
    main, prefix = parse_storage_url(storage_url)
    return zone_buckets.get(zone, main), f"{prefix}{zone}/"
