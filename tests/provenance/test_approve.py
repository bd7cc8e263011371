"""Submit and approve tied to user ids: the submitting user on record, a second user's approval (二者確認),
and the intake policy that waits for it (承認待ち). Through the real `kakunin` command."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakunin.contracts import default_expectations_root
from tests.audit.helpers import audit_entries
from tests.conftest import Run, edits

AS_OF = ("--as-of", "2026-11-26")
KEY = {"KAKUNIN_HMAC_KEY": "ab" * 32}
Kakunin = Callable[..., Run]


def as_user(user: str) -> dict[str, str]:
    return {"KAKUNIN_ACTOR": user, **KEY}


def submit(kakunin: Kakunin, batch: Path, user: str, **env: str) -> str:
    run = kakunin("provenance", "submit", str(batch), "--json", *AS_OF, env={**as_user(user), **env})
    assert run.code == 0, run.stdout + run.stderr
    return str(run.json()["batch_id"])


def submission_of(kakunin: Kakunin, batch_id: str) -> dict[str, Any]:
    home: Path = kakunin.home  # type: ignore[attr-defined]
    return json.loads(next(home.glob(f"landing/*/{batch_id}/_submission.json")).read_text(encoding="utf-8"))


@pytest.fixture
def required(tmp_path: Path) -> dict[str, str]:
    """The repository's expectations with `approval: required`."""
    root = tmp_path / "expectations"
    shutil.copytree(default_expectations_root(), root)
    (root / "intake-policy.yaml").write_text("approval: required\n", encoding="utf-8")
    return {"KAKUNIN_EXPECTATIONS": str(root), **KEY}


def test_submit_records_the_submitting_user_and_a_submit_entry(make_batch: Any, kakunin: Kakunin) -> None:
    batch_id = submit(kakunin, make_batch(), "u-alice")  # with the key: the entry is sealed
    submission = submission_of(kakunin, batch_id)
    assert (submission["submitted_by"], submission["submitted_by_authenticated_by"]) == ("u-alice", None)
    [entry] = audit_entries(kakunin.home, "submit")  # type: ignore[attr-defined]
    assert (entry.actor, entry.actor_authenticated_by, entry.batch_id) == ("u-alice", None, batch_id)
    assert entry.document_id == submission["document_id"]
    assert (entry.detail, entry.record_ids) == ({}, [])


@pytest.mark.parametrize(
    "approver",
    [pytest.param("U-Alice", id="the-submitting-user"), pytest.param("e1024", id="the-documents-submitted_by")],
)
def test_an_approver_approving_their_own_submission_is_refused(
    make_batch: Any, kakunin: Kakunin, approver: str
) -> None:
    batch_id = submit(kakunin, make_batch(), "u-alice")
    run = kakunin("provenance", "approve", batch_id, env=as_user(approver))
    assert run.code == 1, run.stdout + run.stderr
    assert run.stderr.startswith("error: ")
    assert "二者確認" in run.stderr
    [refused] = audit_entries(kakunin.home, "approve-refused")  # type: ignore[attr-defined]
    assert (refused.actor, refused.codes, refused.batch_id) == (approver, ["four_eyes"], batch_id)
    assert not list(kakunin.home.glob("landing/*/*/_approval.json"))  # type: ignore[attr-defined]


def test_a_second_user_approves_once(make_batch: Any, kakunin: Kakunin) -> None:
    batch_id = submit(kakunin, make_batch(), "u-alice")
    run = kakunin("provenance", "approve", batch_id, "--note", "checked the contract", "--json", env=as_user("u-bob"))
    assert run.code == 0, run.stdout + run.stderr
    assert (run.json()["approved_by"], run.json()["authenticated_by"]) == ("u-bob", None)
    approval = json.loads(next(kakunin.home.glob(f"landing/*/{batch_id}/_approval.json")).read_text())  # type: ignore[attr-defined]
    assert (approval["approved_by"], approval["note"]) == ("u-bob", "checked the contract")
    [entry] = audit_entries(kakunin.home, "approve")  # type: ignore[attr-defined]
    assert (entry.actor, entry.actor_authenticated_by, entry.batch_id) == ("u-bob", None, batch_id)

    again = kakunin("provenance", "approve", batch_id, env=as_user("u-carol"))
    assert again.code == 1
    assert "already approved by u-bob" in again.stderr
    assert len(audit_entries(kakunin.home, "approve")) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("20990101T000000000000Z-deadbeef",), id="unknown-batch"),
        pytest.param(("BATCH", "--note", ""), id="empty-note"),
        pytest.param(("BATCH", "NOKEY"), id="without-the-hmac-key"),
    ],
)
def test_approve_cannot_run_on_bad_input(make_batch: Any, kakunin: Kakunin, args: tuple[str, ...]) -> None:
    batch_id = submit(kakunin, make_batch(), "u-alice")
    env = {**as_user("u-bob"), "KAKUNIN_HMAC_KEY": ""} if "NOKEY" in args else as_user("u-bob")
    args = tuple(batch_id if a == "BATCH" else a for a in args if a != "NOKEY")
    run = kakunin("provenance", "approve", *args, env=env)
    assert run.code == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert not audit_entries(kakunin.home, "approve")  # type: ignore[attr-defined]


def test_required_approval_leaves_the_batch_pending_until_a_second_user_approves(
    make_batch: Any, kakunin: Kakunin, required: dict[str, str]
) -> None:
    batch_id = submit(kakunin, make_batch(), "u-alice", **required)
    waiting = kakunin("intake", "run", "--json", *AS_OF, env=required)
    assert waiting.code == 0, waiting.stdout + waiting.stderr
    assert [r["decision"] for r in waiting.json()] == ["awaiting_approval"]
    listed = kakunin("batches", env=required)
    assert "awaiting approval (承認待ち)" in listed.stdout
    assert submission_of(kakunin, batch_id)  # still in landing, neither rejected nor published

    assert kakunin("provenance", "approve", batch_id, env={**required, **as_user("u-bob")}).code == 0
    taken = kakunin("intake", "run", "--json", *AS_OF, env=required)
    assert [r["decision"] for r in taken.json()] == ["published"], taken.stdout + taken.stderr
    [accept] = audit_entries(kakunin.home, "accept")  # type: ignore[attr-defined]
    assert accept.detail["approved_by"] == "u-bob"
    home: Path = kakunin.home  # type: ignore[attr-defined]
    receipt = json.loads(next(home.glob(f"lineage/receipts/*/{batch_id}.json")).read_text(encoding="utf-8"))
    assert (receipt["approved_by_user"], receipt["approved_by_user_authenticated_by"]) == ("u-bob", None)


def test_without_the_policy_intake_takes_an_unapproved_batch_as_today(make_batch: Any, kakunin: Kakunin) -> None:
    submit(kakunin, make_batch(), "u-alice")
    run = kakunin("intake", "run", "--json", *AS_OF, env=KEY)
    assert [r["decision"] for r in run.json()] == ["published"], run.stdout + run.stderr


def test_the_gate_rejects_a_batch_submitted_by_the_approver_the_document_names(
    make_batch: Any, kakunin: Kakunin
) -> None:
    submit(kakunin, make_batch(edits(approved_by="u-alice")), "U-ALICE")
    run = kakunin("intake", "run", "--json", *AS_OF, env=KEY)
    [result] = run.json()
    assert (result["decision"], result["stage"]) == ("rejected", "provenance"), run.stdout
    assert "four_eyes" in result["codes"]
