"""The acquisition API against a real Airflow API server: upload, list by role, approve by a second user."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kakunin.codes import ReasonCode
from kakunin_dev.samples import mutations, write_batch
from tests.conftest import kakunin_runner
from tests.web.conftest import AirflowWeb

RECEIVED_ON = date.today() - timedelta(days=7)  # the server judges with the real clock
Files = list[tuple[str, tuple[str, bytes, str]]]


def new_document_id() -> str:
    """A document id no other test of the shared store has used (the gate refuses a reused one)."""
    return f"PRV-{RECEIVED_ON.year}-{secrets.randbelow(10**6):06d}"


def batch_folder(root: Path, mutation: Callable[..., object] | None = None) -> Path:
    """A sample batch folder (document, data.csv, evidence/), good unless `mutation` spoils it."""
    return write_batch(
        root / secrets.token_hex(4),
        document_id=new_document_id(),
        received_on=RECEIVED_ON,
        rows=5,
        seed=secrets.randbelow(10_000),
        mutation=mutation,
    )


def batch_files(folder: Path, *, data_name: str = "data.csv") -> Files:
    """The folder as a browser sends it: one document, one data file, every evidence file by its base name."""
    files: Files = [
        ("document", ("provenance.yaml", (folder / "provenance.yaml").read_bytes(), "application/yaml")),
        ("data", (data_name, (folder / "data.csv").read_bytes(), "text/csv")),
    ]
    for path in sorted((folder / "evidence").glob("*")):
        files.append(("evidence", (path.name, path.read_bytes(), "application/pdf")))
    return files


def upload(client: httpx.Client, folder: Path, **kwargs: Any) -> httpx.Response:
    return client.post("/api/batches", files=batch_files(folder), **kwargs)


def cli(airflow_web: AirflowWeb) -> Callable[..., Any]:
    """The `kakunin` command on the server's store, with its key."""
    return kakunin_runner(airflow_web.store, base_env=airflow_web.env)


def audit_entries(airflow_web: AirflowWeb, action: str) -> list[dict[str, Any]]:
    run = cli(airflow_web)("audit", "log", "--action", action, "--json")
    assert run.code == 0, run.stderr
    entries: list[dict[str, Any]] = json.loads(run.stdout)["entries"]
    return entries


