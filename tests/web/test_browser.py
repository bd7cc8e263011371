"""End to end in a real browser: headless Chromium against the app served by Airflow's API server.

People log in through Airflow's own login page; acquisition staff upload a good and a bad batch and
see the findings by their fields, a second person approves, the intake runs, an auditor traces a
record and runs verify, and an acquisition user opening an auditor page is refused. Each page is
saved as a screenshot under var/screenshots/web/ (listed in docs/web.md). Pages and findings are
found by the data-testid contract of docs/web.md, never by their wording.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from kakunin.codes import ReasonCode
from kakunin.lineage.chain import linked_manifests
from kakunin.storage import LocalStore
from kakunin_dev.samples import mutations, write_batch
from tests.conftest import RECEIVED_ON, kakunin_runner
from tests.web.browser import SCREENSHOTS, Visit, browser, visit
from tests.web.conftest import AirflowWeb

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    with browser() as found:
        yield found


def _batch(tmp_path: Path, name: str, *, bad: ReasonCode | None = None) -> Path:
    """A sample batch folder with a document id no other test uses (the server's store is shared)."""
    mutation = mutations(RECEIVED_ON)[bad] if bad is not None else None
    number = random.randint(100_000, 999_999)  # noqa: S311 - an id, not a secret
    return write_batch(
        tmp_path / name,
        document_id=f"PRV-2026-{number}",
        received_on=RECEIVED_ON,
        rows=5,
        seed=100 + number % 700,  # sample customer numbers keep 7 digits only for seeds under 900
        mutation=mutation,
    )


def _upload(visit: Visit, folder: Path) -> None:
    """Fill the upload form with the folder's document, data and evidence files, and send it."""
    page = visit.open("/upload")
    form = page.locator('[data-testid="upload-form"]')
    document = next(folder.glob("provenance.*"))
    form.locator("input[name=document]").set_input_files(str(document))
    form.locator("input[name=data]").set_input_files(str(folder / "data.csv"))
    form.locator("input[name=evidence]").set_input_files([str(p) for p in sorted((folder / "evidence").iterdir())])
    form.locator('[data-testid="upload-submit"]').click()
    page.locator('[data-testid="decision"]').wait_for()


def _findings_by_field(visit: Visit) -> set[tuple[str, str]]:
    """(field path, reason code) of every finding the page shows."""
    found = visit.page.locator('[data-testid="finding"]')
    return {(f.get_attribute("data-path") or "", f.get_attribute("data-code") or "") for f in found.all()}


def _record_of(store: Path, batch_id: str) -> str:
    """A record id of `batch_id` from the store's published manifests (what an auditor would be asked about)."""
    local = LocalStore(store)
    for _, manifest_key in linked_manifests(local):
        with local.open_input(manifest_key) as handle:
            table = pq.read_table(handle, columns=["record_id", "batch_id"], filters=[("batch_id", "=", batch_id)])
        if table.num_rows:
            return str(table.column("record_id")[0].as_py())
    raise AssertionError(f"no published record of batch {batch_id}")


def test_login_home_and_the_api_docs_in_the_browser(chromium_browser: Browser, airflow_web: AirflowWeb) -> None:
    with visit(chromium_browser, airflow_web, None) as anonymous:
        anonymous.page.goto(f"{airflow_web.app}/docs", wait_until="networkidle")
        assert "/auth/login" in anonymous.page.url  # Airflow's login page, coming back to the docs afterwards
        anonymous.shot("login")
    with visit(chromium_browser, airflow_web, "acq-01") as staff:
        assert staff.page.locator('[data-testid="user"]').inner_text() == "acq-01"
        staff.shot("home-acquisition")
        staff.open("/docs")
        assert staff.page.locator('[data-testid="operation"][data-path="/api/me"]').count() == 1
        staff.shot("docs")
        assert staff.trouble == []
    for png in (SCREENSHOTS / "login.png", SCREENSHOTS / "home-acquisition.png", SCREENSHOTS / "docs.png"):
        assert png.stat().st_size > 5_000, f"{png} is empty"


@pytest.mark.parametrize("user", ["acq-01", "audit-01", "eng-01", "outsider"])
def test_every_page_a_user_is_offered_loads_without_csp_violations_or_console_errors(
    chromium_browser: Browser, airflow_web: AirflowWeb, user: str
) -> None:
    """Each link of the user's navigation, opened in Chromium: a page that used inline script or style,
    or a resource from elsewhere, would log a CSP violation as a console error. Each page is kept as
    a screenshot, `<user>-<page>.png`."""
    with visit(chromium_browser, airflow_web, user) as session:
        links = [a.get_attribute("href") or "" for a in session.page.locator("header.top nav a").all()]
        extra = ["/kakunin/upload/form"] if user == "acq-01" else []  # the step-by-step form, linked from /upload
        for href in [*links, *extra, "/kakunin/docs"]:
            answer = session.page.goto(f"{airflow_web.base}{href}", wait_until="networkidle")
            assert answer is not None, href
            assert answer.status == 200, href
            session.shot(f"{user}-{href.removeprefix('/kakunin/').replace('/', '-')}")
        assert session.trouble == []
    assert user != "outsider" or links == []  # no role, no pages
    assert all(png.stat().st_size > 5_000 for png in session.shots)


def test_upload_approve_intake_trace_verify_and_refusal_in_the_browser(
    chromium_browser: Browser, airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    good = _batch(tmp_path, "good")
    bad = _batch(tmp_path, "bad", bad=ReasonCode.RETENTION_INVALID)
    cli = kakunin_runner(airflow_web.store, base_env=airflow_web.env)
    checked = cli("provenance", "check", str(bad), "--json")
    expected = {(f["path"], f["code"]) for f in checked.json()["findings"]}
    assert checked.code == 1, checked.stderr
    assert ReasonCode.RETENTION_INVALID.value in {code for _, code in expected}

    with visit(chromium_browser, airflow_web, "acq-01") as staff:
        _upload(staff, good)
        decision = staff.page.locator('[data-testid="decision"]')
        assert decision.get_attribute("data-decision") == "accepted"
        batch_id = staff.page.locator('[data-testid="batch-id"]').inner_text().strip()
        staff.shot("upload-accepted")
        _upload(staff, bad)
        assert decision.get_attribute("data-decision") == "rejected"
        assert _findings_by_field(staff) == expected  # the same findings as `provenance check --json`, by field
        retention = staff.page.locator(f'[data-testid="finding"][data-code="{ReasonCode.RETENTION_INVALID.value}"]')
        assert retention.locator(".ja").inner_text().strip() != ""  # the Japanese meaning beside the English
        staff.shot("upload-rejected")
        staff.open(f"/batches/{batch_id}")
        assert staff.page.locator('[data-testid="approve"]').count() == 0  # nobody approves their own batch
        staff.shot("batch-own")
        staff.open("/audit", status=403)
        refused = staff.page.locator('[data-testid="error"]')
        assert refused.get_attribute("data-code") == "auth.forbidden"
        staff.shot("refused-audit")
        assert staff.trouble == []

    with visit(chromium_browser, airflow_web, "acq-02") as second:
        second.open("/approvals")
        assert second.page.locator(f'[data-testid="awaiting-row"][data-batch-id="{batch_id}"]').count() == 1
        second.shot("approvals")
        second.open(f"/batches/{batch_id}")
        second.page.locator('[data-testid="approve"]').click()
        second.page.locator('[data-testid="flash"]').wait_for()
        second.shot("batch-approved")
        assert second.trouble == []

    ran = cli("intake", "run")  # what the scheduler's kakunin_intake run would do
    assert ran.code == 0, ran.stderr
    record_id = _record_of(airflow_web.store, batch_id)

    with visit(chromium_browser, airflow_web, "audit-01") as auditor:
        page = auditor.open("/trace")
        page.locator('[data-testid="trace-input"]').fill(record_id)
        page.locator('[data-testid="trace-input"]').press("Enter")
        trace = page.locator('[data-testid="trace"]')
        trace.wait_for()
        assert trace.get_attribute("data-status") == "live"
        assert batch_id in trace.inner_text()
        auditor.shot("trace")
        page = auditor.open("/verify")
        page.locator('[data-testid="verify-now"]').click()
        verdict = page.locator('[data-testid="verdict"]')
        verdict.wait_for()
        assert verdict.get_attribute("data-intact") == "true"
        auditor.shot("verify")
        auditor.open("/datasets")
        assert auditor.page.locator('[data-testid="chart"]').count() >= 1  # counts by provider, purpose, expiry
        auditor.shot("datasets")
        auditor.open("/receipts")
        assert auditor.page.locator('[data-testid="receipt-row"]').filter(has_text=batch_id).count() == 1
        auditor.shot("receipts")
        assert auditor.trouble == []

    entries = cli("audit", "log", "--json").json()["entries"]
    by_airflow = [e for e in entries if e.get("actor_authenticated_by") == "airflow"]
    # every action and record view of this journey names its person, vouched for by Airflow
    assert {(e["actor"], e["action"]) for e in by_airflow if e.get("batch_id") == batch_id} >= {
        ("acq-01", "submit"),
        ("acq-02", "approve"),
    }
    assert any(e["actor"] == "audit-01" and record_id in (e.get("record_ids") or []) for e in by_airflow)
    names = ("upload-accepted", "upload-rejected", "batch-own", "refused-audit", "approvals", "batch-approved")
    shots = [SCREENSHOTS / f"{name}.png" for name in (*names, "trace", "verify", "datasets", "receipts")]
    assert [s.name for s in shots if not s.is_file() or s.stat().st_size < 5_000] == [], "missing or empty screenshots"
