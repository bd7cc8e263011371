"""The daily review of the operation log (監査, APPI Art. 23, 24): who did what, what looks unusual,
and whether every chain is intact.

`review_day` is the run: it verifies the lineage (as `kakunin lineage verify` does), reads
the audit log, summarises the day per person, flags anomalies (`kakunin.audit.rules`),
writes `audit/reviews/<report_id>.json` and logs an AUDIT_REVIEW entry. The decisions in
between (`summarise`, `history_of`, `chain_verdicts`, `build_report`) are pure.
A report is written even when verification fails: the failure is what the reviewer must see.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from pydantic import ValidationError

from kakunin import audit
from kakunin.audit.formats import ChainVerdict, PersonDay, ReviewReport
from kakunin.audit.policy import AuditPolicy
from kakunin.audit.rules import DayFacts, find_anomalies, records_read, rows_exported, rows_touched
from kakunin.errors import StorageError
from kakunin.layout import AUDIT_CHAIN, AUDIT_REVIEWS, BatchRef, object_id, review_key, sign_off_key
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.lineage.record_digests import ContractFor
from kakunin.lineage.verify import VerifyReport, verify
from kakunin.storage import ObjectStore, load
from kakunin.yaml_io import dump_json

__all__ = [
    "ACTION_GROUPS",
    "as_people",
    "build_report",
    "chain_verdicts",
    "history_of",
    "overdue_reports",
    "person_of",
    "read_log",
    "review_day",
    "reviews",
    "summarise",
]

# The columns of the per-person summary: which audit actions each counts.
ACTION_GROUPS: dict[str, frozenset[str]] = {
    "submissions": frozenset({AuditAction.SUBMIT}),
    "approvals": frozenset({AuditAction.APPROVE, AuditAction.APPROVE_REFUSED}),
    "rejections": frozenset({AuditAction.REJECT}),
    "publishes": frozenset({AuditAction.PUBLISH}),
    "reads": frozenset({AuditAction.TRACE, AuditAction.SUBJECT_FIND, AuditAction.SUBJECT_DISCLOSE, AuditAction.READ}),
    "exports": frozenset({AuditAction.EXPORT, AuditAction.EXPORT_REFUSED}),
    "purges": frozenset({AuditAction.PURGE_OPEN, AuditAction.PURGE}),
    "requests": frozenset({AuditAction.SUBJECT_REQUEST, AuditAction.ERASURE_REQUEST}),
}
# Checks `lineage verify` always runs: each gets a verdict even when it found nothing.
BASE_CHECKS = ("chain", "seal", "manifest", "certificate", "correction", "curated", "audit")


def read_log(store: ObjectStore) -> tuple[list[AuditEntry], int]:
    """Every readable audit entry in sequence order, and how many could not be read (verify reports those)."""
    entries, unreadable = [], 0
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            entries.append(AuditEntry.model_validate_json(data))
        except ValidationError:
            unreadable += 1
    return entries, unreadable


def person_of(actor: str) -> str:
    """Whom the review counts an entry against: a scheduled DAG run (`airflow:<dag>/<run_id>`) is its DAG.

    Each scheduled run has its own id, so counted per run it would have no history: every run's
    volume would stand against a baseline of 0 and be flagged.
    """
    if actor.startswith("airflow:") and "/" in actor:
        return actor.partition("/")[0]
    return actor


def as_people(entries: Iterable[AuditEntry]) -> list[AuditEntry]:
    """The entries with each actor as `person_of` counts it (for the review's sums; the log is unchanged)."""
    return [e if person_of(e.actor) == e.actor else e.model_copy(update={"actor": person_of(e.actor)}) for e in entries]


def group_of(action: str) -> str:
    return next((name for name, actions in ACTION_GROUPS.items() if action in actions), "other")


def summarise(entries: Iterable[AuditEntry]) -> list[PersonDay]:
    """One `PersonDay` per actor of `entries`, sorted by actor."""
    by_actor: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        by_actor[entry.actor].append(entry)
    return [
        PersonDay(
            actor=actor,
            authenticated=all(e.actor_authenticated_by is not None for e in theirs),
            actions=dict(sorted(Counter(group_of(e.action) for e in theirs).items())),
            records_read=sum(records_read(e) for e in theirs),
            rows_exported=sum(rows_exported(e) for e in theirs),
        )
        for actor, theirs in sorted(by_actor.items())
    ]


def history_of(
    entries: Iterable[AuditEntry], policy: AuditPolicy, *, day: date, actors: Iterable[str]
) -> dict[str, list[int]]:
    """Each actor's rows read+exported on each of the `baseline_days` days before `day` (0 when idle)."""
    days = policy.volume.baseline_days
    first = day - timedelta(days=days)
    wanted = set(actors)
    totals: dict[str, Counter[date]] = {actor: Counter() for actor in wanted}
    for entry in entries:
        on = policy.day_of(entry.at)
        if entry.actor in wanted and first <= on < day:
            totals[entry.actor][on] += rows_touched(entry)
    return {actor: [counts[first + timedelta(days=i)] for i in range(days)] for actor, counts in totals.items()}


def chain_verdicts(report: VerifyReport) -> list[ChainVerdict]:
    """One verdict per check name: the checks verify always runs, then any other that found a problem."""
    problems = Counter(problem.check for problem in report.problems)
    names = list(BASE_CHECKS) + sorted(set(problems) - set(BASE_CHECKS))
    return [ChainVerdict(name=name, ok=problems[name] == 0, problems=problems[name]) for name in names]


def providers_of(store: ObjectStore, entries: Iterable[AuditEntry]) -> dict[tuple[str, str], str]:
    """The provider (corporate number) of each rejected batch, from its `rejection.json` where it names one."""
    found: dict[tuple[str, str], str] = {}
    for entry in entries:
        if entry.action != AuditAction.REJECT or not entry.dataset or not entry.batch_id:
            continue
        provider = entry.detail.get("provider")
        if not isinstance(provider, str):
            try:
                ref = BatchRef(entry.dataset, entry.batch_id)
                rejection = json.loads(store.get_bytes(ref.rejection)) if store.exists(ref.rejection) else {}
            except (StorageError, ValueError):
                continue
            named = (rejection.get("provider") or {}) if isinstance(rejection, dict) else {}
            provider = named.get("corporate_number") if isinstance(named, dict) else None
        if isinstance(provider, str) and provider:
            found[(entry.dataset, entry.batch_id)] = provider
    return found


def build_report(
    *,
    report_id: str,
    day: date,
    now: datetime,
    actor: str,
    policy: AuditPolicy,
    log: Sequence[AuditEntry],
    verified: VerifyReport,
    providers: dict[tuple[str, str], str],
    overdue: list[str],
) -> ReviewReport:
    """The day's report from the whole log (for the baselines) and the verification."""
    todays = [e for e in log if policy.day_of(e.at) == day]
    people = summarise(todays)
    facts = DayFacts(
        entries=todays,
        zone=policy.zone,
        history=history_of(log, policy, day=day, actors=[p.actor for p in people]),
        providers=providers,
    )
    return ReviewReport(
        report_id=report_id,
        day=day,
        created_at=now,
        created_by=actor,
        verified=verified.intact,
        chains=chain_verdicts(verified),
        entries=len(todays),
        first_sequence=todays[0].sequence if todays else None,
        last_sequence=todays[-1].sequence if todays else None,
        people=people,
        anomalies=find_anomalies(policy, facts),
        sign_off_due=policy.due(day),
        overdue_sign_offs=overdue,
    )


def reviews(store: ObjectStore) -> list[ReviewReport]:
    """Every review report in the store, oldest day first (unreadable ones are verify's to report)."""
    found = []
    for key in sorted(store.list_keys(AUDIT_REVIEWS + "/")):
        if object_id(key, AUDIT_REVIEWS) is None:
            continue
        try:
            found.append(load(store, key, ReviewReport))
        except (ValidationError, StorageError):
            continue
    return sorted(found, key=lambda r: (r.day, r.created_at))


def overdue_reports(store: ObjectStore, *, today: date) -> list[str]:
    """Ids of reports past their sign-off day (`today` after `sign_off_due`) with no sign-off."""
    return [
        r.report_id for r in reviews(store) if today > r.sign_off_due and not store.exists(sign_off_key(r.report_id))
    ]


def review_day(
    store: ObjectStore,
    *,
    day: date,
    now: datetime,
    policy: AuditPolicy,
    key: bytes | None = None,
    contract_for: ContractFor | None = None,
) -> ReviewReport:
    """Verify, review `day`, write the report (always, intact or not) and log AUDIT_REVIEW."""
    verified = verify(store, today=policy.day_of(now), key=key, contract_for=contract_for)
    log = as_people(read_log(store)[0])
    report_id = f"REV-{day:%Y%m%d}-{secrets.token_hex(3)}"
    report = build_report(
        report_id=report_id,
        day=day,
        now=now,
        actor=audit.current_actor(),
        policy=policy,
        log=log,
        verified=verified,
        providers=providers_of(store, (e for e in log if policy.day_of(e.at) == day)),
        overdue=overdue_reports(store, today=policy.day_of(now)),
    )
    if not store.put_bytes_if_absent(review_key(report_id), dump_json(report)):
        raise StorageError(f"{review_key(report_id)} exists already: a review report is written once")
    audit.record(
        store,
        AuditAction.AUDIT_REVIEW,
        at=now,
        document_id=report_id,
        detail={
            "day": day.isoformat(),
            "verified": report.verified,
            "anomalies": len(report.anomalies),
            "entries": report.entries,
        },
    )
    return report
