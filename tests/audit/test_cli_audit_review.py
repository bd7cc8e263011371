"""`kakunin audit review|sign-off|reviews` through the real command, on a published store.

A clerk traces records one by one (as a self-declared user, over the policy's bulk-read
threshold); the next morning's review flags them, the clerk may not sign that day off,
a lead does, once. Nothing of the people traced reaches the report.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kakunin.audit.policy import AuditPolicy
from kakunin.contracts import default_expectations_root
from kakunin.layout import review_key
from kakunin_dev.people import HANAKO
from tests.conftest import Run, kakunin_runner
from tests.subjects.conftest import KEY, TwoProviders


@pytest.fixture
def expectations(tmp_path: Path) -> Path:
    """The shipped expectations with a bulk-read threshold of 3 records."""
    root = tmp_path / "expectations"
    shutil.copytree(default_expectations_root(), root)
    (root / "audit-policy.yaml").write_text("bulk_read: {records: 3}\n")
    return root


def _root(two_providers: TwoProviders) -> Path:
    root: Path = two_providers.store.root  # type: ignore[attr-defined]
    return root


def _runner(two_providers: TwoProviders, expectations: Path) -> Callable[..., Run]:
    env = {"KAKUNIN_HMAC_KEY": KEY.hex(), "KAKUNIN_EXPECTATIONS": str(expectations), "KAKUNIN_ACTOR": "clerk-07"}
    return kakunin_runner(_root(two_providers), base_env=env)


def test_a_clerk_tracing_record_after_record_is_flagged_and_a_lead_signs_off(
    two_providers: TwoProviders, expectations: Path
) -> None:
    kakunin = _runner(two_providers, expectations)
    manifest = _root(two_providers) / two_providers.first.manifest_parquet
    record_ids = pq.read_table(manifest, columns=["record_id"])["record_id"].to_pylist()[:4]
    for record_id in record_ids:
        assert kakunin("lineage", "trace", record_id).code == 0
    today = AuditPolicy().day_of(datetime.now(AuditPolicy().zone))

    review: Run = kakunin("audit", "review", "--day", today.isoformat(), "--json")
    assert review.code == 0, review.stderr
    report = review.json()
    assert report["verified"] is True
    flagged = {(a["kind"], a["actor"]) for a in report["anomalies"]}
    assert flagged == {("bulk-read", "clerk-07"), ("unauthenticated", "clerk-07")}
    (clerk,) = [p for p in report["people"] if p["actor"] == "clerk-07"]
    assert (clerk["records_read"], clerk["authenticated"]) == (4, False)
    stored = two_providers.store.get_bytes(review_key(report["report_id"])).decode()
    for value in (HANAKO.name_kanji, HANAKO.email, HANAKO.phone, HANAKO.birth_date, "架空"):
        assert value not in stored

    text: Run = kakunin("audit", "review", "--day", today.isoformat())
    assert text.code == 0
    assert "bulk-read" in text.stdout
    assert "verified: every chain intact" in text.stdout

    own: Run = kakunin("audit", "sign-off", report["report_id"], "--by", "clerk-07", "--note", "ok")
    assert (own.code, own.stdout) == (1, "")
    assert "自己承認" in own.stderr
    lead: Run = kakunin(
        "audit", "sign-off", report["report_id"], "--by", "lead-01", "--note", "asked clerk-07", "--json"
    )
    assert lead.code == 0, lead.stderr
    assert lead.json()["signed_by"] == "lead-01"
    again: Run = kakunin("audit", "sign-off", report["report_id"], "--by", "lead-02", "--note", "x", "--json")
    assert again.code == 1
    assert again.json()["error"]["code"] == "already_signed"

    listed: Run = kakunin("audit", "reviews", "--json")
    assert listed.code == 0
    statuses = {r["report_id"]: (r["status"], r["signed_by"]) for r in listed.json()["reviews"]}
    assert statuses[report["report_id"]] == ("signed", "lead-01")
    overdue: Run = kakunin("audit", "reviews", "--overdue")
    assert (overdue.code, overdue.stdout) == (0, "no review reports overdue\n")
    old: Run = kakunin("audit", "review", "--day", "2026-01-05", "--json")  # due 2026-01-08, long past
    assert old.code == 0
    late: Run = kakunin("audit", "reviews", "--overdue", "--json")
    assert late.code == 1
    assert [r["report_id"] for r in late.json()["reviews"]] == [old.json()["report_id"]]


def test_review_exits_1_on_a_tampered_store_and_bad_input_exits_2(
    two_providers: TwoProviders, expectations: Path
) -> None:
    kakunin = _runner(two_providers, expectations)
    root = _root(two_providers)
    entry = sorted((root / "audit" / "log").glob("*.json"))[0]
    edited = json.loads(entry.read_bytes())
    edited["actor"] = "someone-else"  # who did it, rewritten
    entry.write_text(json.dumps(edited, indent=2))
    review: Run = kakunin("audit", "review", "--day", "2026-11-26")
    assert review.code == 1
    assert "NOT VERIFIED" in review.stdout
    assert "Traceback" not in review.stderr
    for args in (
        ["audit", "review", "--day", "26/11/2026"],
        ["audit", "sign-off", "../../etc/passwd", "--by", "lead-01", "--note", "x"],
        ["audit", "sign-off", "REV-20261126-abcdef", "--by", "lead-01", "--note", "x"],
        ["audit", "sign-off", "REV-20261126-abcdef", "--by", " ", "--note", "x"],
    ):
        bad: Run = kakunin(*args)
        assert bad.code == 2, (args, bad.stderr)
        assert "Traceback" not in bad.stderr
    assert list(root.glob("audit/sign-offs/*")) == []
    assert len(list(root.glob("audit/reviews/*.json"))) == 1  # the failed review's report, and nothing else
