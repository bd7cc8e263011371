"""The bootstrap plan: what a bucket has, what it must have, and what to change. Pure.

`plan_bucket(spec, observed)` compares one bucket's wanted settings (`BucketSpec`) with what
S3 answered (`Observed`) and returns one `Change` per setting, each `create`, `set` or
`unchanged`, carrying the exact value to send. Applying a plan and observing again yields a
plan of `unchanged` only; that is what makes bootstrap idempotent, and it is tested here
without a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kakunin.infra.policies import is_ours
from kakunin.infra.spec import BucketSpec
from kakunin.yaml_io import json_text

Action = Literal["create", "set", "unchanged"]
Setting = Literal["bucket", "versioning", "object_lock", "encryption", "public_access_block", "lifecycle", "policy"]
SETTINGS: tuple[Setting, ...] = (
    "bucket",
    "versioning",
    "object_lock",
    "encryption",
    "public_access_block",
    "lifecycle",
    "policy",
)  # the order they are applied in: Object Lock needs versioning, the policy comes last
LIFECYCLE_RULE_ID = "kakunin-abort-incomplete-multipart"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
POLICY_VERSION = "2012-10-17"
_POLICY_PARTS = {"KakuninTlsOnly": "TLS only", "KakuninNoDeleteWriteOnce": "no delete in lineage/audit"}


@dataclass(frozen=True)
class Observed:
    """What S3 said about one bucket (None or empty where a setting is absent)."""

    exists: bool
    versioning: str | None = None
    object_lock: bool = False
    default_retention: tuple[str, int] | None = None  # (mode, days)
    encryption: dict[str, Any] | None = None  # the first rule, as S3 returns it
    public_access_block: dict[str, bool] | None = None
    lifecycle_rules: tuple[dict[str, Any], ...] = ()
    policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class Change:
    """One setting of one bucket: the action and the value `apply` sends (None for unchanged)."""

    bucket: str
    setting: Setting
    action: Action
    detail: str
    value: Any = field(default=None, compare=False)

    def as_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "setting": self.setting, "action": self.action, "detail": self.detail}


def plan(specs: list[BucketSpec], observed: dict[str, Observed]) -> list[Change]:
    """Every change for every bucket, in apply order."""
    return [change for spec in specs for change in plan_bucket(spec, observed[spec.name])]


def plan_bucket(spec: BucketSpec, seen: Observed) -> list[Change]:
    """One Change per setting of `spec`, compared with what `seen` says the bucket has."""
    name = spec.name
    changes = [Change(name, "bucket", "unchanged" if seen.exists else "create", f"zones {', '.join(spec.zones)}")]
    changes.append(_compare(name, "versioning", seen.versioning == "Enabled", "Enabled", "Enabled"))
    changes.append(_object_lock(spec, seen))
    changes.append(_encryption(spec, seen))
    blocked = seen.public_access_block == PUBLIC_ACCESS_BLOCK
    changes.append(_compare(name, "public_access_block", blocked, PUBLIC_ACCESS_BLOCK, "all four blocks on"))
    changes.append(_lifecycle(spec, seen))
    changes.append(_policy(spec, seen))
    return changes


def _compare(bucket: str, setting: Setting, same: bool, value: Any, detail: str) -> Change:
    return Change(bucket, setting, "unchanged" if same else "set", detail, None if same else value)


def _object_lock(spec: BucketSpec, seen: Observed) -> Change:
    wanted: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    detail = "enabled, no default retention (objects are locked one by one)"
    if spec.default_retention:
        mode, days = spec.default_retention
        wanted["Rule"] = {"DefaultRetention": {"Mode": mode, "Days": days}}
        detail = f"enabled, default retention {mode} {days} days"
    same = seen.object_lock and seen.default_retention == spec.default_retention
    return _compare(spec.name, "object_lock", same, wanted, detail)


def encryption_rule(spec: BucketSpec) -> dict[str, Any]:
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": dict(spec.encryption)}
    if spec.encryption.get("SSEAlgorithm") == "aws:kms":
        rule["BucketKeyEnabled"] = True
    return rule


def _encryption(spec: BucketSpec, seen: Observed) -> Change:
    wanted = encryption_rule(spec)

    def key(rule: dict[str, Any] | None) -> tuple[Any, ...]:
        default = (rule or {}).get("ApplyServerSideEncryptionByDefault", {})
        kms = default.get("SSEAlgorithm") == "aws:kms"
        return (
            default.get("SSEAlgorithm"),
            default.get("KMSMasterKeyID"),
            kms and bool(rule and rule.get("BucketKeyEnabled")),
        )

    algorithm = spec.encryption["SSEAlgorithm"]
    detail = f"SSE-KMS with {spec.encryption['KMSMasterKeyID']}" if algorithm == "aws:kms" else "SSE-S3 (AES256)"
    return _compare(spec.name, "encryption", key(seen.encryption) == key(wanted), {"Rules": [wanted]}, detail)


def _lifecycle(spec: BucketSpec, seen: Observed) -> Change:
    ours = {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": spec.abort_multipart_days},
    }
    found = [rule for rule in seen.lifecycle_rules if rule.get("ID") == LIFECYCLE_RULE_ID]
    same = len(found) == 1 and _lifecycle_key(found[0]) == _lifecycle_key(ours)
    others = [rule for rule in seen.lifecycle_rules if rule.get("ID") != LIFECYCLE_RULE_ID]
    detail = f"abort incomplete multipart uploads after {spec.abort_multipart_days} days"
    return _compare(spec.name, "lifecycle", same, {"Rules": [*others, ours]}, detail)


def _lifecycle_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
    days = (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")
    return (rule.get("Status"), prefix, days)


def _policy(spec: BucketSpec, seen: Observed) -> Change:
    statements = list((seen.policy or {}).get("Statement", []))
    if isinstance(statements, dict):  # a policy may hold one statement as an object
        statements = [statements]
    current = [s for s in statements if is_ours(s)]
    wanted = list(spec.policy_statements)
    same = _canonical(current) == _canonical(wanted)
    kept = [*(s for s in statements if not is_ours(s)), *wanted]
    document = {"Version": POLICY_VERSION, "Statement": kept} if kept else {}  # {}: delete the policy
    sids = {str(s["Sid"]) for s in wanted}
    parts = [text for sid, text in _POLICY_PARTS.items() if sid in sids]
    return _compare(spec.name, "policy", same, document, ", ".join(parts) or "none of Kakunin's statements")


def _canonical(value: Any) -> str:
    """A policy fragment as text that ignores what S3 may rewrite: key order, one-item lists, list order."""

    def norm(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: norm(item[k]) for k in sorted(item)}
        if isinstance(item, list):
            items = [norm(v) for v in item]
            if len(items) == 1 and not isinstance(items[0], dict):
                return items[0]
            return sorted(items, key=lambda v: json_text(v, indent=None))
        return item

    return json_text(norm(value), indent=None)
