"""expectations/exports.yaml: what a scheduled export may say, and the file that ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.errors import ConfigError
from kakunin.exports.release import plan_export
from kakunin.exports.schedule import SCHEDULE_FILE, ScheduledExports, load_schedule
from tests.conftest import REPO

GOOD = "  - {name: cohort, dataset: jp_customer_leads, purpose: product_research, requested_by: E1024}\n"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param(GOOD + GOOD, "repeated: cohort", id="same-name-twice"),
        pytest.param(GOOD.replace("E1024", "a@b.example"), "requested_by", id="an-email-as-staff-id"),
        pytest.param(GOOD.replace("cohort", "Cohort"), "name", id="name-not-an-identifier"),
        pytest.param(GOOD.replace("}", ", delivered_to: /tmp/x}"), "delivered_to", id="unknown-field"),
    ],
)
def test_a_broken_schedule_names_the_field(tmp_path: Path, entries: str, message: str) -> None:
    (tmp_path / SCHEDULE_FILE).write_text("exports:\n" + entries, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_schedule(tmp_path)


def test_no_file_means_no_scheduled_exports(tmp_path: Path) -> None:
    assert load_schedule(tmp_path) == ScheduledExports()


def test_the_shipped_schedule_plans_cleanly(registry: Registry) -> None:
    schedule = load_schedule(REPO / "expectations")
    assert schedule.exports
    for entry in schedule.exports:
        contract = registry.contract(entry.dataset)
        assert contract is not None, entry.name
        plan = plan_export(contract, registry.purposes, entry.purpose, entry.columns)
        assert plan.__class__.__name__ == "ExportPlan", (entry.name, plan)
