"""`kakunin lineage trace RECORD_ID`: a record's story, from the lineage alone.

Where it came from (source file hash and row, provider, provenance document), under which
purposes and ground, when it was received and until when it may be kept, and where it
lives now. With the HMAC key at hand, the curated record is also checked against its
`record_digest`, so an auditor sees that the data shown is the data that was received.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from kakunin.errors import InputError, UnknownRecord
from kakunin.lineage.chain import closed_certificates, linked_manifests
from kakunin.lineage.corrections import Correction, corrections_of
from kakunin.lineage.formats import Certificate, ManifestHeader, read_receipt, readable_dates
from kakunin.lineage.lookup import rows_with_id
from kakunin.storage import ObjectStore, load

if TYPE_CHECKING:
    from kakunin.contracts import DatasetContract

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class TraceStatus(StrEnum):
    """Where the record is now; `Trace.status` says the same in a sentence."""

    LIVE = "live"  # in the curated file its manifest row names
    PURGED = "purged"  # gone, and a closed purge certificate names it
    MISSING = "missing"  # gone, and no certificate accounts for it


class TraceFacts(BaseModel):
    """What the lineage says about one record: the fields of the trace and of its JSON answer alike."""

    record_id: str
    dataset: str
    batch_id: str
    source_file_sha256: str
    source_row: int
    provider: str | None
    provider_corporate_number: str | None
    provenance_document_id: str
    provenance_sha256: str
    purposes: list[str]
    legal_ground: str
    received_on: date
    retention_until: date
    retention_clock: str
    manifest: str
    curated_file: str | None
    purged_by: str | None = None
    stopped_by: str | None = None  # the stop (利用停止) in force over the record, if any
    digest_check: str
    corrections: list[Correction] = []  # 訂正, oldest first: columns and digests, never values


class Trace(TraceFacts):
    """Everything the lineage says about one record, with its state."""

    state: TraceStatus
    status: str


class TraceAnswer(TraceFacts):
    """`kakunin lineage trace --json` (and `GET /kakunin/api/records/{id}`): `status` is live, purged or
    missing; `status_text` says it in a sentence."""

    status: str = Field(description="live, purged or missing")
    status_text: str


def trace_json(found: Trace) -> dict[str, Any]:
    """The trace as `lineage trace --json` (and the web API) answer it."""
    facts = found.model_dump(exclude={"state", "status"})
    answer = TraceAnswer(**facts, status=found.state.value, status_text=found.status)
    return answer.model_dump(mode="json")


def find_manifest_row(store: ObjectStore, record_id: str) -> tuple[dict[str, Any], str] | None:
    """The record's manifest row and the header key it belongs to, or None.

    Each manifest's footer is read first, so only the row groups whose `record_id` range holds
    the id are read (`lineage.lookup`): the cost follows the number of manifests, not of rows."""
    for header_key, manifest_key in linked_manifests(store):
        with store.open_input(manifest_key) as handle:
            table = rows_with_id(handle, record_id)
        if table.num_rows:
            return readable_dates(table, "retention_until").to_pylist()[0], header_key
    return None


def trace(
    store: ObjectStore,
    record_id: str,
    *,
    contract_for: Callable[[str], DatasetContract | None] | None = None,
    hmac_key: bytes | None = None,
    stop_for: Callable[[str, str, str], str | None] | None = None,
) -> Trace:
    """The story of `record_id`; `InputError` if it is not a record id or no manifest has it.

    `stop_for(dataset, batch_id, record_id)` names the stop (利用停止) in force over a live record, if
    any: the stop list is the subjects zone's, read by the caller so this module rests on the lineage alone.
    """
    import re

    if not re.fullmatch(_UUID, record_id):
        raise InputError(f"{record_id!r} is not a record id (a UUIDv7 such as 019abef0-2300-7f64-94c4-bd404e68c655)")
    found = find_manifest_row(store, record_id)
    if found is None:
        raise UnknownRecord(f"record {record_id} is in no manifest")
    row, header_key = found
    header = load(store, header_key, ManifestHeader)
    receipt = read_receipt(store.get_bytes(header.receipt.key)) if store.exists(header.receipt.key) else None
    curated_key = str(row["curated_file"])
    curated_row = _curated_row(store, curated_key, record_id)
    corrections = corrections_of(store, record_id)
    expected_digest = corrections[-1].record_digest_after if corrections else row["record_digest"]
    contract = contract_for(str(row["dataset"])) if contract_for else None
    state = TraceStatus.LIVE if curated_row is not None else TraceStatus.MISSING
    status = f"live in {curated_key}" if curated_row is not None else "not in the curated store"
    purged_by = None
    stopped_by = (
        stop_for(str(row["dataset"]), str(row["batch_id"]), record_id) if stop_for and curated_row is not None else None
    )
    if stopped_by is not None:
        status += f"; use stopped (利用停止) by stop {stopped_by}"
    if curated_row is None and (found_purge := purged_record(store, record_id)) is not None:
        certificate, purge_row = found_purge
        purged_by = certificate.run_id
        state = TraceStatus.PURGED
        status = (
            f"purged on {certificate.closed_at:%Y-%m-%d %H:%M} UTC by certificate {certificate.run_id} "
            f"(as of {certificate.as_of}; {purge_row['reason']})"
        )
    return Trace(
        record_id=record_id,
        dataset=row["dataset"],
        batch_id=row["batch_id"],
        source_file_sha256=row["source_file_sha256"],
        source_row=row["source_row"],
        provider=receipt.provider.legal_name if receipt else None,
        provider_corporate_number=receipt.provider.corporate_number if receipt else None,
        provenance_document_id=row["provenance_document_id"],
        provenance_sha256=row["provenance_sha256"],
        purposes=row["purposes"],
        legal_ground=row["legal_ground"],
        received_on=row["received_on"],
        retention_until=row["retention_until"],
        retention_clock=row["retention_clock"],
        manifest=header_key,
        state=state,
        status=status,
        curated_file=curated_key if curated_row is not None else None,
        purged_by=purged_by,
        stopped_by=stopped_by,
        digest_check=_digest_check(curated_row, expected_digest, contract, hmac_key, corrected=bool(corrections)),
        corrections=corrections,
    )


def purged_record(store: ObjectStore, record_id: str) -> tuple[Certificate, dict[str, Any]] | None:
    """The closed purge certificate that names `record_id`, with its row there, or None."""
    for certificate in closed_certificates(store):
        with store.open_input(certificate.records.key) as handle:
            rows = readable_dates(rows_with_id(handle, record_id), "retention_until").to_pylist()
        if rows:
            return certificate, rows[0]
    return None


def _curated_row(store: ObjectStore, key: str, record_id: str) -> pa.Table | None:
    if not store.exists(key):
        return None
    with store.open_input(key) as handle:
        table = rows_with_id(handle, record_id)
    return table if table.num_rows else None


def _digest_check(
    row: pa.Table | None, expected: str, contract: DatasetContract | None, key: bytes | None, *, corrected: bool = False
) -> str:
    if row is None:
        return "not checked: the record is no longer in the curated store"
    if key is None or contract is None:
        return "not checked: KAKUNIN_HMAC_KEY is not set"
    from kakunin.lineage.digests import Hmac, canonical_records

    actual = Hmac(key).hexdigests(canonical_records(row, contract))[0].as_py()
    if actual == expected and corrected:
        return "matches its latest correction's record digest: the curated record is the record as corrected"
    if actual == expected:
        return "matches record_digest: the curated record is the record received"
    return "DOES NOT MATCH record_digest: the curated record was altered (or the key is not the one used)"


def text_of(story: Trace) -> str:
    """The trace as an auditor reads it."""
    lines = [
        f"record {story.record_id}",
        f"  dataset            {story.dataset} (batch {story.batch_id})",
        f"  source             file sha256 {story.source_file_sha256}, row {story.source_row}",
        f"  provider           {story.provider or '-'}"
        + (f" (法人番号 {story.provider_corporate_number})" if story.provider_corporate_number else ""),
        f"  provenance         {story.provenance_document_id} (sha256 {story.provenance_sha256})",
        f"  purposes           {', '.join(story.purposes)}",
        f"  legal ground       {story.legal_ground}",
        f"  received on        {story.received_on}",
        f"  keep until         {story.retention_until} (clock: {story.retention_clock})",
        f"  manifest           {story.manifest}",
        f"  now                {story.status}",
        f"  content            {story.digest_check}",
    ]
    lines += [_correction_line(c) for c in story.corrections]
    return "\n".join(lines) + "\n"


def _correction_line(correction: Correction) -> str:
    request = f", request {correction.request_id}" if correction.request_id else ""
    return (
        f"  corrected (訂正)    {correction.corrected_at:%Y-%m-%d %H:%M} UTC by {correction.actor}: "
        f"{', '.join(correction.columns)} ({correction.reason}{request}); record digest "
        f"{correction.record_digest_before} → {correction.record_digest_after} [{correction.correction_id}]"
    )


def first_record_id(store: ObjectStore) -> str | None:
    """A record still live in the curated store (the demo traces one), else any published one."""
    import pyarrow.compute as pc  # here, not at the top: a trace does without its import (~50 ms)

    fallback = None
    for _, manifest_key in linked_manifests(store):
        with store.open_input(manifest_key) as handle:
            table = pq.read_table(handle, columns=["record_id", "curated_file"])
        for curated_key in pc.unique(table.column("curated_file")).to_pylist():
            if store.exists(curated_key):
                with store.open_input(curated_key) as handle:
                    ids = pq.read_table(handle, columns=["record_id"]).column("record_id")
                if len(ids):
                    return str(pc.min(ids).as_py())
        if fallback is None and table.num_rows:
            fallback = str(pc.min(table.column("record_id")).as_py())
    return fallback


def first_purged_id(store: ObjectStore, certificate: Certificate) -> str | None:
    """A record a certificate purged for its retention period (the demo traces one)."""
    import pyarrow.compute as pc

    with store.open_input(certificate.records.key) as handle:
        ids = pq.read_table(handle, columns=["record_id"]).column("record_id")
    return str(pc.min(ids).as_py()) if len(ids) else None
