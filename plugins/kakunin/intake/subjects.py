"""Intake's data-subject checks, run by `assign` before any row is stamped: erased people, leaked copies.

Erasure for good (APPI Art. 35, GDPR Art. 17): a row any of whose identifier digests is on
the suppression list (`subjects/suppressed/`) is dropped — not published, not quarantined,
only counted (`subject.erased`): the person asked to be erased, so we do not take them again
from anyone, under any customer number.

Leaked-copy signal (APPI Art. 20(1), 30(1)(ii)): a list we already hold, arriving from a
different provider, may be a leaked copy resold through brokers (名簿業者). The batch's rows
whose email or phone digest is already in the subject index under a batch of another provider
are counted; above the contract's `max_overlap_ratio` the batch is rejected (`intake.overlap`).

Both read the batch in chunks and keep only digests and source rows in memory; the same store
gives the same answer, so a rerun of `assign` decides the same. The identifier digests of every
row are written once, to `work/.../identifiers.parquet`, and `assign` stamps the index rows from
them instead of digesting every identifier a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.batches import RejectedProvider
from kakunin.codes import ReasonCode
from kakunin.contracts import DatasetContract, IdentifierKind
from kakunin.intake.context import IntakeContext, StepOutcome, StepStatus
from kakunin.intake.outcomes import reject
from kakunin.intake.work import (
    CONFORMED,
    DIGEST_WORK_OPTIONS,
    IDENTIFIER_COLUMNS,
    IDENTIFIERS,
    gate_record,
    in_order,
    read_in_chunks,
    slices,
)
from kakunin.layout import BatchRef, parse_subject_index_key
from kakunin.lineage.formats import SOURCE_ROW, Overlap, read_receipt
from kakunin.provenance.denylist import normalise_company_name
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument
from kakunin.storage import ObjectStore
from kakunin.subjects.identifiers import index_rows, subject_key
from kakunin.subjects.register import index_keys, read_index, suppressed_digests

CONTACT_KINDS = frozenset({IdentifierKind.EMAIL.value, IdentifierKind.PHONE.value})  # what a copied list keeps


@dataclass(frozen=True)
class ProviderId:
    """Who a batch came from, as far as two batches can be told apart: corporate number, else normalised name."""

    corporate_number: str | None
    name: str  # `normalise_company_name(legal_name)`; "" when the document gave none

    @classmethod
    def of(cls, legal_name: str | None, corporate_number: str | None) -> ProviderId:
        return cls(corporate_number or None, normalise_company_name(legal_name) if legal_name else "")

    def same_as(self, other: ProviderId) -> bool:
        """The corporate number decides when both have one (names are written many ways); else the name.

        Two providers without a name are never the same: we cannot tell, and a leak is the risk to catch."""
        if self.corporate_number and other.corporate_number:
            return self.corporate_number == other.corporate_number
        return bool(self.name) and self.name == other.name


@dataclass(frozen=True)
class OverlapVerdict:
    """The leaked-copy decision for one batch: its counts, and whether they reject it."""

    overlap: Overlap
    rejected: bool

    def message(self) -> str:
        o = self.overlap
        return (
            f"{o.rows} of {o.considered} rows ({o.ratio:.0%}) carry an email or phone number of people we already "
            f"hold from {o.providers} other provider(s); the contract allows at most {o.max_ratio:.0%}. Data we "
            "already hold, arriving from someone else, may be a leaked copy (名簿業者 resale): confirm how this "
            "provider acquired it (取得の経緯) before taking it"
        )


def judge_overlap(*, rows: int, considered: int, providers: int, max_ratio: float) -> OverlapVerdict:
    """Rejected when `rows / considered` is above `max_ratio` (at the limit is allowed; nothing considered is 0)."""
    ratio = rows / considered if considered else 0.0
    overlap = Overlap(rows=rows, considered=considered, ratio=ratio, providers=providers, max_ratio=max_ratio)
    return OverlapVerdict(overlap=overlap, rejected=ratio > max_ratio)


@dataclass(frozen=True)
class Screened:
    """What one pass over the batch found: its rows and the rows to drop (their digests went to a work file)."""

    rows: int
    erased: pa.Array  # source rows (int64) whose person asked to be erased


def screen(
    conformed: Path,
    contract: DatasetContract,
    *,
    key: bytes,
    suppressed: set[str],
    chunk_rows: int,
    identifiers: pq.ParquetWriter,
    digest_rows: int = 65_536,
    workers: int = 1,
    before_chunk: Callable[[], None] = lambda: None,
) -> Screened:
    """Digest each row's identifiers (source rows for ids), `digest_rows` rows at a time, into
    `identifiers` (`IDENTIFIER_COLUMNS`, a row group per slice); keep only the erased rows in memory.
    `workers` slices are digested at once (`in_order`)."""
    wanted = pa.array(sorted(suppressed), pa.string())
    rows = 0
    erased: list[pa.Array] = []

    def parts() -> Iterator[pa.Table]:
        nonlocal rows
        for chunk in read_in_chunks(conformed, chunk_rows=chunk_rows):
            before_chunk()
            rows += chunk.num_rows
            yield from slices(chunk, digest_rows)

    def digested(part: pa.Table) -> tuple[pa.Table, pa.Array]:
        found = index_rows(part.column(SOURCE_ROW), part, contract, key)
        by_row = pa.table(
            [pc.cast(found.column("record_id"), pa.int64()), found.column("kind"), found.column("digest")],
            schema=IDENTIFIER_COLUMNS,
        )
        dropped = pc.unique(by_row.filter(pc.is_in(by_row.column("digest"), value_set=wanted)).column(SOURCE_ROW))
        return by_row, dropped

    for by_row, dropped in in_order(digested, parts(), workers=workers):  # slices digested side by side
        identifiers.write_table(by_row, row_group_size=max(1, by_row.num_rows))  # a row group per slice, in order
        erased.append(dropped)
        pa.default_memory_pool().release_unused()  # give the slice's memory back: the next needs as much
    return Screened(rows=rows, erased=pa.concat_arrays(erased) if erased else pa.array([], pa.int64()))


def held_elsewhere(
    store: ObjectStore, ref: BatchRef, provider: ProviderId, digests: pa.Array
) -> tuple[set[str], list[ProviderId]]:
    """Of `digests`, those the index holds under a batch from another provider; and those providers.

    Reads only the email and phone rows of the index. A batch without a receipt record yet (its lineage
    still being written) is not held; the batch itself is never compared with itself."""
    if not len(digests):
        return set(), []
    found = read_index(store, kinds=set(CONTACT_KINDS), digests=pc.unique(digests))
    others: dict[tuple[str, str], ProviderId | None] = {}
    for dataset, batch_id in sorted(set(zip(found["dataset"].to_pylist(), found["batch_id"].to_pylist(), strict=True))):
        held = BatchRef(dataset, batch_id)
        if held == ref or not store.exists(held.receipt):
            continue
        receipt = read_receipt(store.get_bytes(held.receipt)).provider
        holder = ProviderId.of(receipt.legal_name, receipt.corporate_number)
        others[(dataset, batch_id)] = None if holder.same_as(provider) else holder
    foreign = {
        digest
        for dataset, batch_id, digest in zip(
            found["dataset"].to_pylist(), found["batch_id"].to_pylist(), found["digest"].to_pylist(), strict=True
        )
        if others.get((dataset, batch_id)) is not None
    }
    return foreign, [p for p in others.values() if p is not None]


def overlapping_rows(contact: pa.Table, foreign: set[str]) -> int:
    """Rows (not digests) with at least one email or phone among `foreign`."""
    if not foreign or not contact.num_rows:
        return 0
    hit = contact.filter(pc.is_in(contact.column("digest"), value_set=pa.array(sorted(foreign), pa.string())))
    return len(pc.unique(hit.column(SOURCE_ROW)))


def batch_overlap(
    store: ObjectStore, ref: BatchRef, provider: ProviderId, identifiers: Path, erased: pa.Array
) -> tuple[int, int]:
    """(rows of the batch with an email or phone another provider's batch gave us, how many such providers).

    Streams screening's work file a chunk (row group) at a time, so memory follows the chunk; when the
    index holds no other batch at all, there is nothing to compare and nothing is read."""
    if not any(parse_subject_index_key(key) != ref for key in index_keys(store)):
        return 0, 0
    contact_kinds = pa.array(sorted(CONTACT_KINDS), pa.string())
    rows, providers = 0, []
    parquet = pq.ParquetFile(identifiers)
    for group in range(parquet.num_row_groups):
        found = parquet.read_row_group(group)
        contact = found.filter(
            pc.and_(
                pc.is_in(found.column("kind"), value_set=contact_kinds),
                pc.invert(pc.is_in(found.column(SOURCE_ROW), value_set=erased)),
            )
        )
        foreign, holders = held_elsewhere(store, ref, provider, contact.column("digest"))
        rows += overlapping_rows(contact, foreign)  # a row's identifiers are all in its chunk's row group
        providers += holders
    return rows, len(_distinct(providers))


def _distinct(providers: list[ProviderId]) -> list[ProviderId]:
    """Providers told apart by `same_as` (one company under two spellings of its name counts once)."""
    distinct: list[ProviderId] = []
    for p in providers:
        if not any(p.same_as(q) for q in distinct):
            distinct.append(p)
    return distinct


@dataclass(frozen=True)
class Screening:
    """What `assign` acts on: the rows to drop and the overlap verdict."""

    erased: pa.Array
    verdict: OverlapVerdict


def screen_batch(
    store: ObjectStore,
    ref: BatchRef,
    conformed: Path,
    contract: DatasetContract,
    *,
    provider: ProviderId,
    key: bytes,
    chunk_rows: int,
    identifiers: Path,
    digest_rows: int = 65_536,
    workers: int = 1,
    before_chunk: Callable[[], None] = lambda: None,
) -> Screening:
    """Both checks over one batch: which rows are erased, and whether the rest look like a leaked copy.

    `key` is `subject_key(KAKUNIN_HMAC_KEY)`; every identifier digest is written to the local file
    `identifiers`. The ratio is overlapping rows / rows considered, where considered is every row of the
    batch but the erased ones (erased rows count on neither side); rows that fail the accuracy suite
    count too, since a copied row is copied whatever its values."""
    with pq.ParquetWriter(identifiers, IDENTIFIER_COLUMNS, **DIGEST_WORK_OPTIONS) as writer:
        screened = screen(
            conformed,
            contract,
            key=key,
            suppressed=suppressed_digests(store),
            chunk_rows=chunk_rows,
            digest_rows=digest_rows,
            workers=workers,
            before_chunk=before_chunk,
            identifiers=writer,
        )
    overlapping, providers = batch_overlap(store, ref, provider, identifiers, screened.erased)
    verdict = judge_overlap(
        rows=overlapping,
        considered=screened.rows - len(screened.erased),
        providers=providers,
        max_ratio=contract.max_overlap_ratio,
    )
    return Screening(erased=screened.erased, verdict=verdict)


def screen_subjects(ref: BatchRef, ctx: IntakeContext, document: ProvenanceDocument) -> Screening | None:
    """`screen_batch` for `assign`; None when the dataset declares no identifiers (nothing to match by)."""
    contract = ctx.contract(ref)
    if not contract.identifiers or ctx.hmac_key is None:
        return None
    store = ctx.store
    with store.reading(ref.work(CONFORMED)) as conformed, store.writing(ref.work(IDENTIFIERS)) as identifiers:
        return screen_batch(
            store,
            ref,
            conformed,
            contract,
            provider=ProviderId.of(document.provider.legal_name, document.provider.corporate_number),
            key=subject_key(ctx.hmac_key),
            chunk_rows=ctx.chunk_rows,
            digest_rows=ctx.digest_rows,
            workers=ctx.workers,
            before_chunk=ctx.renew_lease,
            identifiers=identifiers,
        )


def refuse_overlap(ref: BatchRef, ctx: IntakeContext, screening: Screening | None) -> StepOutcome | None:
    """Reject the batch whole (`intake.overlap`) when its verdict says so; None when it goes on."""
    if screening is None or not screening.verdict.rejected:
        return None
    record, document = gate_record(ref, ctx.store)
    reject(
        ref,
        ctx,
        stage="provenance",  # a question about how the provider acquired the data, asked once we can
        findings=[Finding.of(ReasonCode.INTAKE_OVERLAP, record.data_file, screening.verdict.message())],
        document_id=document.document_id,
        document_sha256=record.document_sha256,
        provider=RejectedProvider.of(document),
    )
    return StepOutcome(
        batch=str(ref), step="assign", status=StepStatus.REJECTED, detail=ReasonCode.INTAKE_OVERLAP.value
    )
