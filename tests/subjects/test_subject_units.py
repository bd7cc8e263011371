"""The pure parts of `kakunin subject`: deadlines, stop digests, the disclosure page, the find table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kakunin.cli.subjects import find_text
from kakunin.contracts import IdentifierKind
from kakunin.errors import InputError
from kakunin.layout import erasure_request_key
from kakunin.storage import LocalStore
from kakunin.subjects.disclose import NONE_HELD, disclosure_html
from kakunin.subjects.find import FoundRecord, RecordState, erased_records
from kakunin.subjects.formats import IdentifierDigest, Regime, RequestKind
from kakunin.subjects.register import DuePolicy
from kakunin.subjects.requests import open_request, regimes_of
from kakunin.subjects.stops import stop_digests


def record(record_id: str = "r1", *, eu: bool = False, **changes: Any) -> FoundRecord:
    fields: dict[str, Any] = {
        "record_id": record_id,
        "dataset": "jp_customer_leads",
        "batch_id": "b1",
        "provider": "株式会社サンプルデータ",
        "provider_corporate_number": None,
        "received_on": date(2026, 11, 20),
        "purposes": ["marketing_email"],
        "legal_ground": "consent",
        "retention_until": date(2029, 11, 20),
        "state": RecordState.LIVE,
        "matched_by": ["email"],
        "curated_file": None,
        "eu_origin": eu,
    }
    return FoundRecord(**{**fields, **changes})


@pytest.mark.parametrize(
    ("records", "regimes", "due"),
    [
        pytest.param([], {Regime.APPI}, date(2026, 12, 4), id="no-records-appi"),
        pytest.param([record()], {Regime.APPI}, date(2026, 12, 4), id="japanese-14-days"),
        pytest.param([record(eu=True)], {Regime.GDPR}, date(2026, 12, 20), id="eu-only-one-month"),
        pytest.param([record(), record("r2", eu=True)], {Regime.APPI, Regime.GDPR}, date(2026, 12, 4), id="both"),
    ],
)
def test_the_deadline_is_the_earliest_of_the_regimes_reached(
    records: list[FoundRecord], regimes: set[Regime], due: date
) -> None:
    assert regimes_of(records) == regimes
    assert DuePolicy().due_on(date(2026, 11, 20), regimes) == due


def test_a_configured_period_replaces_the_default() -> None:
    policy = DuePolicy(due={Regime.APPI: "P30D", Regime.GDPR: "P1M"})
    assert policy.due_on(date(2026, 1, 31), {Regime.APPI, Regime.GDPR}) == date(2026, 2, 28)


def test_a_stop_lists_each_digest_once() -> None:
    email = IdentifierDigest(kind=IdentifierKind.EMAIL, digest="a" * 64)
    found = [("email", "a" * 64), ("phone", "b" * 64), ("phone", "b" * 64)]
    assert [(d.kind.value, d.digest) for d in stop_digests([email], found)] == [
        ("email", "a" * 64),
        ("phone", "b" * 64),
    ]


def test_the_disclosure_page_escapes_everything_and_says_when_nothing_is_held() -> None:
    document = {
        "request_id": "SR-1",
        "written_at": "2026-11-27T00:00:00+00:00",
        "summary": "We hold 1 record(s) of this person.",
        "records": [
            {
                **record().model_dump(mode="json"),
                "data": {"name_kanji": "<script>alert(1)</script>", "email": "a&b@example.invalid"},
            }
        ],
        "receipts": [{"batch": "d/b1", "receipt": {"provider": {"legal_name": "株式会社<サンプル>"}}}],
    }
    html = disclosure_html(document)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&amp;b@example.invalid" in html
    assert "株式会社&lt;サンプル&gt;" in html
    empty = disclosure_html({**document, "records": [], "receipts": [], "summary": NONE_HELD})
    assert "保有しておりません" in empty


def test_the_find_table_shows_state_with_the_stop_and_counts() -> None:
    text = find_text([record(state=RecordState.STOPPED, stop_id="STOP-1"), record("r2")])
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["record", "dataset", "batch"]
    assert "stopped (STOP-1)" in lines[1]
    assert lines[-1] == "2 record(s)"
    assert find_text([]) == "no records of this person\n"


def test_records_an_erasure_reached_are_read_from_requests_that_name_the_person(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    person = {"identifiers": [{"kind": "email", "digest": "a" * 64}], "record_ids": ["r1", "r2"]}
    other = {"identifiers": [{"kind": "email", "digest": "c" * 64}], "record_ids": ["r9"]}
    older = {"request_id": "ER-0", "dataset": "d", "subject_digest": "e" * 64}  # before requests named identifiers
    for request_id, doc in (("ER-1", person), ("ER-2", other), ("ER-0", older)):
        store.put_bytes(erasure_request_key(request_id), json.dumps({"dataset": "d", **doc}).encode())
    assert sorted(erased_records(store, {"a" * 64, "b" * 64})) == [("r1", "d", ""), ("r2", "d", "")]
    assert erased_records(store, {"b" * 64}) == []


def test_an_action_refuses_a_request_that_is_not_in_the_register(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no request 'SR-nope' in the register"):
        open_request(LocalStore(tmp_path), "SR-nope", RequestKind.DISCLOSE, today=date(2026, 11, 27))
