"""The deployment files in infra/: IAM policy documents per role, the compose stack and the Helm values.

The stack files cannot be run here (no image pulls), so they are checked as documents: what
services exist, how they are wired, and that no secret is written in them.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[1] / "infra"


# ── IAM policy documents per role ────────────────────────────────────────────────────

ROLES = ("acquisition-staff", "pipeline", "auditor", "engineer")
WRITE_ACTIONS = (
    "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
    "s3:PutObjectAcl", "s3:PutBucketPolicy", "s3:BypassGovernanceRetention", "s3:AbortMultipartUpload",
    "s3:RestoreObject", "s3:ReplicateObject", "s3:ReplicateDelete",
)  # fmt: skip
BUCKET = "arn:aws:s3:::kakunin-store"


def _policy(role: str) -> dict[str, Any]:
    return dict(json.loads((INFRA / "iam" / f"{role}.json").read_text(encoding="utf-8")))


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """IAM's answer for one action on one resource, conditions aside: an explicit Deny wins, else any Allow."""

    def matches(statement: dict[str, Any]) -> bool:
        actions = _listed(statement["Action"])
        return any(fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatchcase(resource, r) for r in _listed(statement["Resource"])
        )

    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_policy_is_a_valid_iam_document(role: str) -> None:
    policy = _policy(role)
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] in {"Allow", "Deny"}
        assert "Action" in statement  # never NotAction: an Allow with NotAction grants everything else
        assert "Resource" in statement
        assert "NotResource" not in statement
        assert "*" not in _listed(statement["Action"])
        assert "s3:*" not in _listed(statement["Action"])


def test_the_checker_sees_a_wildcard_allow_and_an_explicit_deny() -> None:
    wide = {"Statement": [{"Effect": "Allow", "Action": "s3:Put*", "Resource": f"{BUCKET}/*"}]}
    assert _allows(wide, "s3:PutObject", f"{BUCKET}/curated/x")
    denied = {"Statement": [*wide["Statement"], {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}]}
    assert not _allows(denied, "s3:PutObject", f"{BUCKET}/landing/x")


def test_the_auditor_reads_lineage_audit_and_the_subject_register_and_can_change_nothing() -> None:
    auditor = _policy("auditor")
    for zone in ("lineage", "audit", "subjects"):  # subjects/: keyed digests and request deadlines, for verify
        assert _allows(auditor, "s3:GetObject", f"{BUCKET}/{zone}/manifests/x.json")
    for zone in ("landing", "curated", "quarantine", "provenance"):
        assert not _allows(auditor, "s3:GetObject", f"{BUCKET}/{zone}/x")
    allowed_actions = [a for s in auditor["Statement"] if s["Effect"] == "Allow" for a in _listed(s["Action"])]
    assert [a for a in allowed_actions if re.match(r"s3:(Put|Delete|Bypass|Restore|Replicate)", a)] == []
    assert [a for a in WRITE_ACTIONS if _allows(auditor, a, f"{BUCKET}/lineage/x")] == []


def test_acquisition_staff_may_put_only_under_landing() -> None:
    staff = _policy("acquisition-staff")
    assert _allows(staff, "s3:PutObject", f"{BUCKET}/landing/jp_customer_leads/b1/leads.csv")
    for zone in ("curated", "lineage", "audit", "quarantine", "provenance", "work"):
        assert not _allows(staff, "s3:PutObject", f"{BUCKET}/{zone}/x")
    put_resources = [
        r
        for s in staff["Statement"]
        if s["Effect"] == "Allow" and any(a.startswith("s3:Put") for a in _listed(s["Action"]))
        for r in _listed(s["Resource"])
    ]
    assert put_resources == [f"{BUCKET}/landing/*"]
    assert not _allows(staff, "s3:GetObject", f"{BUCKET}/landing/x")  # write only: no reading others' uploads
    assert not _allows(staff, "s3:DeleteObject", f"{BUCKET}/landing/x")


def test_the_pipeline_purges_and_locks_but_never_bypasses_a_lock() -> None:
    pipeline = _policy("pipeline")
    assert _allows(pipeline, "s3:DeleteObjectVersion", f"{BUCKET}/curated/x")
    assert _allows(pipeline, "s3:PutObjectRetention", f"{BUCKET}/lineage/receipts/x")
    assert _allows(pipeline, "s3:PutObjectLegalHold", f"{BUCKET}/curated/x")
    assert not _allows(pipeline, "s3:BypassGovernanceRetention", f"{BUCKET}/lineage/receipts/x")
    assert not _allows(pipeline, "s3:PutBucketObjectLockConfiguration", BUCKET)


