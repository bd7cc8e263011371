"""The auditors' pages as a browser gets them (the `_token` cookie): each renders its data-testid markers,
shows what the store holds, and a record-level view lands in the audit log with the user."""

from __future__ import annotations

import base64
import re
from datetime import date
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from kakunin_dev.samples import write_batch
from tests.conftest import kakunin_runner
from tests.web.conftest import AirflowWeb

DATASET = "jp_customer_leads"


@pytest.fixture(scope="module")
def record_id(airflow_web: AirflowWeb, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A record of a batch this module published with the CLI."""
    cli = kakunin_runner(airflow_web.store, base_env=airflow_web.env)
    batch = write_batch(
        tmp_path_factory.mktemp("auditor-pages") / "batch",
        document_id="PRV-2026-913101",
        received_on=date(2026, 11, 20),
        rows=4,
        seed=88,  # customer numbers C1880000+ (a seed under 900 keeps them 7 digits)
    )
    submitted = cli("provenance", "submit", str(batch), "--json")
    assert submitted.code == 0, submitted.stderr
    assert cli("intake", "run").code == 0
    manifest = airflow_web.store / "lineage/manifests" / DATASET / submitted.json()["batch_id"] / "manifest.parquet"
    return str(pq.read_table(manifest, columns=["record_id"]).column("record_id")[0].as_py())


def _page(client: httpx.Client, path: str, **params: str) -> httpx.Response:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    assert "Traceback" not in answer.text
    return answer


def test_the_datasets_page_shows_charts_as_svg_images_with_their_numbers(
    airflow_web: AirflowWeb, record_id: str
) -> None:
    with airflow_web.client("audit-01", cookie=True) as browser:
        page = _page(browser, "/datasets").text
    section = re.search(rf'data-dataset="{DATASET}" data-live="(\d+)"', page)
    assert section is not None
    assert int(section.group(1)) >= 4
    assert page.count('data-testid="chart"') >= 3
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert images
    assert base64.b64decode(images[0]).startswith(b"<svg")
    assert "<table data-figure-table=" in page
    assert "marketing_email" in page


def test_the_trace_page_shows_the_record_and_the_view_is_in_the_audit_log(
    airflow_web: AirflowWeb, record_id: str
) -> None:
    with airflow_web.client("audit-01", cookie=True) as browser:
        form = _page(browser, "/trace").text
        result = _page(browser, "/trace", record_id=record_id).text
        unknown = browser.get("/trace", params={"record_id": "019abef0-2300-7f64-94c4-bd404e68c655"})
        log = _page(browser, "/audit", actor="audit-01", action="trace").text
    assert 'data-testid="trace-input"' in form
    assert 'data-testid="trace"' not in form
    assert f'data-testid="trace" data-status="live" data-record-id="{record_id}"' in result
    assert "marketing_email" in result
    assert "matches record_digest" in result
    assert unknown.status_code == 404
    assert 'data-testid="trace-error"' in unknown.text
    rows = re.findall(
        r'<tr data-testid="audit-row" [^>]*data-actor="audit-01" data-action="trace">(.*?)</tr>', log, re.S
    )
    assert any("page=/trace" in row and "airflow" in row for row in rows)


def test_the_tables_render_their_rows(airflow_web: AirflowWeb, record_id: str, tmp_path: Path) -> None:
    cli = kakunin_runner(airflow_web.store, base_env=airflow_web.env)
    requested = cli(
        "subject", "request", "erase", "--email", "pages-913@example.invalid", "--reference", "LTR-914", "--json"
    )
    exported = cli(
        "export", "--dataset", DATASET, "--purpose", "marketing_email", "--requested-by", "E914",
        "--out", str(tmp_path / "out.csv"), "--json",
    )  # fmt: skip
    assert requested.code == 0, requested.stderr
    assert exported.code == 0, exported.stderr
    with airflow_web.client("audit-01", cookie=True) as browser:
        receipts = _page(browser, "/receipts").text
        certificates = _page(browser, "/certificates").text
        audit = _page(browser, "/audit").text
        subjects = _page(browser, "/subjects").text
        exports = _page(browser, "/exports").text
    assert 'data-testid="receipt-row"' in receipts
    assert 'data-testid="certificate-row"' in certificates or 'data-testid="empty"' in certificates  # no purge yet
    assert 'data-testid="audit-row"' in audit
    assert '<select id="action" name="action">' in audit
    assert requested.json()["request_id"] in subjects
    assert 'data-testid="subject-request-row"' in subjects
    assert exported.json()["export_id"] in exports
    assert "pages-913@example.invalid" not in subjects  # the register shows ids and deadlines, never the identifier


def test_a_logged_view_opened_from_another_sites_link_is_not_run(airflow_web: AirflowWeb, record_id: str) -> None:
    cli = kakunin_runner(airflow_web.store, base_env=airflow_web.env)

    def traces() -> int:
        entries = cli("audit", "log", "--actor", "audit-01", "--action", "trace", "--json").json()["entries"]
        return sum(1 for e in entries if record_id in (e.get("record_ids") or []))

    before = traces()
    with airflow_web.client("audit-01", cookie=True) as browser:
        lured = browser.get("/trace", params={"record_id": record_id}, headers={"Sec-Fetch-Site": "cross-site"})
        subjects = browser.get("/subjects", headers={"Sec-Fetch-Site": "cross-site"})
        own = browser.get("/trace", params={"record_id": record_id}, headers={"Sec-Fetch-Site": "same-origin"})
    assert lured.status_code == 403
    assert 'data-code="request.cross_site"' in lured.text
    assert subjects.status_code == 403
    assert own.status_code == 200
    assert traces() == before + 1  # only the view from Kakunin's own page was run and logged


def test_a_bad_audit_filter_is_explained_on_the_page(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("audit-01", cookie=True) as browser:
        page = browser.get("/audit", params={"from": "2026-11-20", "to": "2026-11-01"})
    assert page.status_code == 422
    assert 'data-testid="filter-error"' in page.text
    assert "is after" in page.text


def test_verify_now_shows_the_verdict(airflow_web: AirflowWeb, record_id: str) -> None:
    with airflow_web.client("audit-01", cookie=True) as browser:
        form = _page(browser, "/verify").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
        assert token is not None
        verdict = browser.post("/verify", data={"csrf_token": token.group(1)})
        forged = browser.post("/verify", data={"csrf_token": "0" * 64})
    assert 'data-testid="verify-now"' in form
    assert verdict.status_code == 200
    assert 'data-testid="verdict" data-intact="true"' in verdict.text
    assert forged.status_code == 403


def test_an_engineer_sees_datasets_subjects_exports_but_not_the_auditors_pages(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("eng-01", cookie=True) as browser:
        for path in ("/datasets", "/subjects", "/exports"):
            _page(browser, path)
        for path in ("/trace", "/receipts", "/certificates", "/audit", "/verify"):
            refused = browser.get(path)
            assert refused.status_code == 403, path
            assert 'data-testid="error" data-code="auth.forbidden"' in refused.text


def test_acquisition_staff_are_refused_every_auditor_page(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("acq-01", cookie=True) as browser:
        for path in ("/datasets", "/trace", "/receipts", "/certificates", "/audit", "/subjects", "/exports", "/verify"):
            refused = browser.get(path)
            assert refused.status_code == 403, path
            assert 'data-code="auth.forbidden"' in refused.text
