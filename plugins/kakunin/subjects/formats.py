"""What the `subjects/` zone holds: the index's schema, requests, the suppression list and the stop list.

Every document holds keyed identifier digests, record ids, dates and actors, never an
identifier itself. Documents are written once; a later step (a request closed, a stop
resumed) is a second document next to the first, so nothing is rewritten.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from kakunin.contracts import IdentifierKind

# The subject index: one row per (record, identifier). No personal data: ids and keyed digests.
# Here, not beside the code that builds the rows (`subjects.identifiers`, which needs `pyarrow.compute`),
# so a reader of the index (`lineage trace` looking for a stop) imports neither.
INDEX_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("digest", pa.string(), nullable=False),
    ]
)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class IdentifierDigest(_Doc):
    """One identifier a person gave, as its keyed digest (`kakunin.subject/v1`)."""

    kind: IdentifierKind
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class RequestKind(StrEnum):
    """What a data subject asked for (APPI Art. 33–35; GDPR Art. 15–17, 21)."""

    DISCLOSE = "disclose"
    STOP_USE = "stop-use"
    CORRECT = "correct"
    ERASE = "erase"


class Regime(StrEnum):
    """Whose deadline a request runs under: APPI (the company's own, default 14 days) or GDPR (one month)."""

    APPI = "appi"
    GDPR = "gdpr"


class SubjectRequest(_Doc):
    """`subjects/requests/<request_id>.json`: a request as received, with its deadline."""

    kind: Literal["kakunin.subject-request/v1"] = "kakunin.subject-request/v1"
    request_id: str
    request: RequestKind
    received_on: date
    due_on: date
    regimes: list[Regime] = Field(description="every regime whose records it reaches; due_on is the earliest deadline")
    identifiers: list[IdentifierDigest]
    record_ids: list[str] = Field(default=[], description="the records it reached when it was received")
    reference: str = Field(description="the request's reference (a letter or ticket number), never personal data")
    requested_by: str = Field(description="who recorded it (the staff member), not the data subject")
    recorded_at: datetime


class RequestClosing(_Doc):
    """`subjects/requests/<request_id>.closed.json`: how and when a request was answered."""

    request_id: str
    closed_at: datetime
    closed_by: str
    outcome: str = Field(description="what was done, in a sentence (no personal data)")


class Suppression(_Doc):
    """`subjects/suppressed/<request_id>.json`: digests intake drops for good, because the person asked to be erased.

    Holds the identifiers the person gave and every identifier of the records the erasure reached,
    so a later batch that carries the same person under another customer number is dropped too.
    """

    request_id: str
    digests: list[IdentifierDigest]
    recorded_at: datetime


class StopUse(_Doc):
    """`subjects/stops/<stop_id>.json`: use of a person's records stops (APPI Art. 35, GDPR Art. 21) until resumed.

    A record is stopped when its id is listed here or any of its identifier digests is (so a
    record of the same person that arrives later is stopped too).
    """

    stop_id: str
    request_id: str | None
    digests: list[IdentifierDigest]
    record_ids: list[str]
    reason: str
    stopped_by: str
    stopped_at: datetime


class StopResumed(_Doc):
    """`subjects/stops/<stop_id>.resumed.json`: use may resume."""

    stop_id: str
    reason: str
    resumed_by: str
    resumed_at: datetime
