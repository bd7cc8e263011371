"""Which store `KAKUNIN_STORAGE` names: a local folder (`file:///srv/kakunin`) or S3 (`s3://bucket/prefix`).

One bucket per zone is a small JSON map in `KAKUNIN_S3_ZONE_BUCKETS`
(`{"lineage": "acme-lineage", "audit": "acme-audit"}`): keys of a mapped zone go to its
bucket (under the same prefix), every other zone to the URL's bucket. Without
`KAKUNIN_STORAGE` the store is the folder `KAKUNIN_HOME`, else `./var`.

Object Lock on S3: `KAKUNIN_S3_LOCK_MODE` (GOVERNANCE, the default, or COMPLIANCE) is the mode
of every lock the store sets, and `KAKUNIN_S3_LOCK_DAYS` (default 1095, three years: the
receipt record's keeping period) how long a write into the lineage or audit zone is locked
at least (see `kakunin.storage.s3`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kakunin.errors import ConfigError

STORAGE_ENV = "KAKUNIN_STORAGE"
ZONE_BUCKETS_ENV = "KAKUNIN_S3_ZONE_BUCKETS"
KMS_KEY_ENV = "KAKUNIN_S3_KMS_KEY_ID"
LOCK_MODE_ENV = "KAKUNIN_S3_LOCK_MODE"
LOCK_DAYS_ENV = "KAKUNIN_S3_LOCK_DAYS"
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
DEFAULT_LOCK_DAYS = 1095
ZONES = frozenset(
    {
        "landing",
        "work",
        "curated",
        "quarantine",
        "lineage",
        "audit",
        "journal",
        "locks",
        "provenance",
        "reports",
        "subjects",
        "exports",
    }
)  # the first part of every key `kakunin.layout` builds
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_EXAMPLES = "file:///srv/kakunin or s3://bucket/prefix"


@dataclass(frozen=True)
class S3Location:
    """Where an S3 store lives: its bucket, a key prefix and the zones kept in buckets of their own."""

    bucket: str
    prefix: str = ""
    zone_buckets: dict[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None
    lock_mode: str = "GOVERNANCE"
    lock_days: int = DEFAULT_LOCK_DAYS


def check_bucket(name: str, where: str) -> str:
    """`name` if it is a valid S3 bucket name; a `ConfigError` naming `where` it came from otherwise."""
    if not _BUCKET.fullmatch(name) or ".." in name:
        raise ConfigError(f"{where}: {name!r} is not a valid S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    return name


def parse_storage_url(url: str) -> Path | S3Location:
    """The folder or S3 location `url` names; `ConfigError` with the accepted forms otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path.startswith("/"):
            raise ConfigError(f"{STORAGE_ENV}={url!r}: a file URL needs an absolute path (file:///srv/kakunin)")
        return Path(unquote(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"{STORAGE_ENV}={url!r}: an S3 URL needs a bucket (s3://bucket/prefix)")
        if parts.query or parts.fragment:
            raise ConfigError(f"{STORAGE_ENV}={url!r}: an S3 URL takes no query or fragment")
        prefix = parts.path.strip("/")
        if any(p in {"", ".", ".."} for p in prefix.split("/")) and prefix:
            raise ConfigError(f"{STORAGE_ENV}={url!r}: the prefix has an empty, '.' or '..' part")
        return S3Location(
            bucket=check_bucket(parts.netloc, STORAGE_ENV),
            prefix=prefix,
            zone_buckets=zone_buckets_from_env(),
            kms_key_id=os.environ.get(KMS_KEY_ENV) or None,
            lock_mode=lock_mode_from_env(),
            lock_days=lock_days_from_env(),
        )
    raise ConfigError(f"{STORAGE_ENV}={url!r} is not a store URL; use {_EXAMPLES}")


def zone_buckets_from_env() -> dict[str, str]:
    """`KAKUNIN_S3_ZONE_BUCKETS` as a zone → bucket map (empty when unset)."""
    return parse_zone_buckets(os.environ.get(ZONE_BUCKETS_ENV))


def parse_zone_buckets(raw: str | None, where: str = ZONE_BUCKETS_ENV) -> dict[str, str]:
    """A zone → bucket JSON map (from the environment or an option named `where`), checked: known zones,
    valid bucket names. Empty when `raw` is empty."""
    if not raw or not raw.strip():
        return {}
    try:
        found = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f'{where} is not JSON ({exc.msg}); e.g. \'{{"lineage": "b-lineage"}}\'') from exc
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise ConfigError(f"{where} must be a JSON object of zone names to bucket names")
    unknown = sorted(set(found) - ZONES)
    if unknown:
        raise ConfigError(f"{where} names unknown zone(s) {', '.join(unknown)}; zones: {', '.join(sorted(ZONES))}")
    return {zone: check_bucket(bucket, where) for zone, bucket in found.items()}


def lock_mode_from_env() -> str:
    """`KAKUNIN_S3_LOCK_MODE` (GOVERNANCE when unset); anything else than the two modes is a ConfigError."""
    mode = (os.environ.get(LOCK_MODE_ENV) or "GOVERNANCE").strip().upper()
    if mode not in LOCK_MODES:
        raise ConfigError(f"{LOCK_MODE_ENV}={os.environ.get(LOCK_MODE_ENV)!r}: use GOVERNANCE or COMPLIANCE")
    return mode


def lock_days_from_env() -> int:
    """`KAKUNIN_S3_LOCK_DAYS` (1095 when unset): a whole number of days, at least 1."""
    raw = (os.environ.get(LOCK_DAYS_ENV) or "").strip()
    if not raw:
        return DEFAULT_LOCK_DAYS
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{LOCK_DAYS_ENV}={raw!r}: a whole number of days, at least 1 (default {DEFAULT_LOCK_DAYS})")
    return int(raw)
