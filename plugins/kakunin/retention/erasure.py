"""Erasure requests: find a data subject's records by identifier or subject key, without storing either.

What a person gives (an email, a phone number, a name with birth date, or a provider's
subject key) is normalised, digested with a key derived from the HMAC key and dropped; only
digests are recorded. An identifier reaches the person's records in every dataset through
the subject index; a subject key reaches them within one dataset through its manifests. The
next retention run (or `--now`) purges every record reached, in every batch, and its
certificate names the request. The digests of everything the request reached go on the
suppression list at once, so intake drops the person if a provider sends them again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin import audit
from kakunin.clock import local_date
from kakunin.contracts import IdentifierKind
from kakunin.errors import InputError
from kakunin.layout import (
    ERASURE_REQUESTS,
    BatchRef,
    erasure_request_id,
    erasure_request_key,
    folder_prefix,
    parse_manifest_header_key,
)
from kakunin.lineage.chain import closed_certificates, linked_manifests
from kakunin.lineage.digests import Hmac, normalise_subject_key
from kakunin.lineage.formats import AuditAction, ErasureRequest, ManifestHeader, read_receipt, readable_dates
from kakunin.storage import ObjectStore
from kakunin.subjects.formats import IdentifierDigest, Regime, RequestKind, SubjectRequest, Suppression
from kakunin.subjects.identifiers import Identifier
from kakunin.subjects.identifiers import subject_key as subject_key_of
from kakunin.subjects.register import (
    DuePolicy,
    digests_of_records,
    is_eu_origin,
    new_id,
    read_index,
    regime_of,
    write_request,
    write_suppression,
)
from kakunin.yaml_io import dump_json

# The records a request reaches, by the batch each came in.
REACHED_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class Reach:
    """What a request reaches: its records, and the datasets, batches and providers they came in."""

    record_ids: list[str]
    datasets: list[str]
    batches: int
    providers: int
    regimes: set[Regime]  # of the batches reached: GDPR for a document with a `gdpr` block, else APPI

    @property
    def records(self) -> int:
        return len(self.record_ids)


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


def erase_request(
    store: ObjectStore,
    *,
    dataset: str | None,
    subject_key: list[str] | None = None,
    identifiers: list[Identifier] | None = None,
    reason: str,
    key: bytes,
    requested_by: str,
    now: datetime,
    today: date | None = None,
    policy: DuePolicy | None = None,
) -> tuple[ErasureRequest, Reach]:
    """Record an erasure request, its suppression and its entry in the request register; what it reaches now.

    Everything is checked before anything is written: a bad identifier or key leaves the store as it was.
    """
    digest, given = _digests(dataset, subject_key, identifiers or [], key)
    if not reason.strip():
        raise InputError("an erasure request needs a reason (e.g. the subject's request reference)")
    found = _reached_rows(store, dataset, digest, given)
    reach = describe_reach(store, found)
    request = ErasureRequest(
        request_id=new_id("ER", now),
        dataset=dataset,
        subject_digest=digest,
        reason=reason.strip(),
        requested_by=requested_by,
        requested_at=now,
        identifiers=given,
        record_ids=reach.record_ids,
    )
    store.put_bytes(erasure_request_key(request.request_id), dump_json(request))
    widened = _suppressed(given, digests_of_records(store, set(reach.record_ids)))
    if widened:
        write_suppression(store, Suppression(request_id=request.request_id, digests=widened, recorded_at=now))
    write_request(
        store, _registered(request, reach, received_on=today or local_date(now), policy=policy or DuePolicy())
    )
    audit.record(
        store,
        AuditAction.ERASURE_REQUEST,
        at=now,
        actor=requested_by,
        dataset=dataset if dataset is not None else (reach.datasets[0] if len(reach.datasets) == 1 else None),
        record_ids=reach.record_ids,
        detail={
            "request_id": request.request_id,
            "records": reach.records,
            "datasets": ",".join(reach.datasets),
            "suppressed_digests": len(widened),
        },
    )
    return request, reach


def _registered(request: ErasureRequest, reach: Reach, *, received_on: date, policy: DuePolicy) -> SubjectRequest:
    """The request as the subject-request register holds it; the purge certificate that carries it out closes it."""
    regimes = reach.regimes or {Regime.APPI}
    return SubjectRequest(
        request_id=request.request_id,
        request=RequestKind.ERASE,
        received_on=received_on,
        due_on=policy.due_on(received_on, regimes),
        regimes=sorted(regimes),
        identifiers=request.identifiers,
        record_ids=request.record_ids,
        reference=request.reason,
        requested_by=request.requested_by,
        recorded_at=request.requested_at,
    )


def _digests(
    dataset: str | None, subject_key: list[str] | None, identifiers: list[Identifier], key: bytes
) -> tuple[str | None, list[IdentifierDigest]]:
    """The subject key's digest (None when not given) and the identifiers' digests; `InputError` when unusable."""
    digest = None
    if subject_key is not None:
        if not any(part.strip() for part in subject_key):
            raise InputError("the subject key is empty")
        if dataset is None:
            raise InputError("--subject-key is a provider's customer number: it needs --dataset")
        digest = subject_digest(subject_key, key)
    elif not identifiers:
        raise InputError("say who: --email, --phone, --name with --birth-date, or --dataset with --subject-key")
    derived = subject_key_of(key)
    given = {IdentifierDigest(kind=i.kind, digest=i.digest(derived)) for i in identifiers}
    return digest, sorted(given, key=lambda d: (d.kind.value, d.digest))


def _suppressed(given: list[IdentifierDigest], index_rows: pa.Table) -> list[IdentifierDigest]:
    """The identifiers given and every identifier of the records reached, once each."""
    found = {
        IdentifierDigest(kind=IdentifierKind(row["kind"]), digest=row["digest"])
        for row in index_rows.select(["kind", "digest"]).to_pylist()
    }
    return sorted({*given, *found}, key=lambda d: (d.kind.value, d.digest))


def _reached_rows(
    store: ObjectStore, dataset: str | None, digest: str | None, given: list[IdentifierDigest]
) -> pa.Table:
    """(dataset, batch_id, record_id) of every record the request reaches, by subject key and through the index."""
    parts = []
    if digest is not None and dataset is not None:
        by_key = records_of_subject(store, dataset, digest)
        n = by_key.num_rows
        parts.append(
            pa.table(
                {
                    "dataset": pa.nulls(n, pa.string()).fill_null(dataset),
                    "batch_id": by_key.column("batch_id").cast(pa.string()),
                    "record_id": by_key.column("record_id").cast(pa.string()),
                }
            )
        )
    if given:
        found = read_index(store, digests={d.digest for d in given}, dataset=dataset)
        parts.append(found.select(["dataset", "batch_id", "record_id"]))
    if not parts:
        return REACHED_SCHEMA.empty_table()
    rows = pa.concat_tables([p.cast(REACHED_SCHEMA) for p in parts])
    return rows.group_by(REACHED_SCHEMA.names).aggregate([]).select(REACHED_SCHEMA.names)


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


def describe_reach(store: ObjectStore, found: pa.Table) -> Reach:
    """The records of `found` (dataset, batch_id, record_id), with who provided them and under which regime."""
    batches = sorted({(r["dataset"], r["batch_id"]) for r in found.select(["dataset", "batch_id"]).to_pylist()})
    providers: set[str] = set()
    regimes: set[Regime] = set()
    for dataset, batch_id in batches:
        provider, eu = _origin(store, BatchRef(dataset, batch_id))
        providers.add(provider)
        regimes.add(regime_of(eu))
    return Reach(
        record_ids=sorted(set(found.column("record_id").to_pylist())),
        datasets=sorted({dataset for dataset, _ in batches}),
        batches=len(batches),
        providers=len(providers),
        regimes=regimes,
    )


def _origin(store: ObjectStore, ref: BatchRef) -> tuple[str, bool]:
    """Who provided the batch (corporate number, else name) and whether its document has a `gdpr` block."""
    if not store.exists(ref.manifest_header):
        return str(ref), False
    header = ManifestHeader.model_validate_json(store.get_bytes(ref.manifest_header))
    provider = read_receipt(store.get_bytes(header.receipt.key)).provider
    return provider.corporate_number or provider.legal_name or str(ref), is_eu_origin(
        store, header.provenance_document.key
    )


def erasure_targets(store: ObjectStore, requests: list[ErasureRequest]) -> list[tuple[str, str, str]]:
    """(curated file, record id, request id) of every record pending requests reach.

    A subject-key request reaches its dataset's manifests; an identifier request reaches, through
    the subject index, every record of the person's identifiers now and every record it reached
    when it was received (within its dataset, when it names one).
    """
    out = []
    for request in requests:
        if request.subject_digest is not None and request.dataset is not None:
            for row in records_of_subject(store, request.dataset, request.subject_digest).to_pylist():
                out.append((row["curated_file"], row["record_id"], request.request_id))
    by_identifier = [r for r in requests if r.identifiers or r.record_ids]
    if not by_identifier:
        return out
    index = read_index(store)
    found: dict[BatchRef, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # batch → record → requests
    for request in by_identifier:
        digests = pa.array(sorted({d.digest for d in request.identifiers}), pa.string())
        ids = pa.array(sorted(request.record_ids), pa.string())
        reached = pc.or_(
            pc.is_in(index.column("digest"), value_set=digests), pc.is_in(index.column("record_id"), value_set=ids)
        )
        rows = index.filter(reached)
        for row in rows.select(["dataset", "batch_id", "record_id"]).to_pylist():
            if request.dataset is None or row["dataset"] == request.dataset:
                asked = found[BatchRef(row["dataset"], row["batch_id"])][row["record_id"]]
                if request.request_id not in asked:  # one row per identifier of the record
                    asked.append(request.request_id)
    for ref, requested in sorted(found.items(), key=lambda item: str(item[0])):
        for record_id, curated_file in _curated_files_of(store, ref, set(requested)):
            out += [(curated_file, record_id, request_id) for request_id in requested[record_id]]
    return out


def _curated_files_of(store: ObjectStore, ref: BatchRef, record_ids: set[str]) -> list[tuple[str, str]]:
    """(record id, curated file) of these records of one published batch, from its manifest."""
    if not store.exists(ref.manifest_header) or not store.exists(ref.manifest_parquet):
        return []
    with store.open_input(ref.manifest_parquet) as handle:
        table = pq.read_table(handle, columns=["record_id", "curated_file"])
    table = table.filter(pc.is_in(table.column("record_id"), value_set=pa.array(sorted(record_ids), pa.string())))
    return [(row["record_id"], row["curated_file"]) for row in table.to_pylist()]