def test_a_good_batch_is_accepted_with_the_findings_of_provenance_check(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    folder = batch_folder(tmp_path)
    with airflow_web.client("acq-01") as client:
        answer = upload(client, folder)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    check = cli(airflow_web)("provenance", "check", str(folder), "--json")
    assert check.code == 0, check.stderr
    assert body["decision"] == "accepted"
    assert body["batch_id"]
    assert body["rejection_id"] is None
    assert body["findings"] == json.loads(check.stdout)["findings"]
    assert body["evidence_not_used"] == []


def test_a_bad_batch_is_rejected_with_its_reason_and_the_rejection_on_record(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    folder = batch_folder(tmp_path, mutations(RECEIVED_ON)[ReasonCode.NOTICE_MISSING])
    with airflow_web.client("acq-01") as client:
        answer = upload(client, folder)
        detail = client.get(f"/api/batches/{answer.json()['rejection_id']}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    check = cli(airflow_web)("provenance", "check", str(folder), "--json")
    assert body["decision"] == "rejected"
    assert body["batch_id"] is None
    assert body["rejection_id"]
    assert ReasonCode.NOTICE_MISSING.value in {f["code"] for f in body["findings"]}
    assert body["findings"] == json.loads(check.stdout)["findings"]
    assert detail.status_code == 200
    assert detail.json()["state"] == "rejected"
    assert detail.json()["submitted_by"] == "acq-01"
    assert detail.json()["findings"] == body["findings"]


def test_acquisition_staff_see_their_own_batches_and_auditors_see_all(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01") as first, airflow_web.client("acq-02") as second:
        mine = upload(first, batch_folder(tmp_path, mutations(RECEIVED_ON)[ReasonCode.SCHEMA])).json()["rejection_id"]
        theirs = upload(second, batch_folder(tmp_path)).json()["batch_id"]
        listed_first = {b["batch_id"]: b for b in first.get("/api/batches").json()["batches"]}
        listed_second = {b["batch_id"]: b for b in second.get("/api/batches").json()["batches"]}
        peek = second.get(f"/api/batches/{mine}")  # a rejected batch of acq-01: nothing for acq-02 to approve
        unknown = second.get("/api/batches/20260101T000000000000Z-deadbeef")
    with airflow_web.client("audit-01") as auditor, airflow_web.client("eng-01") as engineer:
        listed_auditor = {b["batch_id"]: b for b in auditor.get("/api/batches").json()["batches"]}
        listed_engineer = {b["batch_id"] for b in engineer.get("/api/batches").json()["batches"]}
        seen_by_auditor = auditor.get(f"/api/batches/{mine}")
    assert mine
    assert theirs
    assert mine in listed_first
    assert theirs not in listed_first
    assert theirs in listed_second
    assert mine not in listed_second
    assert {b["submitted_by"] for b in listed_first.values()} == {"acq-01"}
    assert listed_auditor[mine]["submitted_by"] == "acq-01"
    assert listed_auditor[theirs]["submitted_by"] == "acq-02"
    assert listed_auditor[theirs]["state"] in {"pending", "awaiting_approval"}
    assert {mine, theirs} <= listed_engineer
    assert peek.status_code == 404
    assert peek.json()["error"]["code"] == "not_found"
    assert peek.json() == unknown.json()  # the answer does not tell that the batch exists
    assert seen_by_auditor.status_code == 200


def test_an_unknown_batch_id_is_404(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("audit-01") as auditor:
        answer = auditor.get("/api/batches/20260101T000000000000Z-deadbeef")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_a_second_user_approves_and_the_audit_log_names_both_users(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01") as submitter, airflow_web.client("acq-02") as second:
        batch_id = upload(submitter, batch_folder(tmp_path)).json()["batch_id"]
        to_approve = {b["batch_id"] for b in second.get("/api/batches").json()["batches"]}
        own = submitter.post(f"/api/batches/{batch_id}/approve", json={})
        visible = second.get(f"/api/batches/{batch_id}")
        approved = second.post(f"/api/batches/{batch_id}/approve", json={"note": "checked the contract"})
        again = second.post(f"/api/batches/{batch_id}/approve", json={})
        after = submitter.get(f"/api/batches/{batch_id}").json()
    assert batch_id
    assert batch_id not in to_approve  # listed to its submitter only; acq-02 reaches it to approve it
    assert own.status_code == 409
    assert own.json()["error"]["code"] == "approval.refused"
    assert "second, different user" in own.json()["error"]["message"]
    assert visible.status_code == 200
    assert visible.json()["may_approve"] is True
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "acq-02"
    assert approved.json()["authenticated_by"] == "airflow"
    assert again.status_code == 409
    assert after["approved_by"] == "acq-02"
    approvals = [e for e in audit_entries(airflow_web, "approve") if e["batch_id"] == batch_id]
    assert [(e["actor"], e["actor_authenticated_by"]) for e in approvals] == [("acq-02", "airflow")]
    refused = [e for e in audit_entries(airflow_web, "approve-refused") if e["batch_id"] == batch_id]
    assert [(e["actor"], e["codes"]) for e in refused] == [("acq-01", ["four_eyes"])]
    submits = [e for e in audit_entries(airflow_web, "submit") if e["batch_id"] == batch_id]
    assert [(e["actor"], e["actor_authenticated_by"]) for e in submits] == [("acq-01", "airflow")]


def test_an_approval_note_must_be_one_short_line(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01") as submitter, airflow_web.client("acq-02") as second:
        batch_id = upload(submitter, batch_folder(tmp_path)).json()["batch_id"]
        answer = second.post(f"/api/batches/{batch_id}/approve", json={"note": "x" * 201})
        still = second.get(f"/api/batches/{batch_id}").json()
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "request.invalid"
    assert "200" in answer.json()["error"]["message"]
    assert still["approved_by"] is None


def test_someone_elses_published_or_rejected_batch_cannot_be_approved(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01") as submitter, airflow_web.client("acq-02") as second:
        rejected = upload(submitter, batch_folder(tmp_path, mutations(RECEIVED_ON)[ReasonCode.SCHEMA]))
        answer = second.post(f"/api/batches/{rejected.json()['rejection_id']}/approve", json={})
    assert answer.status_code == 404


@pytest.mark.parametrize("user", ["acq-01", "eng-01"])
def test_intake_can_be_started_and_the_start_is_logged(airflow_web: AirflowWeb, user: str) -> None:
    with airflow_web.client(user) as client:
        answer = client.post("/api/intake-runs")
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["run_id"]
    assert run_id
    triggers = [e for e in audit_entries(airflow_web, "trigger") if e.get("detail", {}).get("run_id") == run_id]
    assert [(e["actor"], e["actor_authenticated_by"]) for e in triggers] == [(user, "airflow")]
