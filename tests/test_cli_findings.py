"""Bad values in a provenance document are `schema` findings with a path, never `unexpected ...`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakunin.codes import ReasonCode
from kakunin.contracts import Registry
from kakunin.provenance.document import check_path
from tests.conftest import TODAY, edits

MakeBatch = Callable[..., Path]
MARK = "REPLACED-BY-THE-TEST"


def _with_raw(make_batch: MakeBatch, dotted: str, raw: str, *, as_json: bool = False) -> Path:
    """A batch whose document has the unquoted text `raw` at `dotted` (as a person would type it)."""
    batch = make_batch(edits(**{dotted.replace(".", "__"): MARK}), as_json=as_json)
    (document,) = [p for p in batch.iterdir() if p.name.startswith("provenance.")]
    text = document.read_text(encoding="utf-8")
    quoted = json.dumps(MARK) if as_json else MARK
    assert quoted in text
    document.write_text(text.replace(quoted, raw), encoding="utf-8")
    return batch


@pytest.mark.parametrize(
    ("dotted", "raw", "as_json"),
    [
        pytest.param("received_on", "2026-13-01", False, id="month-13"),
        pytest.param("received_on", "2026-02-30", False, id="february-30"),
        pytest.param("received_on", "0001-01-01", False, id="year-1"),
        pytest.param("received_on", "2026-11-20 10:00:00", False, id="date-and-time"),
        pytest.param("received_on", "2026-11-25 25:00:00", False, id="hour-25"),
        pytest.param("acquisition.period.from", "2024-02-30", False, id="nested-date"),
        pytest.param("received_on", '"2026-13-01"', True, id="json-month-13"),
        pytest.param("received_on", "20261120", True, id="json-number"),
        pytest.param("legal_ground", "maybe", False, id="bad-enum"),
        pytest.param("special_care", "yes", False, id="text-for-a-bool"),
        pytest.param("notice.url", "not a url", False, id="bad-url"),
        pytest.param("provider.country", "[JP]", False, id="list-for-text"),
        pytest.param("purposes", "{}", False, id="mapping-for-list"),
    ],
)
def test_a_bad_value_is_a_schema_finding_at_its_path(
    make_batch: MakeBatch, registry: Registry, dotted: str, raw: str, as_json: bool
) -> None:
    verdict = check_path(_with_raw(make_batch, dotted, raw, as_json=as_json), registry=registry, today=TODAY)
    assert verdict.decision == "rejected"
    at_path = [f for f in verdict.findings if f.path == dotted]
    assert [f.code for f in at_path] == [ReasonCode.SCHEMA], verdict.findings
    assert not at_path[0].message.startswith("Value error")


def test_an_absent_optional_country_is_no_finding_and_no_crash(make_batch: MakeBatch, registry: Registry) -> None:
    verdict = check_path(make_batch(edits(provider__country=None)), registry=registry, today=TODAY)
    assert [f for f in verdict.findings if f.path == "provider.country"] == []


def test_an_impossible_date_from_the_command_line(make_batch: MakeBatch, kakunin: Any) -> None:
    batch = _with_raw(make_batch, "received_on", "2026-13-01")
    check = kakunin("provenance", "check", str(batch), "--json", "--as-of", "2026-11-26")
    assert check.code == 1, check.stderr
    assert "unexpected" not in check.stdout + check.stderr
    (finding,) = [f for f in check.json()["findings"] if f["path"] == "received_on"]
    assert finding["code"] == "schema"
    assert "2026-13-01" in finding["message"]
    submit = kakunin("provenance", "submit", str(batch), "--as-of", "2026-11-26")
    assert submit.code == 1
    assert "received_on" in submit.stdout
    assert "not landed" in submit.stdout