def test_the_engineer_runs_the_bootstrap_but_reads_no_personal_data_and_deletes_no_lineage() -> None:
    engineer = _policy("engineer")
    for action in ("s3:CreateBucket", "s3:PutBucketPolicy", "s3:PutBucketObjectLockConfiguration"):
        assert _allows(engineer, action, BUCKET)
    for zone in ("landing", "curated", "quarantine", "provenance"):
        assert not _allows(engineer, "s3:GetObject", f"{BUCKET}/{zone}/x")
    assert _allows(engineer, "s3:GetObject", f"{BUCKET}/lineage/x")
    assert not _allows(engineer, "s3:GetObject", f"{BUCKET}/subjects/index/x")  # digests of people: restricted
    assert not _allows(engineer, "s3:DeleteObjectVersion", f"{BUCKET}/lineage/x")
    assert not _allows(engineer, "s3:PutObject", f"{BUCKET}/landing/x")


# ── the production-like stack files (not run here: no image pulls; checked as YAML) ─────

SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY\b|_KEY_ID|TOKEN|FERNET|CONN")
NOT_SECRET = {"KAKUNIN_S3_KMS_KEY_ID"}  # a key's id or alias, not key material
FROM_ENV = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:\?[^}]*)?\}$")  # ${VAR} or ${VAR:?message}: no default value


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((INFRA / "docker-compose.yaml").read_text(encoding="utf-8")))


def test_the_compose_stack_has_every_service_of_a_celery_deployment() -> None:
    services = _compose()["services"]
    expected = {
        "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
        "airflow-worker-1", "airflow-worker-2", "postgres", "redis", "minio", "kakunin-bootstrap",
    }  # fmt: skip
    assert expected <= set(services)
    commands = {name: " ".join(service.get("command", [])) for name, service in services.items()}
    assert commands["airflow-apiserver"] == "airflow api-server"
    assert commands["airflow-dag-processor"] == "airflow dag-processor"
    assert commands["airflow-worker-1"].startswith("airflow celery worker")
    assert services["airflow-worker-1"]["hostname"] != services["airflow-worker-2"]["hostname"]
    assert commands["kakunin-bootstrap"].startswith("kakunin infra bootstrap")
    for name in ("airflow-scheduler", "airflow-worker-1", "airflow-worker-2"):
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert services[name]["depends_on"]["kakunin-bootstrap"] == {"condition": "service_completed_successfully"}
        assert services[name]["environment"]["KAKUNIN_STORAGE"].startswith("s3://")


def test_no_secret_is_written_in_the_compose_file() -> None:
    services = _compose()["services"]
    leaks = []
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            secret = SECRET_NAME.search(key) and key not in NOT_SECRET
            if secret and value and "://" not in str(value) and not FROM_ENV.match(str(value)):
                leaks.append(f"{name}.{key}")
            for password in re.findall(r"://[^:/@]*:([^@]+)@", str(value)):  # user:password@ in a URL
                if not FROM_ENV.match(password):
                    leaks.append(f"{name}.{key} (URL)")
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert leaks == []


def test_the_secret_check_catches_an_inline_password() -> None:
    assert SECRET_NAME.search("POSTGRES_PASSWORD")
    assert not FROM_ENV.match("airflow")
    assert not FROM_ENV.match("${POSTGRES_PASSWORD:-airflow}")  # a default is an inline secret too
    assert re.findall(r"://[^:/@]*:([^@]+)@", "postgresql://airflow:airflow@postgres/airflow") == ["airflow"]


def test_the_helm_values_run_celery_workers_scaled_by_keda_with_secrets_by_name() -> None:
    values = yaml.safe_load((INFRA / "helm" / "values.yaml").read_text(encoding="utf-8"))
    assert values["executor"] == "CeleryExecutor"
    assert values["workers"]["keda"]["enabled"] is True
    assert values["workers"]["keda"]["minReplicaCount"] >= 2
    assert values["postgresql"]["enabled"] is False
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert values[key]
    assert {"fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"}.isdisjoint(values)
    assert {e["envName"] for e in values["secret"]} == {"KAKUNIN_HMAC_KEY", "KAKUNIN_SIGNING_KEY"}
    assert not [e["name"] for e in values["env"] if e["name"] in {"KAKUNIN_HMAC_KEY", "KAKUNIN_SIGNING_KEY"}]


def test_bootstrap_and_the_store_know_the_same_zones() -> None:
    """A zone the store writes but bootstrap does not know would get no bucket settings (and the reverse)."""
    from kakunin.infra.spec import ZONES as BOOTSTRAP_ZONES
    from kakunin.storage.config import ZONES as STORE_ZONES

    assert set(BOOTSTRAP_ZONES) == set(STORE_ZONES)
