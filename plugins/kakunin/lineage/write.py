"""Writing a published batch's lineage: manifest.parquet, the receipt record, manifest.json and its chain link."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.durations import IsoDuration
from kakunin.errors import ConfigError
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.lineage.chain import Chain, canonical_json, entry_key
from kakunin.lineage.formats import (
    MANIFEST_CHAIN,
    MANIFEST_SCHEMA,
    ChainLink,
    Commit,
    Counts,
    GxSummary,
    ManifestHeader,
    Receipt,
    ReceiptProvider,
    RuleResult,
    StoredObject,
    commit_key,
    manifest_prefix,
    receipt_key,
)
from kakunin.yaml_io import dump_json

if TYPE_CHECKING:
    from kakunin.intake.steps import BatchRef, IntakeContext

RECEIPT_KEEP = IsoDuration(years=3)


def write_lineage(ref: BatchRef, ctx: IntakeContext) -> ManifestHeader:
    """Everything an auditor needs about one published batch, linked into the manifest chain."""
    from kakunin.intake.accuracy import AccuracySummary
    from kakunin.intake.conform import SOURCE_ROW
    from kakunin.intake.steps import (
        RECORD_DIGEST,
        RECORD_ID,
        RETENTION_CLAMPED,
        RETENTION_FALLBACK,
        RETENTION_UNTIL,
        SUBJECT_DIGEST,
        GateRecord,
        ParseRecord,
        _gate_record,
    )

    store = ctx.store
    record, document = _gate_record(ref, ctx)
    gate_record: GateRecord = record
    parsed = ParseRecord.model_validate_json(store.get_bytes(ref.work("parse.json")))
    summary = AccuracySummary.model_validate_json(store.get_bytes(ref.work("accuracy.json")))
    assigned_counts = json.loads(store.get_bytes(ref.work("assign.json")))
    commit = Commit.model_validate_json(store.get_bytes(commit_key(ref.dataset, ref.batch_id)))
    contract = ctx.registry.contract(ref.dataset)
    if contract is None:
        raise ConfigError(f"dataset {ref.dataset} has no contract")
    prefix = manifest_prefix(ref.dataset, ref.batch_id)
    clock = document.retention.clock
    clamped_clock = f"{clock} (clamped to max_retention {contract.max_retention} from received_on)"
    constants = {
        "dataset": ref.dataset,
        "batch_id": ref.batch_id,
        "source_file_sha256": parsed.source_sha256,
        "provenance_document_id": document.document_id,
        "provenance_sha256": gate_record.document_sha256,
        "legal_ground": document.legal_ground.value,
        "validation_run_id": summary.validation_run_id,
    }
    with store.reading(ref.work("lineage.parquet")) as assigned, store.writing(f"{prefix}/manifest.parquet") as out:
        columns = [RECORD_ID, SOURCE_ROW, RETENTION_UNTIL, RETENTION_FALLBACK, RECORD_DIGEST, SUBJECT_DIGEST]
        assigned_file = pq.ParquetFile(assigned)
        if RETENTION_CLAMPED in assigned_file.schema_arrow.names:  # absent in work files of an older release
            columns.append(RETENTION_CLAMPED)
        with pq.ParquetWriter(out, MANIFEST_SCHEMA, compression="zstd") as writer:
            for chunk in assigned_file.iter_batches(batch_size=ctx.chunk_rows, columns=columns):
                n = chunk.num_rows
                months = pc.strftime(pc.cast(chunk.column(RETENTION_UNTIL), pa.timestamp("s")), format="%Y-%m")
                curated = pc.binary_join_element_wise(
                    f"curated/{ref.dataset}/expiry=", months, f"/part-{ref.batch_id}.parquet", ""
                )
                retention_clock = pc.if_else(
                    chunk.column(RETENTION_FALLBACK), pa.scalar("received_on (clock column empty)"), pa.scalar(clock)
                )
                if RETENTION_CLAMPED in chunk.schema.names:
                    retention_clock = pc.if_else(
                        chunk.column(RETENTION_CLAMPED), pa.scalar(clamped_clock), retention_clock
                    )
                arrays = {
                    "record_id": chunk.column(RECORD_ID),
                    **{name: pa.nulls(n, pa.string()).fill_null(value) for name, value in constants.items()},
                    "source_row": chunk.column(SOURCE_ROW),
                    "purposes": pa.array([document.purposes] * n, pa.list_(pa.string())),
                    "received_on": pa.nulls(n, pa.date32()).fill_null(pa.scalar(document.received_on, pa.date32())),
                    "retention_until": chunk.column(RETENTION_UNTIL),
                    "record_digest": chunk.column(RECORD_DIGEST),
                    "subject_digest": chunk.column(SUBJECT_DIGEST),
                    "curated_file": curated,
                    "retention_clock": retention_clock,
                }
                writer.write_batch(pa.record_batch([arrays[f.name] for f in MANIFEST_SCHEMA], schema=MANIFEST_SCHEMA))
        manifest_sha = sha256_file(out)
    now = ctx.now()
    receipt = Receipt(
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        created_at=now,
        keep_until=RECEIPT_KEEP.add_to(now.date()),
        keep_rule="3 years from the record's creation (APPI Art. 30(4))",
        received_on=document.received_on,
        provenance_document_id=document.document_id,
        provenance_document_sha256=gate_record.document_sha256,
        provider=ReceiptProvider(
            kind=document.provider.kind.value,
            legal_name=document.provider.legal_name,
            address=document.provider.address,
            representative=document.provider.representative,
            corporate_number=document.provider.corporate_number,
        ),
        acquisition_source=document.acquisition.source.value,
        acquisition_method=document.acquisition.method.value,
        acquisition_description=document.acquisition.description,
        legal_ground=document.legal_ground.value,
        consent_mechanism=document.consent.mechanism.value if document.consent else None,
        ppc_filing_id=document.opt_out.ppc_filing_id if document.opt_out else None,
        data_items=[{"column": i.column, "category": i.category} for i in document.data_items],
        purposes=document.purposes,
        subject_key_columns=contract.subject_key,
        manifest_key=f"{prefix}/manifest.parquet",
        records=assigned_counts["published"],
    )
    receipt_bytes = dump_json(receipt)
    store.put_bytes(receipt_key(ref.dataset, ref.batch_id), receipt_bytes)
    gx = GxSummary(
        suite=summary.suite,
        validation_run_id=summary.validation_run_id,
        success=all(r.success for r in summary.rules),
        evaluated_expectations=len(summary.rules),
        successful_expectations=sum(r.success for r in summary.rules),
        rules=[RuleResult(rule=r.rule, unexpected=r.unexpected, success=r.success) for r in summary.rules],
        data_docs=summary.data_docs,
    )
    header_key = f"{prefix}/manifest.json"
    chain = Chain(store, MANIFEST_CHAIN)
    manifest_id = str(uuid.uuid4())
    headers: dict[int, ManifestHeader] = {}

    def build_link(sequence: int, previous_link: str | None) -> bytes:
        previous_header = None
        if sequence > 1:
            previous_header = ChainLink.model_validate_json(
                store.get_bytes(entry_key(MANIFEST_CHAIN, sequence - 1))
            ).header_sha256
        header = ManifestHeader(
            manifest_id=manifest_id,
            sequence=sequence,
            dataset=ref.dataset,
            batch_id=ref.batch_id,
            created_at=now,
            dag_run_id=ctx.dag_run_id,
            code_version=ctx.code_version,
            counts=Counts(
                received=parsed.rows,
                published=assigned_counts["published"],
                quarantined=assigned_counts["quarantined"],
                parse_failed=parsed.parse_failed_rows,
            ),
            retention_clock_fallbacks=assigned_counts["retention_fallbacks"],
            retention_clamped=assigned_counts.get("retention_clamped", 0),
            manifest_parquet_sha256=manifest_sha,
            curated_files=commit.files,
            provenance_document_id=document.document_id,
            provenance_document=StoredObject(
                key=f"{gate_record.provenance_prefix}/{gate_record.document_file}", sha256=gate_record.document_sha256
            ),
            source_file_sha256=parsed.source_sha256,
            receipt=StoredObject(key=receipt_key(ref.dataset, ref.batch_id), sha256=sha256_bytes(receipt_bytes)),
            receipt_keep_until=receipt.keep_until,
            gx=gx,
            previous=previous_header,
        )
        data = dump_json(header)
        store.put_bytes(header_key, data)
        headers[sequence] = header
        link = ChainLink(
            sequence=sequence, previous=previous_link, header_key=header_key, header_sha256=sha256_bytes(data)
        )
        return canonical_json(link.model_dump(mode="json"))

    _renew_lease(ctx)
    sequence, _ = chain.append(build_link)
    return headers[sequence]


def _renew_lease(ctx: IntakeContext) -> None:
    if ctx.lease is not None:
        ctx.lease.renew()
