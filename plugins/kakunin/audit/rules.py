"""The review's anomaly rules: one small object per rule, its threshold from the audit policy.

Contract: a rule has a `kind` and `find(day) -> list[Anomaly]`, a pure function of the
day's facts (`DayFacts`: the day's entries, each person's baseline, each rejected batch's
provider). An anomaly names actors, ids, counts and audit sequences, never personal data.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Protocol

from kakunin.audit.formats import Anomaly, AnomalyKind
from kakunin.audit.policy import AuditPolicy, WorkingHours
from kakunin.codes import ReasonCode
from kakunin.lineage.formats import AuditAction, AuditEntry

READ_ACTIONS = frozenset({AuditAction.TRACE, AuditAction.SUBJECT_FIND, AuditAction.SUBJECT_DISCLOSE, AuditAction.READ})


def records_read(entry: AuditEntry) -> int:
    """Records a read entry showed: its record ids, or its `records` count when larger; 0 for other entries."""
    if entry.action not in READ_ACTIONS:
        return 0
    counted = entry.detail.get("records")
    return max(len(entry.record_ids), counted if isinstance(counted, int) and not isinstance(counted, bool) else 0)


def rows_exported(entry: AuditEntry) -> int:
    """Rows an EXPORT entry released (its detail `rows`); 0 for other entries."""
    rows = entry.detail.get("rows")
    if entry.action != AuditAction.EXPORT or isinstance(rows, bool) or not isinstance(rows, int):
        return 0
    return rows


def export_id(entry: AuditEntry) -> str:
    """The export an entry is about: its detail `export_id`, else its document id."""
    named = entry.detail.get("export_id")
    return named if isinstance(named, str) else entry.document_id or "(no id)"


def rows_touched(entry: AuditEntry) -> int:
    return records_read(entry) + rows_exported(entry)


@dataclass(frozen=True)
class DayFacts:
    """What the rules look at: the day's entries, each person's earlier daily totals, providers of batches."""

    entries: Sequence[AuditEntry]
    zone: tzinfo
    history: dict[str, list[int]] = field(default_factory=dict)  # actor → rows per earlier day (0 when idle)
    providers: dict[tuple[str, str], str] = field(default_factory=dict)  # (dataset, batch_id) → provider id


class Rule(Protocol):
    @property
    def kind(self) -> AnomalyKind: ...

    def find(self, day: DayFacts) -> list[Anomaly]: ...


@dataclass(frozen=True)
class Volume:
    """More rows read and exported than `factor` × the person's baseline (median day), and above `floor`."""

    factor: float
    floor: int
    kind: AnomalyKind = AnomalyKind.VOLUME

    def find(self, day: DayFacts) -> list[Anomaly]:
        totals: Counter[str] = Counter()
        sequences: dict[str, list[int]] = defaultdict(list)
        for entry in day.entries:
            if rows_touched(entry):
                totals[entry.actor] += rows_touched(entry)
                sequences[entry.actor].append(entry.sequence)
        found = []
        for actor, total in sorted(totals.items()):
            baseline = statistics.median(day.history.get(actor) or [0])
            if total > self.floor and total > self.factor * baseline:
                found.append(
                    Anomaly(
                        kind=self.kind,
                        actor=actor,
                        summary=f"{total} rows read or exported; baseline {baseline:g} a day "
                        f"(flagged above {self.factor:g}× and above {self.floor})",
                        entries=sequences[actor],
                    )
                )
        return found


@dataclass(frozen=True)
class OffHours:
    """An export outside working hours (local time in the policy's zone)."""

    hours: WorkingHours
    kind: AnomalyKind = AnomalyKind.OFF_HOURS

    def find(self, day: DayFacts) -> list[Anomaly]:
        found = []
        for entry in day.entries:
            local = entry.at.astimezone(day.zone)
            if entry.action == AuditAction.EXPORT and not self.hours.covers(local):
                found.append(
                    Anomaly(
                        kind=self.kind,
                        actor=entry.actor,
                        summary=f"export {export_id(entry)} of {rows_exported(entry)} rows at "
                        f"{local:%a %H:%M} (working hours {self.hours.start:%H:%M}-{self.hours.end:%H:%M}, "
                        f"{'/'.join(self.hours.days)})",
                        entries=[entry.sequence],
                        dataset=entry.dataset,
                    )
                )
        return found


@dataclass(frozen=True)
class BulkRead:
    """One person reading more than `records` records of one dataset in the day."""

    records: int
    kind: AnomalyKind = AnomalyKind.BULK_READ

    def find(self, day: DayFacts) -> list[Anomaly]:
        read: Counter[tuple[str, str | None]] = Counter()
        sequences: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        for entry in day.entries:
            if records_read(entry):
                read[(entry.actor, entry.dataset)] += records_read(entry)
                sequences[(entry.actor, entry.dataset)].append(entry.sequence)
        return [
            Anomaly(
                kind=self.kind,
                actor=actor,
                summary=f"{count} records of {dataset or '(dataset not named)'} read in "
                f"{len(sequences[(actor, dataset)])} entries (flagged above {self.records})",
                entries=sequences[(actor, dataset)],
                dataset=dataset,
            )
            for (actor, dataset), count in sorted(read.items(), key=lambda item: (item[0][0], item[0][1] or ""))
            if count > self.records
        ]


