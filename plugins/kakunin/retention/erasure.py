"""Erasure requests: find a data subject's records by `subject_digest`, without storing the key anywhere.

The key a person gives is normalised, digested with the HMAC key and dropped; only the
digest is recorded. The next retention run (or `--now`) purges every record carrying it,
in every batch, and its certificate names the request.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin import audit
from kakunin.errors import InputError
from kakunin.layout import (
    ERASURE_REQUESTS,
    erasure_request_id,
    erasure_request_key,
    folder_prefix,
    parse_manifest_header_key,
)
from kakunin.lineage.chain import closed_certificates, linked_manifests
from kakunin.lineage.digests import Hmac, normalise_subject_key
from kakunin.lineage.formats import AuditAction, ErasureRequest, readable_dates
from kakunin.storage import ObjectStore
from kakunin.yaml_io import dump_json


def subject_digest(parts: list[str], key: bytes) -> str:
    return Hmac(key).hexdigest(normalise_subject_key(parts).encode())


def records_of_subject(store: ObjectStore, dataset: str, digest: str) -> pa.Table:
    """(record_id, batch_id, curated_file, retention_until) of every manifest row with this digest."""
    found = []
    for header_key, manifest_key in linked_manifests(store):
        ref = parse_manifest_header_key(header_key)
        if ref is None or ref.dataset != dataset:
            continue
        with store.reading(manifest_key) as path:
            table = pq.read_table(
                path,
                columns=["record_id", "batch_id", "curated_file", "retention_until"],
                filters=[("subject_digest", "=", digest)],
            )
        if table.num_rows:
            found.append(readable_dates(table, "retention_until"))
    if not found:
        return pa.table(
            {"record_id": [], "batch_id": [], "curated_file": [], "retention_until": pa.array([], pa.date32())}
        )
    return pa.concat_tables(found)


def request_erasure(
    store: ObjectStore,
    *,
    dataset: str,
    subject_key: list[str],
    reason: str,
    key: bytes,
    requested_by: str,
    now: datetime,
) -> tuple[ErasureRequest, int]:
    """Record the request (digest only) and say how many records it reaches now."""
    if not any(part.strip() for part in subject_key):
        raise InputError("the subject key is empty")
    if not reason.strip():
        raise InputError("an erasure request needs a reason (e.g. the subject's request reference)")
    digest = subject_digest(subject_key, key)
    request = ErasureRequest(
        request_id=f"ER-{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}",
        dataset=dataset,
        subject_digest=digest,
        reason=reason.strip(),
        requested_by=requested_by,
        requested_at=now,
    )
    store.put_bytes(erasure_request_key(request.request_id), dump_json(request))
    matches = records_of_subject(store, dataset, digest)
    audit.record(
        store,
        AuditAction.ERASURE_REQUEST,
        at=now,
        actor=requested_by,
        dataset=dataset,
        record_ids=matches.column("record_id").to_pylist(),
        detail={"request_id": request.request_id, "records": matches.num_rows},
    )
    return request, matches.num_rows


def pending_requests(store: ObjectStore) -> list[ErasureRequest]:
    """Requests no closed purge certificate has carried out yet."""
    done = {request for certificate in closed_certificates(store) for request in certificate.erasure_requests}
    requests = [
        ErasureRequest.model_validate_json(store.get_bytes(key))
        for key in store.list_keys(folder_prefix(ERASURE_REQUESTS))
        if erasure_request_id(key) is not None
    ]
    return [r for r in requests if r.request_id not in done]


def unique_ids(table: pa.Table) -> pa.Array:
    return pc.unique(table.column("record_id").combine_chunks()) if table.num_rows else pa.array([], pa.string())
