"""Every command that shows record-level data writes an audit entry with its actor.

From the CLI the actor is self-declared (KAKUNIN_ACTOR): `actor_authenticated_by` is null.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kakunin_dev.people import HANAKO
from tests.audit.helpers import audit_entries
from tests.conftest import kakunin_runner
from tests.subjects.conftest import KEY, TwoProviders

READER = "u-reader"
# UTC as the business day: `subject disclose` compares the Tokyo date with the UTC one (a gap late in the UTC day).
ENV = {"KAKUNIN_HMAC_KEY": KEY.hex(), "KAKUNIN_TIMEZONE": "UTC"}


def _hanako_record(home: Path) -> str:
    run = kakunin_runner(home, base_env={**ENV, "KAKUNIN_ACTOR": "u-setup"})(
        "subject", "find", "--email", HANAKO.email, "--json"
    )
    assert run.code == 0, run.stderr
    return str(json.loads(run.stdout)["records"][0]["record_id"])


@pytest.mark.parametrize(
    ("command", "action"),
    [
        pytest.param(("lineage", "trace", "RECORD"), "trace", id="lineage-trace"),
        pytest.param(("subject", "find", "--email", HANAKO.email), "subject-find", id="subject-find"),
        pytest.param(
            ("subject", "disclose", "--email", HANAKO.email, "--out", "OUT"), "subject-disclose", id="disclose"
        ),
        pytest.param(("subject", "requests"), "read", id="subject-requests"),
    ],
)
def test_a_record_level_read_is_logged_with_its_self_declared_actor(
    two_providers: TwoProviders, tmp_path: Path, command: tuple[str, ...], action: str
) -> None:
    home: Path = two_providers.store.root  # type: ignore[attr-defined]
    record_id = _hanako_record(home)
    before = len(audit_entries(home, action))
    args = [record_id if a == "RECORD" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    run = kakunin_runner(home, base_env={**ENV, "KAKUNIN_ACTOR": READER})(*args)
    assert run.code == 0, run.stdout + run.stderr
    logged = audit_entries(home, action)[before:]
    assert [(e.actor, e.actor_authenticated_by) for e in logged] == [(READER, None)]
    assert HANAKO.email not in logged[0].model_dump_json()  # ids and counts, never the person's data
    if action != "read":
        assert logged[0].record_ids  # which records were shown
