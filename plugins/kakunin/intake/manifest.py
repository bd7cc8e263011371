"""Writing a published batch's lineage: manifest.parquet, the receipt record, manifest.json and its chain link.

Intake's own writer of the formats in `kakunin.lineage.formats`; the auditor's readers
(`lineage.verify`, `lineage.trace`) never import it.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin.approvals import read_approval
from kakunin.durations import IsoDuration
from kakunin.errors import ConfigError
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.intake.accuracy import AccuracySummary
from kakunin.intake.context import IntakeContext
from kakunin.intake.work import (
    ACCURACY,
    ASSIGN,
    LINEAGE,
    LINEAGE_COLUMNS,
    PARSE,
    SUBJECT_ROWS,
    AssignRecord,
    GateRecord,
    ParseRecord,
    gate_record,
    in_order,
    read_in_chunks,
    subject_rows_buckets,
)
from kakunin.layout import MANIFEST_CHAIN, BatchRef, chain_entry_key, subject_index_key
from kakunin.lineage import formats as col
from kakunin.lineage import seal
from kakunin.lineage.chain import Chain
from kakunin.lineage.digest_order import sorted_by_digest
from kakunin.lineage.formats import (
    MANIFEST_SCHEMA,
    ChainLink,
    Commit,
    Counts,
    ManifestHeader,
    StoredObject,
)
from kakunin.lineage.lookup import LOOKUP_ROW_GROUP_ROWS
from kakunin.lineage.receipts import (
    GROUND_BLOCKS,
    Receipt,
    ReceiptAcquisition,
    ReceiptConsent,
    ReceiptEntrustment,
    ReceiptJointUse,
    ReceiptLegalObligation,
    ReceiptOptOut,
    ReceiptParty,
    ReceiptPeriod,
    ReceiptProvider,
    ReceiptSuccession,
    ReceiptUpstream,
)
from kakunin.provenance.model import LegalGround, Party, ProvenanceDocument
from kakunin.storage import ObjectStore, load, object_sha256
from kakunin.subjects.identifiers import INDEX_SCHEMA
from kakunin.yaml_io import dump_json

RECEIPT_KEEP = IsoDuration(years=3)


@dataclass(frozen=True)
class _Written:
    """What was written before the header, which the header pins."""

    manifest_id: str
    manifest_parquet_sha256: str
    receipt: StoredObject
    receipt_keep_until: date
    commit: StoredObject
    subject_index: StoredObject | None


@dataclass(frozen=True)
class _Inputs:
    """What the earlier steps left that the lineage is made of."""

    gate: GateRecord
    document: ProvenanceDocument
    parsed: ParseRecord
    summary: AccuracySummary
    assigned: AssignRecord
    commit: Commit


def write_lineage(ref: BatchRef, ctx: IntakeContext) -> ManifestHeader:
    """Everything an auditor needs about one published batch, linked into the manifest chain."""
    store = ctx.store
    gate, document = gate_record(ref, store)
    inputs = _Inputs(
        gate=gate,
        document=document,
        parsed=load(store, ref.work(PARSE), ParseRecord),
        summary=load(store, ref.work(ACCURACY), AccuracySummary),
        assigned=load(store, ref.work(ASSIGN), AssignRecord),
        commit=load(store, ref.commit, Commit),
    )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakunin-subject-index") as beside:
        # two independent files from two work files: with a second core, the index is sorted and written
        # while the manifest is (both are Arrow and Parquet work, which release the GIL)
        index_job = beside.submit(_publish_subject_index, ref, ctx) if ctx.workers > 1 else None
        manifest_sha = _write_manifest_parquet(ref, ctx, inputs)
        subject_index = index_job.result() if index_job is not None else _publish_subject_index(ref, ctx)
    now = ctx.now()
    receipt = _receipt(ref, ctx, inputs, now)
    receipt_bytes = dump_json(receipt)
    store.put_bytes(ref.receipt, receipt_bytes)
    store.lock_until(ref.receipt, receipt.keep_until)  # the law's minimum, enforced by the store on S3
    written = _Written(
        manifest_id=str(uuid.uuid4()),
        manifest_parquet_sha256=manifest_sha,
        receipt=StoredObject(key=ref.receipt, sha256=sha256_bytes(receipt_bytes)),
        receipt_keep_until=receipt.keep_until,
        commit=StoredObject(key=ref.commit, sha256=object_sha256(store, ref.commit)),
        subject_index=subject_index,
    )
    headers: dict[int, ManifestHeader] = {}

    def build_link(sequence: int, previous_link: str | None) -> bytes:
        previous_header = None
        if sequence > 1:
            previous_header = load(store, chain_entry_key(MANIFEST_CHAIN, sequence - 1), ChainLink).header_sha256
        header = _header(ref, ctx, inputs, written, sequence=sequence, previous=previous_header, created_at=now)
        data = dump_json(header)
        store.put_bytes(ref.manifest_header, data)
        headers[sequence] = header
        link = ChainLink(
            sequence=sequence, previous=previous_link, header_key=ref.manifest_header, header_sha256=sha256_bytes(data)
        )
        return seal.entry_bytes(link, ctx.hmac_key)

    ctx.renew_lease()
    sequence, _ = Chain(store, MANIFEST_CHAIN).append(build_link)
    _lock(
        store,
        [ref.manifest_parquet, ref.manifest_header, chain_entry_key(MANIFEST_CHAIN, sequence), ref.commit],
        receipt.keep_until,
    )
    return headers[sequence]


def _publish_subject_index(ref: BatchRef, ctx: IntakeContext) -> StoredObject | None:
    """`subjects/index/<dataset>/<batch_id>.parquet` from the rows `assign` staged, sorted by digest (so a lookup
    reads few row groups); None when the dataset declares no identifiers (or the work is from an older release).

    The rows were staged in buckets by the digest's first characters: each bucket is sorted on its
    own and appended in order, so the file is sorted whole while memory holds one bucket."""
    store = ctx.store
    if not ctx.contract(ref).identifiers:
        return None
    if load(store, ref.work(ASSIGN), AssignRecord).index_rows is None:  # staged whole by an older release, if at all
        if not store.exists(ref.work(SUBJECT_ROWS)):
            return None
        staged = [ref.work(SUBJECT_ROWS)]
    else:
        staged = subject_rows_buckets(list(store.list_keys(ref.work() + "/")))
    key = subject_index_key(ref)
    rows = 0
    with store.writing(key) as out:
        with pq.ParquetWriter(out, INDEX_SCHEMA, compression="zstd", use_dictionary=["kind"]) as writer:

            def sorted_bucket(bucket: str) -> pa.Table:
                with store.reading(bucket) as path:
                    table = pq.read_table(path, schema=INDEX_SCHEMA)
                return sorted_by_digest(table)

            for table in in_order(sorted_bucket, staged, workers=ctx.workers):  # the next sorts as this is written
                writer.write_table(table)
                rows += table.num_rows
            if not staged:
                writer.write_table(INDEX_SCHEMA.empty_table())
        return StoredObject(key=key, sha256=sha256_file(out), rows=rows)


def _lock(store: ObjectStore, keys: list[str], until: date) -> None:
    """Keep the batch's manifest, chain link and commit record as long as its receipt (write-once on S3).

    The auditor's story of every record is its manifest row; it must outlive the receipt record
    that points at it, so both are locked through the receipt's `keep_until`. A folder cannot lock.
    """
    for key in keys:
        store.lock_until(key, until)


def _write_manifest_parquet(ref: BatchRef, ctx: IntakeContext, inputs: _Inputs) -> str:
    """manifest.parquet, one row per published record, from the work lineage rows; returns its SHA-256."""
    document, contract = inputs.document, ctx.contract(ref)
    clock = document.retention.clock
    clamped_clock = f"{clock} (clamped to max_retention {contract.max_retention} from received_on)"
    constants = {
        "dataset": ref.dataset,
        "batch_id": ref.batch_id,
        "source_file_sha256": inputs.parsed.source_sha256,
        "provenance_document_id": document.document_id,
        "provenance_sha256": inputs.gate.document_sha256,
        "legal_ground": document.legal_ground.value,
        "validation_run_id": inputs.summary.validation_run_id,
    }
    before_month, after_month = ref.curated_around_month()
    store = ctx.store
    with store.reading(ref.work(LINEAGE)) as assigned, store.writing(ref.manifest_parquet) as out:
        assigned_file = pq.ParquetFile(assigned)
        present = assigned_file.schema_arrow.names  # work files of an older release have no retention_clamped
        columns = [name for name in LINEAGE_COLUMNS.names if name in present]
        with pq.ParquetWriter(out, MANIFEST_SCHEMA, compression="zstd", use_dictionary=_REPEATING) as writer:
            for chunk in read_in_chunks(assigned, chunk_rows=ctx.chunk_rows, columns=columns):
                n = chunk.num_rows
                months = pc.strftime(pc.cast(chunk.column(col.RETENTION_UNTIL), pa.timestamp("s")), format="%Y-%m")
                curated = pc.binary_join_element_wise(before_month, months, after_month, "")
                retention_clock = pc.if_else(
                    chunk.column(col.RETENTION_FALLBACK),
                    pa.scalar("received_on (clock column empty)"),
                    pa.scalar(clock),
                )
                if col.RETENTION_CLAMPED in chunk.schema.names:
                    retention_clock = pc.if_else(
                        chunk.column(col.RETENTION_CLAMPED), pa.scalar(clamped_clock), retention_clock
                    )
                arrays = {
                    "record_id": chunk.column(col.RECORD_ID),
                    **{name: pa.nulls(n, pa.string()).fill_null(value) for name, value in constants.items()},
                    "source_row": chunk.column(col.SOURCE_ROW),
                    "purposes": _repeated_list(document.purposes, n),
                    "received_on": pa.nulls(n, pa.date32()).fill_null(pa.scalar(document.received_on, pa.date32())),
                    "retention_until": chunk.column(col.RETENTION_UNTIL),
                    "record_digest": chunk.column(col.RECORD_DIGEST),
                    "subject_digest": chunk.column(col.SUBJECT_DIGEST),
                    "curated_file": curated,
                    "retention_clock": retention_clock,
                    **_entrusted_columns(document, n),
                }
                table = pa.table([arrays[f.name] for f in MANIFEST_SCHEMA], schema=MANIFEST_SCHEMA)
                writer.write_table(table, row_group_size=LOOKUP_ROW_GROUP_ROWS)
        return sha256_file(out)


# The manifest's columns whose values repeat (one per batch, purpose or month): the only ones worth a dictionary.
_REPEATING = [
    f.name for f in MANIFEST_SCHEMA if f.name not in {"record_id", "source_row", "record_digest", "subject_digest"}
]


def _repeated_list(values: list[str], rows: int) -> pa.Array:
    """The list `values` on each of `rows` rows, built by Arrow (no Python list of rows)."""
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * len(values))
    items = pc.take(pa.array(values, pa.string()), pa.array(np.tile(np.arange(len(values)), rows)))
    return pa.ListArray.from_arrays(offsets, items)


def _entrusted_columns(document: ProvenanceDocument, rows: int) -> dict[str, pa.Array]:
    """`client` and `return_by` for entrusted data (委託), so retention purges it by `return_by`; else nulls."""
    entrusted = document.entrustment if document.legal_ground is LegalGround.ENTRUSTMENT else None
    client = entrusted.client.legal_name if entrusted and entrusted.client else None
    return_by = entrusted.return_by if entrusted else None
    return {
        "client": pa.nulls(rows, pa.string()).fill_null(client) if client else pa.nulls(rows, pa.string()),
        "return_by": pa.nulls(rows, pa.date32()).fill_null(pa.scalar(return_by, pa.date32()))
        if return_by
        else pa.nulls(rows, pa.date32()),
    }


def _receipt(ref: BatchRef, ctx: IntakeContext, inputs: _Inputs, now: datetime) -> Receipt:
    """The recipient's confirmation record (APPI Art. 30(3)): who provided the data and how they got it."""
    document = inputs.document
    provider = document.provider
    return Receipt(
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        created_at=now,
        keep_until=RECEIPT_KEEP.add_to(now.date()),
        keep_rule="3 years from the record's creation (APPI Art. 30(4))",
        received_on=document.received_on,
        provenance_document_id=document.document_id,
        provenance_document_sha256=inputs.gate.document_sha256,
        provider=ReceiptProvider(
            kind=provider.kind.value,
            legal_name=provider.legal_name,
            address=provider.address,
            representative=provider.representative,
            corporate_number=provider.corporate_number,
        ),
        acquisition=_receipt_acquisition(document),
        legal_ground=document.legal_ground.value,
        **ground_block(document),
        data_items=[{"column": i.column, "category": i.category} for i in document.data_items],
        purposes=document.purposes,
        subject_key_columns=ctx.contract(ref).subject_key,
        manifest_key=ref.manifest_parquet,
        records=inputs.assigned.published,
        **_approver(ctx.store, ref),
    )