@dataclass(frozen=True)
class RepeatedRejections:
    """More than `rejections` batches of one provider rejected in the day (the provider by corporate number)."""

    rejections: int
    kind: AnomalyKind = AnomalyKind.REPEATED_REJECTIONS

    def find(self, day: DayFacts) -> list[Anomaly]:
        by_provider: dict[str, list[AuditEntry]] = defaultdict(list)
        for entry in day.entries:
            if entry.action != AuditAction.REJECT or entry.dataset is None or entry.batch_id is None:
                continue
            provider = day.providers.get((entry.dataset, entry.batch_id))
            if provider is not None:
                by_provider[provider].append(entry)
        found = []
        for provider, entries in sorted(by_provider.items()):
            if len(entries) <= self.rejections:
                continue
            actors = Counter(e.actor for e in entries)
            actor = min(actors, key=lambda a: (-actors[a], a))  # who logged most of them
            batches = sorted({e.batch_id or "" for e in entries})
            found.append(
                Anomaly(
                    kind=self.kind,
                    actor=actor,
                    summary=f"{len(entries)} rejections of provider {provider} (batches {', '.join(batches)}; "
                    f"flagged above {self.rejections})",
                    entries=[e.sequence for e in entries],
                    dataset=entries[0].dataset,
                )
            )
        return found


@dataclass(frozen=True)
class SelfApproval:
    """An approval refused because the approver is the submitter (自己承認, four eyes)."""

    kind: AnomalyKind = AnomalyKind.SELF_APPROVAL

    def find(self, day: DayFacts) -> list[Anomaly]:
        return [
            Anomaly(
                kind=self.kind,
                actor=entry.actor,
                summary=f"tried to approve batch {entry.batch_id or '(no id)'}, which they submitted "
                f"({ReasonCode.FOUR_EYES.value})",
                entries=[entry.sequence],
                dataset=entry.dataset,
            )
            for entry in day.entries
            if entry.action == AuditAction.APPROVE_REFUSED
        ]


@dataclass(frozen=True)
class ExportOverLimit:
    """An export refused over a take-out limit (持ち出し), or released with the policy's alert."""

    kind: AnomalyKind = AnomalyKind.EXPORT_OVER_LIMIT

    def find(self, day: DayFacts) -> list[Anomaly]:
        found = []
        for entry in day.entries:
            refused = entry.action == AuditAction.EXPORT_REFUSED and ReasonCode.EXPORT_OVER_LIMIT.value in entry.codes
            alerted = entry.action == AuditAction.EXPORT and entry.detail.get("alert") is True
            if refused or alerted:
                what = "refused" if refused else f"released with an alert ({rows_exported(entry)} rows)"
                found.append(
                    Anomaly(
                        kind=self.kind,
                        actor=entry.actor,
                        summary=f"export {export_id(entry)} over a take-out limit: {what}",
                        entries=[entry.sequence],
                        dataset=entry.dataset,
                    )
                )
        return found


@dataclass(frozen=True)
class Unauthenticated:
    """Record-level reads by a self-declared actor (not vouched for by Airflow): one anomaly per person."""

    kind: AnomalyKind = AnomalyKind.UNAUTHENTICATED

    def find(self, day: DayFacts) -> list[Anomaly]:
        reads: dict[str, list[AuditEntry]] = defaultdict(list)
        for entry in day.entries:
            if records_read(entry) and entry.actor_authenticated_by is None:
                reads[entry.actor].append(entry)
        return [
            Anomaly(
                kind=self.kind,
                actor=actor,
                summary=f"{sum(records_read(e) for e in entries)} records read in {len(entries)} entries "
                "as a self-declared user (not vouched for by Airflow)",
                entries=[e.sequence for e in entries],
            )
            for actor, entries in sorted(reads.items())
        ]


def rules_of(policy: AuditPolicy) -> list[Rule]:
    """Every rule, with its threshold from `policy`."""
    return [
        Volume(factor=policy.volume.factor, floor=policy.volume.floor),
        OffHours(hours=policy.working_hours),
        BulkRead(records=policy.bulk_read.records),
        RepeatedRejections(rejections=policy.repeated_rejections.rejections),
        SelfApproval(),
        ExportOverLimit(),
        Unauthenticated(),
    ]


def find_anomalies(policy: AuditPolicy, day: DayFacts) -> list[Anomaly]:
    """Every rule's anomalies, in rule order."""
    return [anomaly for rule in rules_of(policy) for anomaly in rule.find(day)]
