"""Take-out limits: which rule applies, where a limit trips, and what the day is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kakunin.errors import ConfigError
from kakunin.exports.formats import ExportReceipt
from kakunin.exports.takeout import TakeoutPolicy, alerted, load_policy, measure, refused
from kakunin.lineage.formats import StoredObject

POLICY = TakeoutPolicy.model_validate(
    {
        "timezone": "+09:00",
        "default": {"rows_per_day": 100, "exports_per_day": 2, "columns": 3, "on_exceed": "refuse"},
        "rules": [
            {"purpose": "product_research", "rows_per_day": 1000},
            {"person": "lead", "rows_per_day": 500, "on_exceed": "alert"},
            {"person": "lead", "purpose": "product_research", "rows_per_day": 5000},
        ],
    }
)


def _receipt(person: str, purpose: str, rows: int, at: datetime) -> ExportReceipt:
    stored = StoredObject(key="exports/d/x/data.parquet", sha256="0" * 64, rows=rows)
    return ExportReceipt(
        export_id=f"EXP-{at:%H%M%S}",
        dataset="jp_customer_leads",
        purpose=purpose,
        columns=["customer_no"],
        requested_by=person,
        actor=person,
        created_at=at,
        rows=rows,
        source_batches=[],
        retention_until=date(2030, 1, 1),
        data=stored,
        manifest=stored,
    )


def test_the_most_specific_rule_wins_and_inherits_the_rest_from_the_default() -> None:
    assert POLICY.limits_for("someone", "marketing_email").rows_per_day == 100
    assert POLICY.limits_for("someone", "product_research").rows_per_day == 1000
    lead_email = POLICY.limits_for("lead", "marketing_email")
    assert (lead_email.rows_per_day, lead_email.on_exceed, lead_email.columns) == (500, "alert", 3)
    lead_research = POLICY.limits_for("lead", "product_research")
    assert (lead_research.rows_per_day, lead_research.on_exceed) == (5000, "alert")


def test_rows_trip_one_past_the_limit_counting_the_same_day_only() -> None:
    at = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
    earlier = [
        _receipt("someone", "marketing_email", 60, datetime(2026, 11, 27, 0, 30, tzinfo=UTC)),  # 09:30 JST, same day
        _receipt(
            "someone", "marketing_email", 999, datetime(2026, 11, 26, 14, 59, tzinfo=UTC)
        ),  # 23:59 JST, day before
        _receipt("someone", "marketing_post", 999, at),  # another purpose
        _receipt("other", "marketing_email", 999, at),  # another person
    ]
    at_limit = measure(POLICY, person="someone", purpose="marketing_email", rows=40, columns=3, at=at, earlier=earlier)
    assert not refused(at_limit)
    assert not alerted(at_limit)
    over = measure(POLICY, person="someone", purpose="marketing_email", rows=41, columns=3, at=at, earlier=earlier)
    (rows,) = [c for c in over if c.exceeded]
    assert (rows.limit, rows.allowed, rows.measured) == ("rows_per_day", 100, 101)
    assert refused(over)


def test_exports_per_day_and_columns_trip_too() -> None:
    at = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    two = [_receipt("someone", "marketing_email", 1, at), _receipt("someone", "marketing_email", 1, at)]
    third = measure(POLICY, person="someone", purpose="marketing_email", rows=1, columns=4, at=at, earlier=two)
    assert {c.limit for c in third if c.exceeded} == {"exports_per_day", "columns"}


def test_alert_lets_an_export_through_flagged() -> None:
    at = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    checks = measure(POLICY, person="lead", purpose="marketing_email", rows=501, columns=1, at=at, earlier=[])
    assert alerted(checks)
    assert not refused(checks)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: '9'\n", "not a UTC offset"),
        ("rules:\n  - {rows_per_day: 3}\n", "names a person, a purpose or both"),
        ("default: {rows_per_day: -1}\n", "rows_per_day"),
        ("rules:\n  - {person: a}\n  - {person: a}\n", "two rules"),
    ],
)
def test_a_broken_policy_is_a_clear_config_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "takeout-policy.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_policy(tmp_path)


def test_without_a_policy_file_the_defaults_still_limit(tmp_path: Path) -> None:
    policy = load_policy(tmp_path)
    assert policy.default.rows_per_day > 0
    assert policy.default.on_exceed == "refuse"


def test_the_shipped_policy_loads() -> None:
    policy = load_policy(Path(__file__).parent.parent / "expectations")
    assert policy.limits_for("mkt-lead-01", "marketing_email").on_exceed == "alert"


def test_one_person_is_one_person_whatever_the_case_of_their_id() -> None:
    at = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    earlier = [_receipt("E1024", "marketing_email", 100, at)]
    again = measure(POLICY, person="e1024 ", purpose="marketing_email", rows=1, columns=1, at=at, earlier=earlier)
    assert refused(again)
    assert POLICY.limits_for("LEAD", "marketing_email").on_exceed == "alert"
