"""The work records one step leaves for the next under `work/<dataset>/<batch_id>/`, and where a batch stands.

Steps pass batch references, never data: each step reads what the previous one left here.
The records hold counts, hashes and the accepted document, never personal data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin.hashing import sha256_bytes
from kakunin.layout import (
    LANDING,
    MANIFEST_CHAIN,
    SUBMISSION_FILE,
    BatchRef,
    batch_prefix,
    chain_entry_key,
    parse_batch_key,
)
from kakunin.lineage.formats import (
    RECORD_DIGEST,
    RECORD_ID,
    RETENTION_CLAMPED,
    RETENTION_FALLBACK,
    RETENTION_UNTIL,
    SOURCE_ROW,
    SUBJECT_DIGEST,
    ChainLink,
    ManifestHeader,
    Overlap,
    StoredObject,
)
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument
from kakunin.storage import ObjectStore, load
from kakunin.yaml_io import json_text

WORK_COMPRESSION = "snappy"  # work files are read once, soon: fast beats small
# Digests and record ids are unique per row: a dictionary never pays for itself on them, and Parquet's writer tries
# one (measured: a third of the writing time of an index file) unless told which columns may have one.
DIGEST_WORK_OPTIONS: dict[str, Any] = {"compression": "none", "use_dictionary": ["kind"]}
CURATED_COMPRESSION = "zstd"  # curated and quarantine files are kept: small beats fast

GATE = "gate.json"
PARSE = "parse.json"
ACCURACY = "accuracy.json"
ASSIGN = "assign.json"
CONFORMED = "conformed.parquet"
FAILURES = "failures.parquet"
LINEAGE = "lineage.parquet"
IDENTIFIERS = (
    "identifiers.parquet"  # (source row, kind, digest) per identifier, in source-row order: screening's digests
)
SUBJECT_ROWS = "subjects.parquet"  # the batch's subject index rows (record_id, kind, digest), of an older release


def subject_bucket_characters(rows: int) -> int:
    """How many leading hex characters of the digest name a batch's staging bucket: memory follows the
    bucket, and every bucket is an object to write and delete (on S3, requests), so a small batch gets
    one file, a million rows 16, four million and more 256 (about 62,000 index rows each at 4M)."""
    if rows < 250_000:
        return 0
    return 1 if rows < 2_000_000 else 2


def subject_rows_bucket(prefix: str) -> str:
    """The work file of the subject index rows whose digest starts with `prefix` ("" when there is one
    bucket), published by lineage, which sorts one bucket at a time."""
    return f"subjects-{prefix}.parquet"


def subject_rows_buckets(keys: list[str]) -> list[str]:
    """Of a batch's work keys, the staged subject index buckets, in digest order."""
    return sorted(k for k in keys if k.rsplit("/", 1)[-1].startswith("subjects-") and k.endswith(".parquet"))


FAILED_ROWS = "failed_rows.parquet"  # in quarantine: the rows that failed, with the rules they failed

# work/.../lineage.parquet: one row per published record, no personal data.
LINEAGE_COLUMNS = pa.schema(
    [
        pa.field(RECORD_ID, pa.string(), nullable=False),
        pa.field(SOURCE_ROW, pa.int64(), nullable=False),
        pa.field(RETENTION_UNTIL, pa.date32(), nullable=False),
        pa.field(RETENTION_FALLBACK, pa.bool_(), nullable=False),
        pa.field(RETENTION_CLAMPED, pa.bool_(), nullable=False),
        pa.field(RECORD_DIGEST, pa.string(), nullable=False),
        pa.field(SUBJECT_DIGEST, pa.string(), nullable=False),
    ]
)


