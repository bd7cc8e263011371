"""The approval rules as pure functions: who may approve, and the intake policy file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kakunin.approvals import Approval, IntakePolicy, load_intake_policy, refusal, self_approval
from kakunin.batches import Submission
from kakunin.codes import ReasonCode
from kakunin.errors import ConfigError

AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def submission(submitted_by: str | None) -> Submission:
    return Submission(
        batch_id="B1",
        dataset="jp_customer_leads",
        document_id="PRV-2026-000001",
        document_sha256="0" * 64,
        document_file="provenance.yaml",
        data_file="data.csv",
        submitted_at=AT,
        files=[],
        findings=[],
        submitted_by=submitted_by,
    )


class Doc:
    """The two fields of a provenance document the rules read."""

    def __init__(self, submitted_by: str, approved_by: str | None) -> None:
        self.submitted_by, self.approved_by = submitted_by, approved_by


EARLIER = Approval(batch_id="B1", dataset="jp_customer_leads", approved_by="u-bob", at=AT)


@pytest.mark.parametrize(
    ("approver", "submitted_by", "earlier", "code", "says"),
    [
        pytest.param("u-bob", "u-alice", None, None, None, id="a-second-user-may"),
        pytest.param(" U-ALICE ", "u-alice", None, ReasonCode.FOUR_EYES, "二者確認", id="the-submitter"),
        pytest.param("E1024", "u-alice", None, ReasonCode.FOUR_EYES, "submitted_by", id="the-documents-submitter"),
        pytest.param("u-carol", "u-alice", EARLIER, None, "already approved by u-bob", id="already-approved"),
        pytest.param(
            "u-bob",
            None,
            None,
            ReasonCode.FOUR_EYES,
            "submit it again",
            id="a-submission-from-before-users-were-recorded",
        ),
    ],
)
def test_refusal(approver: str, submitted_by: str | None, earlier: Any, code: Any, says: str | None) -> None:
    why = refusal(
        approver=approver,
        submission=submission(submitted_by),
        document=Doc("e1024", "E2048"),  # type: ignore[arg-type]
        earlier=earlier,
    )
    if says is None:
        assert why is None
    else:
        assert why is not None
        assert says in why[0]
        assert why[1] == code


@pytest.mark.parametrize(
    ("submitted_by", "approved_by", "refused"),
    [
        pytest.param("u-alice", "U-Alice", True, id="the-approver-named-submitted-it"),
        pytest.param("u-alice", "E2048", False, id="someone-else"),
        pytest.param(None, "E2048", False, id="no-user-recorded"),
        pytest.param("u-alice", None, False, id="no-approver-named"),
    ],
)
def test_self_approval(submitted_by: str | None, approved_by: str | None, refused: bool) -> None:
    found = self_approval(submission(submitted_by), Doc("E1024", approved_by))  # type: ignore[arg-type]
    assert (found is not None and found.code is ReasonCode.FOUR_EYES) is refused


def test_the_policy_defaults_to_the_document_and_refuses_an_unknown_value(tmp_path: Path) -> None:
    assert load_intake_policy(tmp_path) == IntakePolicy(approval="document")
    (tmp_path / "intake-policy.yaml").write_text("approval: required\n", encoding="utf-8")
    assert load_intake_policy(tmp_path).approval == "required"
    (tmp_path / "intake-policy.yaml").write_text("approval: sometimes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"intake-policy\.yaml: approval"):
        load_intake_policy(tmp_path)


@pytest.mark.parametrize(
    ("approver_by", "submitter_by", "says"),
    [
        pytest.param("airflow", "airflow", None, id="both-airflow-users"),
        pytest.param(None, "airflow", "approve in the web app", id="a-self-declared-approver"),
        pytest.param("airflow", None, "submit it in the web app", id="a-self-declared-submitter"),
    ],
)
def test_an_authenticated_policy_takes_only_approvals_airflow_vouches_for(
    approver_by: str | None, submitter_by: str | None, says: str | None
) -> None:
    from kakunin.approvals import unvouched
    from kakunin.audit import Actor

    batch = submission("u-alice").model_copy(update={"submitted_by_authenticated_by": submitter_by})
    why = unvouched(Actor(id="u-bob", authenticated_by=approver_by), batch)
    assert (why is None) == (says is None)
    assert says is None or says in (why or "")


def test_the_authenticated_policy_waits_for_approval_like_required(tmp_path: Path) -> None:
    (tmp_path / "intake-policy.yaml").write_text("approval: authenticated\n", encoding="utf-8")
    policy = load_intake_policy(tmp_path)
    assert policy.approval == "authenticated"
    assert policy.needs_approval
    assert not IntakePolicy().needs_approval
