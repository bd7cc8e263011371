"""`kakunin lineage trace RECORD_ID`: a record's story, from the lineage alone.

Where it came from (source file hash and row, provider, provenance document), under which
purposes and ground, when it was received and until when it may be kept, and where it
lives now. With the HMAC key at hand, the curated record is also checked against its
`record_digest`, so an auditor sees that the data shown is the data that was received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin.contracts import DatasetContract
from kakunin.errors import InputError
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import (
    CERTIFICATE_CHAIN,
    MANIFEST_CHAIN,
    Certificate,
    CertificateLink,
    ChainLink,
    ManifestHeader,
    Receipt,
    readable_dates,
)
from kakunin.storage import ObjectStore

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class Trace(BaseModel):
    """Everything the lineage says about one record."""

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
    status: str
    curated_file: str | None
    purged_by: str | None = None
    digest_check: str


def linked_manifests(store: ObjectStore) -> Iterator[tuple[str, str]]:
    """(header key, manifest.parquet key) of every manifest in the chain whose Parquet exists, in order."""
    for _, data in Chain(store, MANIFEST_CHAIN).entries():
        header_key = ChainLink.model_validate_json(data).header_key
        manifest_key = header_key.removesuffix("manifest.json") + "manifest.parquet"
        if store.exists(manifest_key):
            yield header_key, manifest_key


def closed_certificates(store: ObjectStore) -> list[Certificate]:
    """Every closed purge certificate, in chain order."""
    found = []
    for _, data in Chain(store, CERTIFICATE_CHAIN).entries():
        link = CertificateLink.model_validate_json(data)
        if store.exists(link.certificate_key):
            found.append(Certificate.model_validate_json(store.get_bytes(link.certificate_key)))
    return found


def find_manifest_row(store: ObjectStore, record_id: str) -> tuple[dict[str, Any], str] | None:
    """The record's manifest row and the header key it belongs to, or None."""
    for header_key, manifest_key in linked_manifests(store):
        with store.reading(manifest_key) as path:
            table = pq.read_table(path, filters=[("record_id", "=", record_id)])
        if table.num_rows:
            return readable_dates(table, "retention_until").to_pylist()[0], header_key
    return None


def trace(
    store: ObjectStore,
    record_id: str,
    *,
    contract_for: Callable[[str], DatasetContract | None] | None = None,
    hmac_key: bytes | None = None,
) -> Trace:
    """The story of `record_id`; `InputError` if it is not a record id or no manifest has it."""
    import re

    if not re.fullmatch(_UUID, record_id):
        raise InputError(f"{record_id!r} is not a record id (a UUIDv7 such as 019abef0-2300-7f64-94c4-bd404e68c655)")
    found = find_manifest_row(store, record_id)
    if found is None:
        raise InputError(f"record {record_id} is in no manifest")
    row, header_key = found
    header = ManifestHeader.model_validate_json(store.get_bytes(header_key))
    receipt = (
        Receipt.model_validate_json(store.get_bytes(header.receipt.key)) if store.exists(header.receipt.key) else None
    )
    curated_key = str(row["curated_file"])
    curated_row = _curated_row(store, curated_key, record_id)
    contract = contract_for(str(row["dataset"])) if contract_for else None
    status = f"live in {curated_key}" if curated_row is not None else "not in the curated store"
    purged_by = None
    if curated_row is None and (found_purge := purged_record(store, record_id)) is not None:
        certificate, purge_row = found_purge
        purged_by = certificate.run_id
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
        status=status,
        curated_file=curated_key if curated_row is not None else None,
        purged_by=purged_by,
        digest_check=_digest_check(curated_row, row["record_digest"], contract, hmac_key),
    )


def purged_record(store: ObjectStore, record_id: str) -> tuple[Certificate, dict[str, Any]] | None:
    """The closed purge certificate that names `record_id`, with its row there, or None."""
    for certificate in closed_certificates(store):
        with store.reading(certificate.records.key) as path:
            rows = readable_dates(
                pq.read_table(path, filters=[("record_id", "=", record_id)]), "retention_until"
            ).to_pylist()
        if rows:
            return certificate, rows[0]
    return None


def _curated_row(store: ObjectStore, key: str, record_id: str) -> pa.Table | None:
    if not store.exists(key):
        return None
    with store.reading(key) as path:
        table = pq.read_table(path, filters=[("record_id", "=", record_id)])
    return table if table.num_rows else None


def _digest_check(row: pa.Table | None, expected: str, contract: DatasetContract | None, key: bytes | None) -> str:
    if row is None:
        return "not checked: the record is no longer in the curated store"
    if key is None or contract is None:
        return "not checked: KAKUNIN_HMAC_KEY is not set"
    from kakunin.lineage.digests import Hmac, canonical_records

    actual = Hmac(key).hexdigests(canonical_records(row, contract))[0].as_py()
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
    return "\n".join(lines) + "\n"


def first_record_id(store: ObjectStore) -> str | None:
    """Any published record id (the demo traces one)."""
    for _, manifest_key in linked_manifests(store):
        with store.reading(manifest_key) as path:
            ids = pq.read_table(path, columns=["record_id"]).column("record_id")
        if len(ids):
            return str(pc.min(ids).as_py())
    return None


def first_purged_id(store: ObjectStore, certificate: Certificate) -> str | None:
    """A record a certificate purged for its retention period (the demo traces one)."""
    with store.reading(certificate.records.key) as path:
        ids = pq.read_table(path, columns=["record_id"]).column("record_id")
    return str(pc.min(ids).as_py()) if len(ids) else None