IDENTIFIER_COLUMNS = pa.schema(
    [
        pa.field(SOURCE_ROW, pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("digest", pa.string(), nullable=False),
    ]
)


def read_in_chunks(path: Path, *, chunk_rows: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """A work file a chunk at a time: its row groups (a step's chunks) when none is much larger than a
    chunk, else batches of `chunk_rows`. Measured: `iter_batches` reads well ahead of the batch it hands
    out (a 1M-row file peaked at 390 MiB against 260 MiB read a row group at a time)."""
    parquet = pq.ParquetFile(path)
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    if sizes and max(sizes) <= 2 * chunk_rows:
        for index in range(parquet.num_row_groups):
            yield parquet.read_row_group(index, columns=columns)
    else:
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns):
            yield pa.Table.from_batches([batch])


def slices(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """`table` in zero-copy slices of at most `rows` rows (one slice when it is no longer)."""
    for start in range(0, max(table.num_rows, 1), rows):
        yield table.slice(start, rows)


_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def in_order(function: Callable[[_Item], _Result], items: Iterable[_Item], *, workers: int) -> Iterator[_Result]:
    """`map(function, items)` on up to `workers` threads at once, results handed out in the items' order.

    For the per-slice kernels (Arrow compute, DuckDB, Parquet decoding), which release the GIL: two
    slices are digested on two cores while the caller writes the one before. At most `workers` items
    are in flight (one more held ~50 MiB more at 1M rows), so memory follows the slice, not the batch;
    `items` is pulled on the caller's thread (a reader that must go in order stays in order). An error
    in any item is raised here, in order; the items after it are not started. `workers <= 1`: plain `map`, no thread."""
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kakunin-kernel") as pool:
        pending: deque[Future[_Result]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # the caller stopped early or an item failed: start nothing more
                future.cancel()


class GateRecord(BaseModel):
    document: dict[str, Any]
    document_sha256: str
    document_file: str
    data_file: str
    findings: list[Finding]
    provenance_prefix: str
    evidence_index: StoredObject | None = None  # absent in gate records of an older release


class ParseRecord(BaseModel):
    encoding: str
    rows: int
    source_sha256: str
    parse_failed_rows: int


class AssignRecord(BaseModel):
    """What `assign` staged: counts, and the records per expiry month (one curated file each)."""

    published: int
    quarantined: int
    retention_fallbacks: int
    retention_clamped: int = 0  # absent in work files of an older release
    months: dict[str, int]
    erased: int = 0  # rows dropped: their person asked to be erased (subject.erased)
    overlap: Overlap | None = None  # the leaked-copy signal; None when the dataset declares no identifiers
    index_rows: int | None = None  # subject index rows staged in buckets; None: an older release staged them whole

    def to_bytes(self) -> bytes:
        return json_text(self.model_dump(), indent=None).encode()


def gate_record(ref: BatchRef, store: ObjectStore) -> tuple[GateRecord, ProvenanceDocument]:
    """The gate's record and the document it accepted."""
    record = load(store, ref.work(GATE), GateRecord)
    return record, ProvenanceDocument.model_validate(record.document)


def find_pending(store: ObjectStore) -> list[BatchRef]:
    """Every batch in landing that was submitted completely, oldest first."""
    refs = []
    for key in store.list_keys(batch_prefix(LANDING)):
        parsed = parse_batch_key(key, LANDING)
        if parsed is not None and parsed[1] == SUBMISSION_FILE:
            refs.append(parsed[0])
    return sorted(refs, key=lambda r: r.batch_id)


def is_finished(ref: BatchRef, store: ObjectStore) -> bool:
    """Whether nothing is left to do for the batch: no submission in landing, no work files."""
    return not store.exists(ref.submission) and not any(True for _ in store.list_keys(ref.work() + "/"))


def is_rejected(ref: BatchRef, store: ObjectStore) -> bool:
    return store.exists(ref.rejection)


def is_linked(ref: BatchRef, store: ObjectStore) -> bool:
    """Whether the batch's manifest header exists and the chain link at its sequence pins exactly it."""
    if not store.exists(ref.manifest_header):
        return False
    data = store.get_bytes(ref.manifest_header)
    header = ManifestHeader.model_validate_json(data)
    link_key = chain_entry_key(MANIFEST_CHAIN, header.sequence)
    if not store.exists(link_key):
        return False
    link = load(store, link_key, ChainLink)
    return link.header_key == ref.manifest_header and link.header_sha256 == sha256_bytes(data)
