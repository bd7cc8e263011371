"""The step-by-step form as acquisition staff use it, against the app served by a real Airflow API server."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from kakunin_dev.samples import write_rows
from tests.provenance.test_form import EVIDENCE_UPLOADS, complete_values, evidence_content
from tests.web.conftest import AirflowWeb


def _document_id() -> str:
    return f"PRV-2026-{secrets.randbelow(900_000) + 100_000:06d}"  # the shared store refuses a reused id


def _post(client: httpx.Client, token: str, values: dict[str, Any], data: bytes) -> httpx.Response:
    fields = {"csrf_token": token, **values}
    files = [("data", ("leads.csv", data, "text/csv"))]
    files += [
        (f"evidence[{i}].file", (name, evidence_content(name), "application/pdf"))
        for i, (_, name, _) in enumerate(EVIDENCE_UPLOADS)
    ]
    return client.post("/upload/form", data=fields, files=files)


def _sample_data(tmp_path: Path) -> bytes:
    write_rows(tmp_path / "data.csv", rows=5, seed=7)
    return (tmp_path / "data.csv").read_bytes()


def _wrapper(html: str, field: str) -> str:
    """The markup of the element wrapping `field`, up to the next field's wrapper."""
    start = html.index(f'data-field="{field}"')
    following = html.find('class="form-field"', start + 1)
    return html[start : following if following > 0 else len(html)]


def test_the_form_page_shows_every_step_in_both_languages(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("acq-01", cookie=True) as client:
        page = client.get("/upload/form")
    assert page.status_code == 200
    for heading in (
        "提供者",
        "取得の経緯",
        "提供の根拠",
        "利用目的と通知",
        "項目",
        "委託先",
        "保存期間",
        "表明",
        "証跡",
    ):
        assert heading in page.text
    assert 'data-field="provider.address"' in page.text
    assert 'name="evidence[0].file"' in page.text
    assert 'href="/kakunin/upload"' in page.text


def test_an_auditor_cannot_open_the_form(airflow_web: AirflowWeb) -> None:
    with airflow_web.client("audit-01", cookie=True) as client:
        page = client.get("/upload/form")
    assert page.status_code == 403
    assert 'data-code="auth.forbidden"' in page.text


def test_a_post_without_the_csrf_token_is_refused(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    values = complete_values(received_on=date.today() - timedelta(days=6), document_id=_document_id())
    with airflow_web.client("acq-01", cookie=True) as client:
        answer = _post(client, "not-the-token", values, _sample_data(tmp_path))
    assert answer.status_code == 403
    assert 'data-code="csrf.rejected"' in answer.text


def test_a_complete_form_with_the_sample_data_and_evidence_is_accepted(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    document_id = _document_id()
    values = complete_values(received_on=date.today() - timedelta(days=6), document_id=document_id)
    with airflow_web.client("acq-01", cookie=True) as client:
        answer = _post(client, airflow_web.csrf(client), values, _sample_data(tmp_path))
        assert answer.status_code == 200, answer.text[-2000:]
        assert 'data-decision="accepted"' in answer.text, re.findall(
            r'data-path="[^"]*" data-code="[^"]*"', answer.text
        )
        batch_id = re.search(r'data-testid="batch-id">([^<]+)<', answer.text)
        assert batch_id is not None
    landed = airflow_web.store / "landing" / "jp_customer_leads" / batch_id.group(1)
    assert (landed / "_submission.json").is_file()  # the batch landed under that id
    shown = unescape(answer.text)
    assert f"document_id: {document_id}" in shown  # the written document, for staff to keep
    assert "file: evidence/E2-consent-screens.pdf" in shown
    assert 'value="株式会社サンプルデータ"' in shown  # the form keeps what they typed


def test_an_individual_provider_is_refused_with_the_finding_next_to_the_provider_kind(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    values = complete_values(received_on=date.today() - timedelta(days=6), document_id=_document_id())
    values |= {  # a private person reselling a list bought from a 名簿業者
        "provider.kind": "individual",
        "provider.legal_name": "田中一郎",
        "provider.address": "東京都江東区豊洲1-1",
        "provider.representative": "",
        "provider.corporate_number": "",
        "acquisition.source": "another_business",
        "acquisition.method": "purchase",
        "acquisition.description": "名簿業者から購入した顧客名簿",
        "acquisition.received_by": "consent",
        "acquisition.upstream[0].legal_name": "㈱名簿センター",
        "acquisition.upstream[0].address": "東京都豊島区池袋1-1",
        "acquisition.upstream[0].legal_ground": "consent",
        "acquisition.upstream[1].legal_name": "株式会社元収集者",
        "acquisition.upstream[1].legal_ground": "collected",
        "acquisition.upstream[1].collection_method": "web_form",
    }
    with airflow_web.client("acq-02", cookie=True) as client:
        answer = _post(client, airflow_web.csrf(client), values, _sample_data(tmp_path))
    assert answer.status_code == 200
    assert 'data-decision="rejected"' in answer.text
    assert 'data-testid="batch-id"' not in answer.text
    beside_kind = _wrapper(answer.text, "provider.kind")
    assert 'data-testid="field-finding" data-path="provider.kind" data-code="provider.individual"' in beside_kind
    assert "private person" in beside_kind  # the English message
    assert "提供者が個人です" in beside_kind  # and the code's Japanese meaning
    assert 'data-code="provider.individual"' not in _wrapper(answer.text, "provider.legal_name")
    assert 'data-testid="reupload-note"' in answer.text
    assert 'value="田中一郎"' in unescape(answer.text)


@pytest.mark.parametrize("missing", ["data", "kind"])
def test_a_form_without_a_data_file_or_an_evidence_kind_is_a_clear_400(
    airflow_web: AirflowWeb, tmp_path: Path, missing: str
) -> None:
    values = complete_values(received_on=date.today() - timedelta(days=6), document_id=_document_id())
    data = _sample_data(tmp_path)
    if missing == "kind":
        values["evidence[1].kind"] = ""
    with airflow_web.client("acq-01", cookie=True) as client:
        token = airflow_web.csrf(client)
        if missing == "data":
            fields = {"csrf_token": token, **values}
            answer = client.post("/upload/form", data=fields, files=[("placeholder", ("x.txt", b"x", "text/plain"))])
        else:
            answer = _post(client, token, values, data)
    assert answer.status_code == 400
    assert 'data-testid="form-error"' in answer.text
    expected = "choose the data file" if missing == "data" else "consent-screens.pdf): choose its kind"
    assert expected in unescape(answer.text)
