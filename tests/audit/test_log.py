"""`kakunin audit log`: the operation log filtered (a pure `select`), and the command staff run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kakunin import audit
from kakunin.audit.log import LogFilter, select
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import LocalStore
from tests.conftest import Run

TOKYO = ZoneInfo("Asia/Tokyo")


def entry(sequence: int, at: str, actor: str, action: str, dataset: str | None = None) -> AuditEntry:
    return AuditEntry(
        sequence=sequence, at=datetime.fromisoformat(at), actor=actor, action=action, dataset=dataset, previous=None
    )


LOG = [
    entry(1, "2026-11-24T10:00:00+00:00", "alice", "submit", "jp_customer_leads"),
    entry(2, "2026-11-24T16:00:00+00:00", "bob", "approve", "jp_customer_leads"),  # 11-25 01:00 in Tokyo
    entry(3, "2026-11-25T09:00:00+00:00", "Alice", "read", None),
    entry(4, "2026-11-26T09:00:00+00:00", "carol", "trace", "jp_entrusted_mailing"),
]


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        pytest.param({}, [1, 2, 3, 4], id="everything-oldest-first"),
        pytest.param({"actor": "ALICE"}, [1, 3], id="actor-case-ignored"),
        pytest.param({"action": "approve"}, [2], id="action"),
        pytest.param({"dataset": "jp_customer_leads"}, [1, 2], id="dataset"),
        pytest.param({"from_day": date(2026, 11, 25)}, [2, 3, 4], id="from-inclusive-in-tokyo"),
        pytest.param({"to_day": date(2026, 11, 24)}, [1], id="to-inclusive-in-tokyo"),
        pytest.param({"from_day": date(2026, 11, 25), "to_day": date(2026, 11, 25)}, [2, 3], id="one-day"),
        pytest.param({"limit": 2}, [3, 4], id="limit-keeps-the-newest"),
        pytest.param({"actor": "alice", "limit": 1}, [3], id="limit-after-the-filters"),
        pytest.param({"actor": "nobody"}, [], id="none"),
    ],
)
def test_select(filters: dict[str, object], kept: list[int]) -> None:
    assert [e.sequence for e in select(LOG, LogFilter.model_validate(filters), zone=TOKYO)] == kept


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"action": "rewrite-history"}, id="unknown-action"),
        pytest.param({"from_day": date(2026, 11, 26), "to_day": date(2026, 11, 25)}, id="from-after-to"),
        pytest.param({"limit": 0}, id="limit-zero"),
    ],
)
def test_a_bad_filter_is_refused(filters: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LogFilter.model_validate(filters)


@pytest.fixture
def logged(kakunin: Callable[..., Run]) -> Callable[..., Run]:
    """A store whose log holds a self-declared read, an Airflow-vouched approval and a submit."""
    store = LocalStore(kakunin.home)  # type: ignore[attr-defined]
    at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    audit.record(store, AuditAction.SUBMIT, at=at, actor="alice", dataset="jp_customer_leads", batch_id="B1")
    with audit.acting_as(audit.Actor(id="bob", authenticated_by="airflow")):
        audit.record(store, AuditAction.APPROVE, at=at, dataset="jp_customer_leads", batch_id="B1")
    audit.record(store, AuditAction.READ, at=at, actor="alice", detail={"view": "subject requests"})
    return kakunin


def test_audit_log_shows_the_filtered_entries_with_the_self_declared_mark(logged: Callable[..., Run]) -> None:
    run = logged("audit", "log", "--actor", "alice", "--from", "2026-11-25", "--to", "2026-11-25", "--json")
    assert run.code == 0, run.stderr
    found = run.json()["entries"]
    assert [(e["action"], e["actor"], e["self_declared"]) for e in found] == [
        ("submit", "alice", True),
        ("read", "alice", True),
    ]
    text = logged("audit", "log")
    assert text.code == 0, text.stderr
    assert "bob (airflow)" in text.stdout
    assert "alice (self-declared)" in text.stdout
    assert logged("audit", "log", "--from", "2026-11-26", "--json").json()["count"] == 0


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--action", "rewrite-history"), id="unknown-action"),
        pytest.param(("--from", "2026-11-26", "--to", "2026-11-25"), id="from-after-to"),
        pytest.param(("--from", "yesterday"), id="bad-date"),
        pytest.param(("--limit", "0"), id="limit-zero"),
    ],
)
def test_audit_log_refuses_a_bad_filter(logged: Callable[..., Run], args: tuple[str, ...]) -> None:
    run = logged("audit", "log", *args)
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip()


def test_audit_log_of_an_empty_store(kakunin: Callable[..., Run], tmp_path: Path) -> None:
    run = kakunin("audit", "log")
    assert (run.code, run.stdout) == (0, "no audit entries match\n")