def _approver(store: ObjectStore, ref: BatchRef) -> dict[str, str | None]:
    """The approving user's id, when the batch was approved with `kakunin provenance approve` (still in landing)."""
    approval = read_approval(store, ref)
    if approval is None:
        return {}
    return {"approved_by_user": approval.approved_by, "approved_by_user_authenticated_by": approval.authenticated_by}


def _receipt_acquisition(document: ProvenanceDocument) -> ReceiptAcquisition:
    acquisition = document.acquisition
    return ReceiptAcquisition(
        source=acquisition.source.value,
        method=acquisition.method.value,
        description=acquisition.description,
        received_by=acquisition.received_by.value if acquisition.received_by else None,
        upstream=[
            ReceiptUpstream(
                legal_name=holder.legal_name,
                address=holder.address,
                corporate_number=holder.corporate_number,
                legal_ground=holder.legal_ground.value,
                collection_method=holder.collection_method.value if holder.collection_method else None,
                evidence=holder.evidence,
            )
            for holder in acquisition.upstream
        ],
    )


def _party(party: Party | None) -> ReceiptParty:
    if party is None:
        return ReceiptParty(legal_name=None, address=None)
    return ReceiptParty(legal_name=party.legal_name, address=party.address, representative=party.representative)


def ground_block(document: ProvenanceDocument) -> dict[str, BaseModel]:
    """The one ground block the receipt carries, as `{field: block}` (the gate made sure the block is there)."""
    ground = document.legal_ground
    block: BaseModel | None = None
    if ground is LegalGround.CONSENT and (consent := document.consent) is not None:
        period = consent.obtained_between
        block = ReceiptConsent(
            mechanism=consent.mechanism.value,
            purposes=consent.purposes,
            obtained_between=ReceiptPeriod(start=period.start, to=period.to) if period else None,
            evidence=consent.evidence,
        )
    elif ground is LegalGround.OPT_OUT and (opt_out := document.opt_out) is not None:
        block = ReceiptOptOut(
            ppc_filing_id=opt_out.ppc_filing_id, published_on=opt_out.published_on, items=opt_out.items or []
        )
    elif ground is LegalGround.ENTRUSTMENT and (entrusted := document.entrustment) is not None:
        block = ReceiptEntrustment(
            client=_party(entrusted.client),
            scope=entrusted.scope,
            return_by=entrusted.return_by,
            evidence=entrusted.evidence,
        )
    elif ground is LegalGround.JOINT_USE and (joint := document.joint_use) is not None:
        block = ReceiptJointUse(
            responsible=_party(joint.responsible),
            users=joint.users,
            items=joint.items,
            purposes=joint.purposes,
            notified_on=joint.notified_on,
            evidence=joint.evidence,
        )
    elif ground is LegalGround.BUSINESS_SUCCESSION and (succession := document.succession) is not None:
        block = ReceiptSuccession(
            predecessor=_party(succession.predecessor),
            effective_on=succession.effective_on,
            purposes=succession.purposes,
            evidence=succession.evidence,
        )
    elif ground is LegalGround.LEGAL_OBLIGATION and (obligation := document.legal_obligation) is not None:
        block = ReceiptLegalObligation(law=obligation.law, evidence=obligation.evidence)
    if block is None:
        raise ConfigError(f"an accepted {ground.value} document without its {GROUND_BLOCKS[ground.value]} block")
    return {GROUND_BLOCKS[ground.value]: block}


