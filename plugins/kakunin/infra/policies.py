"""Bucket policy statements Kakunin owns: TLS only everywhere, and no deletes in lineage and audit.

Every statement's Sid starts with `Kakunin`, so bootstrap can replace its own statements and
leave anyone else's in the same policy alone. Both are Deny statements: they never grant.
"""

from __future__ import annotations

SID_PREFIX = "Kakunin"
NO_DELETE_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention")


def tls_only_statement(bucket: str) -> dict[str, object]:
    """Refuse every request that does not arrive over TLS (aws:SecureTransport is false)."""
    return {
        "Sid": f"{SID_PREFIX}TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def no_delete(resources: list[str], delete_exempt: tuple[str, ...]) -> dict[str, object]:
    """Refuse deletes (and bypassing governance retention) of lineage and audit objects.

    `delete_exempt` names the principals (the pipeline's role) that may still delete, which the
    purge needs for receipt records whose `keep_until` has passed; Object Lock still refuses
    them while a record is locked.
    """
    statement: dict[str, object] = {
        "Sid": f"{SID_PREFIX}NoDeleteWriteOnce",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(NO_DELETE_ACTIONS),
        "Resource": resources,
    }
    if delete_exempt:
        statement["Condition"] = {"ArnNotLike": {"aws:PrincipalArn": list(delete_exempt)}}
    return statement


def bucket_statements(
    *,
    bucket: str,
    prefix: str,
    write_once: list[str],
    whole_bucket: bool,
    delete_exempt: tuple[str, ...],
    tls_only: bool = True,
) -> list[dict[str, object]]:
    """The statements one bucket needs: TLS only, plus no-delete when it holds lineage or audit."""
    statements = [tls_only_statement(bucket)] if tls_only else []
    if whole_bucket:
        statements.append(no_delete([f"arn:aws:s3:::{bucket}/*"], delete_exempt))
    elif write_once:
        resources = [f"arn:aws:s3:::{bucket}/{prefix}{zone}/*" for zone in write_once]
        statements.append(no_delete(resources, delete_exempt))
    return statements


def is_ours(statement: object) -> bool:
    return isinstance(statement, dict) and str(statement.get("Sid", "")).startswith(SID_PREFIX)
