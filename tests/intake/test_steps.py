"""Step outcomes: the status values are what `intake run --json` and the DAG's logs show."""

from __future__ import annotations

from kakunin.intake.context import StepOutcome, StepStatus


def test_status_values_are_the_strings_already_published() -> None:
    published = ["done", "already done", "rejected", "skipped (rejected earlier)"]
    assert [s.value for s in StepStatus] == [*published, "awaiting approval (承認待ち)"]  # added: intake-policy.yaml


def test_an_outcome_dumps_its_status_as_the_plain_string() -> None:
    outcome = StepOutcome(batch="d/b", step="gate", status=StepStatus.SKIPPED)
    assert outcome.model_dump(mode="json")["status"] == "skipped (rejected earlier)"
    assert StepOutcome.model_validate({"batch": "d/b", "step": "gate", "status": "done"}).status is StepStatus.DONE
    assert f"{outcome.status}" == "skipped (rejected earlier)"
