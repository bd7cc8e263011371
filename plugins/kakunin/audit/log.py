"""The operation log, filtered: who did what, when, to which dataset (`kakunin audit log`, the web app).

`select` is a pure function over entries, so the CLI and the web app (issue 13) filter the
same way; `entries` reads the store's audit chain and applies it. Days are calendar days in
the business time zone (`KAKUNIN_TIMEZONE`), both ends inclusive; entries come oldest first
(newest last) and `limit` keeps the newest. An entry that does not parse is left out here:
`kakunin lineage verify` reports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditAction, AuditEntry
from kakunin.storage import ObjectStore

__all__ = ["LogFilter", "entries", "entry_json", "select"]


class LogFilter(BaseModel):
    """What to keep of the log; every field left out keeps everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: str | None = Field(default=None, description="only this actor's entries (case ignored)")
    action: str | None = Field(default=None, description="only this action (`read`, `approve`, `export`, ...)")
    from_day: date | None = Field(default=None, description="from this day (inclusive, business time zone)")
    to_day: date | None = Field(default=None, description="up to this day (inclusive)")
    dataset: str | None = Field(default=None, description="only entries about this dataset")
    limit: int | None = Field(default=None, ge=1, description="only the newest N entries")

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str | None) -> str | None:
        known = [a.value for a in AuditAction]
        if value is not None and value not in known:
            raise ValueError(f"unknown action {value!r}; one of: {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> LogFilter:
        if self.from_day and self.to_day and self.from_day > self.to_day:
            raise ValueError(f"--from {self.from_day} is after --to {self.to_day}")
        return self


def _keeps(entry: AuditEntry, filters: LogFilter, zone: tzinfo) -> bool:
    if filters.actor is not None and entry.actor.strip().casefold() != filters.actor.strip().casefold():
        return False
    if filters.action is not None and entry.action != filters.action:
        return False
    if filters.dataset is not None and entry.dataset != filters.dataset:
        return False
    day = entry.at.astimezone(zone).date()
    return not (filters.from_day and day < filters.from_day) and not (filters.to_day and day > filters.to_day)


def select(log: Iterable[AuditEntry], filters: LogFilter, *, zone: tzinfo) -> list[AuditEntry]:
    """The entries `filters` keeps, in log order (newest last); with `limit`, the newest N of them."""
    kept = [entry for entry in log if _keeps(entry, filters, zone)]
    return kept[-filters.limit :] if filters.limit else kept


def _read(store: ObjectStore) -> Iterable[AuditEntry]:
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            yield AuditEntry.model_validate_json(data)
        except ValidationError:
            continue  # verify reports it


def entries(store: ObjectStore, filters: LogFilter, *, zone: tzinfo | None = None) -> list[AuditEntry]:
    """The store's operation log filtered (days in `zone`, else the business time zone)."""
    from kakunin import clock

    return select(_read(store), filters, zone=zone or clock.business_timezone())


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One entry as `audit log --json` (and the web API) show it: no seal or link, `self_declared` spelled out."""
    payload: dict[str, Any] = entry.model_dump(mode="json", exclude={"mac", "previous"})
    payload["self_declared"] = entry.actor_authenticated_by is None
    return payload