def _header(
    ref: BatchRef,
    ctx: IntakeContext,
    inputs: _Inputs,
    written: _Written,
    *,
    sequence: int,
    previous: str | None,
    created_at: datetime,
) -> ManifestHeader:
    """The batch's header at `sequence` in the chain, after `previous` (the header before it)."""
    gate = inputs.gate
    return ManifestHeader(
        manifest_id=written.manifest_id,
        sequence=sequence,
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        created_at=created_at,
        dag_run_id=ctx.dag_run_id,
        code_version=ctx.code_version,
        counts=Counts(
            received=inputs.parsed.rows,
            published=inputs.assigned.published,
            quarantined=inputs.assigned.quarantined,
            parse_failed=inputs.parsed.parse_failed_rows,
            erased=inputs.assigned.erased,
        ),
        retention_clock_fallbacks=inputs.assigned.retention_fallbacks,
        retention_clamped=inputs.assigned.retention_clamped,
        manifest_parquet_sha256=written.manifest_parquet_sha256,
        curated_files=inputs.commit.files,
        provenance_document_id=inputs.document.document_id,
        provenance_document=StoredObject(
            key=f"{gate.provenance_prefix}/{gate.document_file}", sha256=gate.document_sha256
        ),
        source_file_sha256=inputs.parsed.source_sha256,
        receipt=written.receipt,
        receipt_keep_until=written.receipt_keep_until,
        gx=inputs.summary.gx_summary(),
        previous=previous,
        evidence_index=gate.evidence_index,
        commit=written.commit,
        subject_index=written.subject_index,
        overlap=inputs.assigned.overlap,
    )
