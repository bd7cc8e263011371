"""`kakunin infra bootstrap`: make the S3 buckets ready for Kakunin, idempotently.

The buckets come from `KAKUNIN_STORAGE` (`s3://bucket/prefix`) and `KAKUNIN_S3_ZONE_BUCKETS`,
the same settings the store reads, so the bucket bootstrapped is the bucket used. The S3
client comes from the standard AWS environment (`AWS_ENDPOINT_URL` for MinIO or a local
endpoint, `AWS_PROFILE` or keys, `AWS_REGION`).
"""

from __future__ import annotations

import click

from kakunin.cli.base import WholeHelpGroup, emit_json, finish, json_option
from kakunin.infra.plan import Change

_PAST = {"create": "created", "set": "set", "unchanged": "unchanged"}
_FUTURE = {"create": "would create", "set": "would set", "unchanged": "unchanged"}


@click.group(cls=WholeHelpGroup)
def infra() -> None:
    """Prepare S3 for Kakunin: buckets, encryption, Object Lock and policies."""


@infra.command()
@click.option(
    "--storage",
    "storage_url",
    envvar="KAKUNIN_STORAGE",
    required=True,
    metavar="s3://BUCKET[/PREFIX]",
    help="The store's main bucket and key prefix (default: $KAKUNIN_STORAGE).",
)
@click.option(
    "--zone-buckets",
    envvar="KAKUNIN_S3_ZONE_BUCKETS",
    default=None,
    metavar="JSON",
    help='Zones kept in their own bucket, e.g. \'{"lineage": "acme-lineage"}\' (default: $KAKUNIN_S3_ZONE_BUCKETS).',
)
@click.option(
    "--kms-key-id",
    envvar="KAKUNIN_S3_KMS_KEY_ID",
    default=None,
    help="Default encryption SSE-KMS with this key (id, ARN or alias); without it SSE-S3 (AES256).",
)
@click.option(
    "--lock-mode",
    type=click.Choice(["GOVERNANCE", "COMPLIANCE"]),
    default="GOVERNANCE",
    show_default=True,
    help="Object Lock mode of the default retention on lineage/audit-only buckets (COMPLIANCE cannot be lifted).",
)
@click.option(
    "--retention-days",
    type=click.IntRange(min=0),
    default=365,
    show_default=True,
    help="Default retention on buckets that hold only lineage/audit; 0 for none (objects locked one by one).",
)
@click.option(
    "--abort-multipart-days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Lifecycle: abort multipart uploads left incomplete this many days.",
)
@click.option(
    "--delete-exempt",
    multiple=True,
    metavar="ARN",
    help="A principal ARN (the pipeline's role) the lineage/audit no-delete policy lets through; repeatable.",
)
@click.option(
    "--allow-plain-http",
    is_flag=True,
    help="Leave out the TLS-only policy: for a plain-HTTP loopback endpoint (moto, a dev MinIO), never production.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change and change nothing.")
@json_option
def bootstrap(
    storage_url: str,
    zone_buckets: str | None,
    kms_key_id: str | None,
    lock_mode: str,
    retention_days: int,
    abort_multipart_days: int,
    delete_exempt: tuple[str, ...],
    allow_plain_http: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Create or fix the store's buckets; a second run reports everything unchanged.

    Each bucket gets versioning, default encryption, a public-access block, Object Lock,
    a lifecycle rule aborting incomplete multipart uploads, a TLS-only bucket policy, and a
    no-delete policy on the lineage and audit zones. Settings of others (other lifecycle
    rules, other policy statements) are kept.
    """
    from kakunin.infra import Options, bucket_specs, parse_zone_buckets, s3_client
    from kakunin.infra import bootstrap as run_bootstrap

    options = Options(
        kms_key_id=kms_key_id or None,
        lock_mode="COMPLIANCE" if lock_mode == "COMPLIANCE" else "GOVERNANCE",
        retention_days=retention_days,
        abort_multipart_days=abort_multipart_days,
        delete_exempt=delete_exempt,
        tls_only=not allow_plain_http,
    )
    specs = bucket_specs(storage_url, parse_zone_buckets(zone_buckets), options)
    changes = run_bootstrap(s3_client(), specs, dry_run=dry_run)
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "buckets": [{"name": spec.name, "zones": list(spec.zones)} for spec in specs],
                "changes": [change.as_dict() for change in changes],
                "changed": sum(change.action != "unchanged" for change in changes),
            }
        )
    else:
        click.echo(format_changes(changes, dry_run=dry_run))


@infra.command()
@click.option("--storage", "storage_url", envvar="KAKUNIN_STORAGE", required=True, metavar="s3://BUCKET[/PREFIX]",
              help="The store's main bucket and key prefix (default: $KAKUNIN_STORAGE).")  # fmt: skip
@click.option("--zone-buckets", envvar="KAKUNIN_S3_ZONE_BUCKETS", default=None, metavar="JSON",
              help="Zones kept in their own bucket (default: $KAKUNIN_S3_ZONE_BUCKETS).")  # fmt: skip
@click.option(
    "--zone",
    "zones",
    multiple=True,
    default=("lineage", "audit"),
    show_default=True,
    help="A zone to check; repeatable.",
)
@json_option
def unlocked(storage_url: str, zone_buckets: str | None, zones: tuple[str, ...], as_json: bool) -> None:
    """List the objects S3 would let anyone delete now: no running retention, no legal hold.

    Exit 1 when there is one. In lineage and audit every object should be locked, by the
    bucket's default retention or one by one (a receipt until its keep_until).
    """
    from kakunin.clock import now_utc
    from kakunin.infra import parse_zone_buckets, s3_client
    from kakunin.infra.locks import unlocked_objects
    from kakunin.infra.spec import zone_location

    mapping = parse_zone_buckets(zone_buckets)
    locations = [zone_location(storage_url, mapping, zone) for zone in zones]
    client, as_of = s3_client(), now_utc()
    found = [
        (bucket, key) for bucket, prefix in locations for key in unlocked_objects(client, bucket, prefix, as_of=as_of)
    ]
    if as_json:
        emit_json({"as_of": as_of.isoformat(), "unlocked": [{"bucket": b, "key": k} for b, k in found]})
    else:
        click.echo("\n".join([*(f"unlocked: s3://{b}/{k}" for b, k in found), f"{len(found)} unlocked object(s)"]))
    finish(not found)


def format_changes(changes: list[Change], *, dry_run: bool) -> str:
    """One line per bucket setting, then a summary line."""
    words = _FUTURE if dry_run else _PAST
    lines = [f"{c.bucket:<30} {c.setting:<20} {words[c.action]:<13} {c.detail}" for c in changes]
    count = sum(change.action != "unchanged" for change in changes)
    verb = "would change" if dry_run else "changed"
    lines.append(f"{verb} {count} setting(s); {len(changes) - count} unchanged")
    return "\n".join(lines)
