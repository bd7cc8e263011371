"""Scheduled exports (`expectations/exports.yaml`): the exports the kakunin_export DAG releases every day.

Each entry is one export the same as `kakunin export` would release, for the person named
in `requested_by`, without a delivered copy: the export held in the store is what downstream
reads, so a purge or erasure reaches everything it released. The file is reviewed like a
contract; a broken one fails the DAG's first task with the file and field named.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kakunin.layout import IDENTIFIER
from kakunin.uniqueness import repeated

if TYPE_CHECKING:
    from kakunin.contracts import Registry
    from kakunin.exports.formats import ExportReceipt
    from kakunin.exports.takeout import TakeoutPolicy
    from kakunin.storage import ObjectStore

SCHEDULE_FILE = "exports.yaml"
STAFF_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"  # the same shape `kakunin export --requested-by` takes


class ScheduledExport(BaseModel):
    """One export released on every run of the kakunin_export DAG."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=IDENTIFIER, description="Stable id; receipts name it as `schedule`.")]
    dataset: Annotated[str, Field(pattern=IDENTIFIER)]
    purpose: Annotated[str, Field(pattern=IDENTIFIER, description="A purpose of purposes.yaml and of the dataset.")]
    requested_by: Annotated[
        str, Field(pattern=STAFF_ID, description="The staff id the export is for; the take-out limits count it.")
    ]
    columns: Annotated[
        list[str] | None,
        Field(description="Only these of the purpose's export_columns; omitted: all of them."),
    ] = None


class ScheduledExports(BaseModel):
    """`expectations/exports.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exports: list[ScheduledExport] = []

    @field_validator("exports")
    @classmethod
    def _names_are_unique(cls, exports: list[ScheduledExport]) -> list[ScheduledExport]:
        if twice := repeated([e.name for e in exports]):
            raise ValueError(f"export names must be unique; repeated: {', '.join(twice)}")
        return exports

    def named(self, name: str) -> ScheduledExport | None:
        return next((e for e in self.exports if e.name == name), None)


def load_schedule(expectations_root: Path) -> ScheduledExports:
    """The scheduled exports, or none when the file is absent (exports are opt-in)."""
    from kakunin.contracts import _load_model

    path = expectations_root / SCHEDULE_FILE
    return _load_model(path, ScheduledExports) if path.exists() else ScheduledExports()


def run_scheduled(
    name: str, *, store: ObjectStore, registry: Registry, now: datetime, policy: TakeoutPolicy | None = None
) -> ExportReceipt:
    """Release the scheduled export `name` (no delivered copy); `ExportRefused` when the rules refuse it.

    The refusal is in the audit log before it is raised, so a failed DAG task is never the only trace.
    """
    from kakunin.errors import ConfigError
    from kakunin.exports.release import ExportRefused, release
    from kakunin.exports.takeout import load_policy

    entry = load_schedule(registry.root).named(name)
    if entry is None:
        raise ConfigError(f"{registry.root / SCHEDULE_FILE}: no scheduled export named {name!r}")
    outcome = release(
        store,
        registry,
        dataset=entry.dataset,
        purpose=entry.purpose,
        requested_by=entry.requested_by,
        columns=entry.columns,
        now=now,
        policy=policy if policy is not None else load_policy(registry.root),
        schedule=entry.name,
    )
    if outcome.refusal is not None:
        raise ExportRefused(f"scheduled export {name}: {outcome.refusal.code.value}: {outcome.refusal.message}")
    if outcome.receipt is None:
        raise RuntimeError("an export outcome with neither receipt nor refusal")
    return outcome.receipt
