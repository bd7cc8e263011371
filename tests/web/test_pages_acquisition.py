"""Acquisition staff's pages as a browser gets them: a cookie session, forms with the CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from kakunin.codes import ReasonCode
from kakunin.provenance.messages_ja import japanese
from kakunin_dev.samples import mutations
from tests.web.conftest import AirflowWeb
from tests.web.test_api_batches import RECEIVED_ON, batch_files, batch_folder


def form_token(page: str) -> str:
    found = re.search(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">', page)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def post_upload(client: httpx.Client, folder: Path) -> httpx.Response:
    token = form_token(client.get("/upload").text)
    return client.post("/upload", files=batch_files(folder), data={"csrf_token": token})


def test_the_upload_page_has_the_form_with_its_fields_and_a_csrf_token(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("acq-01", cookie=True) as client:
        page = client.get("/upload")
        meta_token = airflow_web.csrf(client)
    assert page.status_code == 200
    assert 'data-testid="upload-form"' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    for field in ('name="document"', 'name="data"', 'name="evidence" multiple', 'data-testid="upload-submit"'):
        assert field in page.text
    assert form_token(page.text) == meta_token


def test_a_bad_upload_shows_each_finding_at_its_field_in_english_and_japanese(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    code = ReasonCode.NOTICE_MISSING
    with airflow_web.client("acq-01", cookie=True) as client:
        page = post_upload(client, batch_folder(tmp_path, mutations(RECEIVED_ON)[code]))
    assert page.status_code == 200, page.text
    assert 'data-testid="decision" data-decision="rejected"' in page.text
    assert 'data-testid="batch-id"' not in page.text
    finding = re.search(rf'<li [^>]*data-testid="finding" data-path="([^"]+)" data-code="{code.value}"', page.text)
    assert finding, page.text
    assert f"<h3><code>{finding.group(1)}</code></h3>" in page.text  # grouped under its field
    assert japanese(code) in page.text


def test_a_good_upload_shows_the_batch_id_and_the_batch_is_listed(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01", cookie=True) as client:
        page = post_upload(client, batch_folder(tmp_path))
        batch_id = re.search(r'<code data-testid="batch-id">([^<]+)</code>', page.text)
        assert batch_id, page.text
        listing = client.get("/batches")
        detail = client.get(f"/batches/{batch_id.group(1)}")
    assert 'data-decision="accepted"' in page.text
    assert re.search(
        rf'data-testid="batch-row" data-batch-id="{batch_id.group(1)}" data-state="(pending|awaiting_approval)"',
        listing.text,
    )
    assert detail.status_code == 200
    assert 'data-testid="trigger-intake"' in detail.text
    assert 'data-testid="approve"' not in detail.text  # not for its own submitter


def test_a_second_user_approves_from_the_batch_page_and_sees_a_flash(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01", cookie=True) as submitter:
        page = post_upload(submitter, batch_folder(tmp_path))
    found = re.search(r'<code data-testid="batch-id">([^<]+)</code>', page.text)
    assert found, page.text
    batch_id = found.group(1)
    with airflow_web.client("acq-02", cookie=True) as second:
        approvals = second.get("/approvals")
        batch_page = second.get(f"/batches/{batch_id}")
        answer = second.post(f"/batches/{batch_id}/approve", data={"csrf_token": form_token(batch_page.text)})
        back = second.get(answer.headers["location"].removeprefix("/kakunin"))
    assert f'data-testid="awaiting-row" data-batch-id="{batch_id}"' in approvals.text
    assert 'data-testid="approve"' in batch_page.text
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/kakunin/batches/{batch_id}?done=approved"
    assert 'data-testid="flash"' in back.text
    assert '<td data-testid="approved-by">acq-02</td>' in back.text
    assert 'data-testid="approve"' not in back.text


def test_approving_ones_own_batch_on_the_page_is_refused_with_the_reason(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    with airflow_web.client("acq-01", cookie=True) as client:
        page = post_upload(client, batch_folder(tmp_path))
        found = re.search(r'<code data-testid="batch-id">([^<]+)</code>', page.text)
        assert found, page.text
        answer = client.post(f"/batches/{found.group(1)}/approve", data={"csrf_token": form_token(page.text)})
    assert answer.status_code == 409
    assert 'data-testid="flash"' in answer.text
    assert "二者確認" in answer.text


def test_a_page_form_post_without_the_token_is_refused(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01", cookie=True) as client:
        answer = client.post("/upload", files=batch_files(batch_folder(tmp_path)))
    assert answer.status_code == 403
    assert 'data-testid="error" data-code="csrf.rejected"' in answer.text


def test_an_upload_page_post_without_a_data_file_says_so_on_the_form(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    files = [f for f in batch_files(batch_folder(tmp_path)) if f[0] != "data"]
    with airflow_web.client("acq-01", cookie=True) as client:
        token = form_token(client.get("/upload").text)
        answer = client.post("/upload", files=files, data={"csrf_token": token})
    assert answer.status_code == 422
    assert 'data-testid="upload-error"' in answer.text
    assert "data file" in answer.text
    assert 'data-testid="upload-form"' in answer.text


def test_an_auditor_sees_every_batch_and_no_upload_page(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-02", cookie=True) as client:
        page = post_upload(client, batch_folder(tmp_path, mutations(RECEIVED_ON)[ReasonCode.SCHEMA]))
    rejection = re.search(r'<code data-testid="rejection-id">([^<]+)</code>', page.text)
    assert rejection, page.text
    with airflow_web.client("audit-01", cookie=True) as auditor:
        listing = auditor.get("/batches")
        upload_page = auditor.get("/upload")
        detail = auditor.get(f"/batches/{rejection.group(1)}")
    assert f'data-batch-id="{rejection.group(1)}" data-state="rejected"' in listing.text
    assert upload_page.status_code == 403
    assert 'data-code="auth.forbidden"' in upload_page.text
    assert f'data-code="{ReasonCode.SCHEMA.value}"' in detail.text
    assert 'data-testid="approve"' not in detail.text
