"""The auditors' API against a real Airflow API server: each answer is what the CLI's `--json` says,
record-level reads land in the audit log with the web user, vouched for by Airflow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kakunin_dev.samples import write_batch
from tests.conftest import Run, kakunin_runner
from tests.web.conftest import AirflowWeb

DATASET = "jp_customer_leads"
ROWS = 7


@dataclass
class Published:
    """A batch this module published into the server's store, and what it made there."""

    batch_id: str
    record_ids: list[str]
    manifest: Path
    request_id: str
    export_id: str
    cli: Any

    def run(self, *args: str) -> Run:
        done: Run = self.cli(*args)
        assert done.code in (0, 1), f"kakunin {' '.join(args)}: {done.code}\n{done.stderr}"
        return done


@pytest.fixture(scope="module")
def published(airflow_web: AirflowWeb, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One batch submitted and run through intake with the CLI, one erasure request and one export."""
    cli = kakunin_runner(airflow_web.store, base_env=airflow_web.env)
    root = tmp_path_factory.mktemp("auditor-api")
    batch = write_batch(
        root / "batch", document_id="PRV-2026-913001", received_on=date(2026, 11, 20), rows=ROWS, seed=87
    )
    submitted = cli("provenance", "submit", str(batch), "--json")
    assert submitted.code == 0, submitted.stderr
    batch_id = submitted.json()["batch_id"]
    ran = cli("intake", "run")
    assert ran.code == 0, ran.stderr
    manifest = airflow_web.store / "lineage" / "manifests" / DATASET / batch_id / "manifest.parquet"
    record_ids = pq.read_table(manifest, columns=["record_id"]).column("record_id").to_pylist()
    assert len(record_ids) == ROWS
    requested = cli(
        "subject", "request", "erase", "--email", "nobody-913@example.invalid", "--reference", "LTR-913", "--json"
    )
    assert requested.code == 0, requested.stderr
    exported = cli(
        "export", "--dataset", DATASET, "--purpose", "marketing_email", "--requested-by", "E913",
        "--out", str(root / "out.csv"), "--json",
    )  # fmt: skip
    assert exported.code == 0, exported.stderr
    return Published(
        batch_id=batch_id,
        record_ids=record_ids,
        manifest=manifest,
        request_id=requested.json()["request_id"],
        export_id=exported.json()["export_id"],
        cli=cli,
    )


def test_a_trace_is_the_clis_trace_and_is_logged_as_the_auditor(airflow_web: AirflowWeb, published: Published) -> None:
    record_id = published.record_ids[0]
    with airflow_web.client("audit-01") as auditor:
        answer = auditor.get(f"/api/records/{record_id}")
        assert answer.status_code == 200, answer.text
        cli = published.run("lineage", "trace", record_id, "--json")
        assert answer.json() == cli.json()
        assert answer.json()["status"] == "live"
        assert answer.json()["batch_id"] == published.batch_id
        assert answer.json()["digest_check"].startswith("matches")  # keyed, as the CLI is with KAKUNIN_HMAC_KEY
        log = auditor.get("/api/audit", params={"actor": "audit-01", "action": "trace"}).json()["entries"]
    mine = [e for e in log if e["record_ids"] == [record_id]]
    assert mine, "the web trace is in the audit log"
    assert mine[-1]["actor_authenticated_by"] == "airflow"
    assert mine[-1]["self_declared"] is False
    assert mine[-1]["detail"] == {"via": "web", "route": "/api/records"}
    assert mine[-1]["dataset"] == DATASET


def test_an_unknown_record_is_404_and_a_malformed_id_400_as_the_cli_refuses_both(
    airflow_web: AirflowWeb, published: Published
) -> None:
    with airflow_web.client("audit-01") as auditor:
        unknown = auditor.get("/api/records/019abef0-2300-7f64-94c4-bd404e68c655")
        malformed = auditor.get("/api/records/not-an-id")
    assert unknown.status_code == 404
    assert "in no manifest" in unknown.json()["error"]["message"]
    assert malformed.status_code == 400
    assert "is not a record id" in malformed.json()["error"]["message"]
    assert published.cli("lineage", "trace", "019abef0-2300-7f64-94c4-bd404e68c655").code == 2


def test_verify_answers_as_the_cli_and_notices_a_tampered_manifest(
    airflow_web: AirflowWeb, published: Published
) -> None:
    cli = published.run("lineage", "verify", "--json").json()
    with airflow_web.client("audit-01") as auditor:
        intact = auditor.post("/api/verify")
        assert intact.status_code == 200, intact.text
        original = published.manifest.read_bytes()
        published.manifest.write_bytes(original[:100] + bytes([original[100] ^ 0xFF]) + original[101:])
        try:
            broken = auditor.post("/api/verify").json()
        finally:
            published.manifest.write_bytes(original)
        again = auditor.post("/api/verify").json()
        log = auditor.get("/api/audit", params={"actor": "audit-01", "action": "verify"}).json()["entries"]
    assert set(intact.json()) == set(cli)
    assert (intact.json()["intact"], intact.json()["mode"]) == (True, "keyed") == (cli["intact"], cli["mode"])
    assert intact.json()["manifests"] == cli["manifests"]
    assert broken["intact"] is False
    assert any(published.batch_id in p["where"] for p in broken["problems"])
    assert again["intact"] is True
    assert [e["detail"]["intact"] for e in log[-3:]] == [True, False, True]
    assert all(e["actor_authenticated_by"] == "airflow" for e in log)


def test_verify_by_cookie_needs_the_csrf_token(airflow_web: AirflowWeb, published: Published) -> None:
    with airflow_web.client("audit-01", cookie=True) as browser:
        refused = browser.post("/api/verify")
        accepted = browser.post("/api/verify", headers={"X-CSRF-Token": airflow_web.csrf(browser)})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf.rejected"
    assert accepted.status_code == 200


def test_the_audit_log_filters_by_actor_and_refuses_a_bad_filter(airflow_web: AirflowWeb, published: Published) -> None:
    with airflow_web.client("audit-01") as auditor:
        auditor.get(f"/api/records/{published.record_ids[1]}")
        everyone = auditor.get("/api/audit").json()
        own = auditor.get("/api/audit", params={"actor": "AUDIT-01"}).json()
        limited = auditor.get("/api/audit", params={"limit": 2}).json()
        unknown_action = auditor.get("/api/audit", params={"action": "dance"})
        backwards = auditor.get("/api/audit", params={"from": "2026-11-20", "to": "2026-11-01"})
        not_a_day = auditor.get("/api/audit", params={"from": "yesterday"})
    assert own["entries"]
    assert all(e["actor"] == "audit-01" for e in own["entries"])
    assert len(own["entries"]) < len(everyone["entries"]), "the CLI's entries (another actor) are left out"
    assert own["count"] == len(own["entries"])
    assert limited["entries"] == everyone["entries"][-2:]
    cli = published.run("audit", "log", "--actor", "audit-01", "--json").json()
    assert own["entries"] == cli["entries"][: len(own["entries"])]
    for bad, words in ((unknown_action, "unknown action 'dance'"), (backwards, "is after"), (not_a_day, "from")):
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "request.invalid"
        assert words in bad.json()["error"]["message"]


def _live_rows(store: Path, dataset: str) -> int:
    """Manifest rows whose record is still in the curated file the manifest names."""
    live = 0
    for manifest in (store / "lineage" / "manifests" / dataset).glob("*/manifest.parquet"):
        table = pq.read_table(manifest, columns=["record_id", "curated_file"])
        for curated in set(table.column("curated_file").to_pylist()):
            path = store / curated
            held = (
                set(pq.read_table(path, columns=["record_id"]).column("record_id").to_pylist())
                if path.exists()
                else set()
            )
            live += sum(
                1
                for r, c in zip(
                    table.column("record_id").to_pylist(), table.column("curated_file").to_pylist(), strict=True
                )
                if c == curated and r in held
            )
    return live


def test_dataset_counts_add_up_to_the_published_rows(airflow_web: AirflowWeb, published: Published) -> None:
    with airflow_web.client("eng-01") as engineer:
        answer = engineer.get("/api/datasets")
    assert answer.status_code == 200
    (leads,) = [d for d in answer.json()["datasets"] if d["dataset"] == DATASET]
    assert leads["live"] == _live_rows(airflow_web.store, DATASET) >= ROWS
    assert sum(t["records"] for t in leads["by_provider"]) == leads["live"]
    assert sum(t["records"] for t in leads["by_expiry_month"]) == leads["live"]
    purposes = {t["key"]: t["records"] for t in leads["by_purpose"]}
    assert purposes["marketing_email"] >= ROWS  # every sample record carries it
    assert all(len(t["key"]) == 7 and t["key"][4] == "-" for t in leads["by_expiry_month"])
    assert "@" not in answer.text, "counts only: no e-mail address"


def test_receipts_certificates_requests_and_exports_list_what_the_store_holds(
    airflow_web: AirflowWeb, published: Published
) -> None:
    with airflow_web.client("audit-01") as auditor, airflow_web.client("eng-01") as engineer:
        receipts = auditor.get("/api/receipts").json()
        certificates = auditor.get("/api/certificates")
        requests = engineer.get("/api/subject-requests").json()
        exports = auditor.get("/api/exports").json()
        reads = auditor.get("/api/audit", params={"actor": "eng-01", "action": "read"}).json()["entries"]
    (receipt,) = [r for r in receipts["receipts"] if r["batch_id"] == published.batch_id]
    assert (receipt["dataset"], receipt["records"]) == (DATASET, ROWS)
    assert certificates.status_code == 200
    assert certificates.json()["count"] == len(certificates.json()["certificates"])
    (request,) = [r for r in requests["requests"] if r["request_id"] == published.request_id]
    assert (request["request"], request["reference"], request["state"]) == ("erase", "LTR-913", "open")
    assert date.fromisoformat(request["due_on"]) > date.fromisoformat(request["received_on"])
    cli_requests = published.run("subject", "requests", "--json").json()["requests"]
    assert request == next(r for r in cli_requests if r["request_id"] == published.request_id)
    assert reads[-1]["detail"] == {"via": "web", "route": "/api/subject-requests", "view": "subject requests",
                                   "requests": len(requests["requests"])}  # fmt: skip
    assert exports["exports"] == published.run("exports", "--json").json()["exports"]
    assert published.export_id in [x["export_id"] for x in exports["exports"]]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/records/019abef0-2300-7f64-94c4-bd404e68c655", {"audit-01"}),
        ("/api/audit", {"audit-01"}),
        ("/api/datasets", {"audit-01", "eng-01"}),
        ("/api/receipts", {"audit-01"}),
        ("/api/certificates", {"audit-01"}),
        ("/api/subject-requests", {"audit-01", "eng-01"}),
        ("/api/exports", {"audit-01", "eng-01"}),
    ],
)
def test_each_route_answers_only_its_roles(airflow_web: AirflowWeb, path: str, allowed: set[str]) -> None:
    for user in ("acq-01", "audit-01", "eng-01", "outsider", None):
        with airflow_web.client(user) as client:
            answer = client.get(path)
        if user is None:
            assert answer.status_code == 401
        elif user in allowed:
            assert answer.status_code in (200, 404), (user, path, answer.text)
        else:
            assert answer.status_code == 403, (user, path)
            assert answer.json()["error"]["code"] == "auth.forbidden"


def test_verify_is_for_auditors_only(airflow_web: AirflowWeb) -> None:
    for user, status in (("acq-01", 403), ("eng-01", 403), (None, 401)):
        with airflow_web.client(user) as client:
            assert client.post("/api/verify").status_code == status


def test_the_openapi_document_declares_the_auditors_shapes() -> None:
    from kakunin.web.app import create_app
    from kakunin.web.settings import WebPorts

    async def nobody(request: object) -> None:
        return None

    app = create_app(WebPorts(authenticate=nobody, login_url=str, settings=_unused, store=_unused))  # type: ignore[arg-type]
    document = app.openapi()
    schemas = document["components"]["schemas"]
    for name in (
        "TraceAnswer",
        "VerifyReport",
        "AuditLog",
        "Datasets",
        "Receipts",
        "Certificates",
        "SubjectRequests",
        "Exports",
    ):
        assert name in schemas, name
    assert "200" in document["paths"]["/api/records/{record_id}"]["get"]["responses"]
    assert "live, purged or missing" in json.dumps(schemas["TraceAnswer"])


def _unused() -> Any:
    raise AssertionError("building the OpenAPI document reads no settings and no store")
