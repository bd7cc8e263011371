"""Verify's check of the subject index: it finds exactly the live records, and never a purged one.

An index row that outlives its record lets a person be "found" in data we said was erased; a row
that is missing hides a live record from `subject find` and from erasure. Keyless, the check
holds each index file against the manifests and the certificates (which batch, which records,
nothing purged); keyed with the contracts, each live record's rows are re-derived from its curated
row and compared both ways. Problems name index files and record ids, never what a digest hides.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from kakunin.errors import KakuninError
from kakunin.layout import (
    AUDIT_CHAIN,
    CERTIFICATE_CHAIN,
    SUBJECT_INDEX,
    BatchRef,
    folder_prefix,
    parse_subject_index_key,
    subject_index_key,
)
from kakunin.lineage.chain import Chain, linked_manifests
from kakunin.lineage.columns import column_blocks_as, read_as, read_columns
from kakunin.lineage.formats import AuditAction, AuditEntry, Certificate, CertificateLink, ManifestHeader
from kakunin.lineage.problems import Problems, unsafe_keys
from kakunin.lineage.rowkeys import IdSet, same_rows
from kakunin.storage import ObjectStore

if TYPE_CHECKING:
    from kakunin.lineage.record_digests import ContractFor

CHECK = "subjects"
REINDEX_HINT = "kakunin subject reindex"
_ROW_SEPARATOR = "\x1f"
_ROW_COLUMNS = ("record_id", "kind", "digest")


@dataclass(frozen=True)
class LinkedBatch:
    """A batch the manifest chain links, with what its header says about its index."""

    ref: BatchRef
    header: ManifestHeader
    manifest_key: str


@dataclass
class _Accounts:
    """What the chains say the index may hold: index files reindexing wrote, and index files purges deleted."""

    reindexed: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


def linked_batches(store: ObjectStore) -> Iterator[LinkedBatch]:
    """Every batch of the manifest chain whose header and manifest can be read (verify reports the others)."""
    for header_key, manifest_key in linked_manifests(store):
        try:
            header = ManifestHeader.model_validate_json(store.get_bytes(header_key))
        except (ValidationError, KakuninError):
            continue
        yield LinkedBatch(BatchRef(header.dataset, header.batch_id), header, manifest_key)


def live_index_rows(
    store: ObjectStore, batch: LinkedBatch, contract_for: ContractFor, key: bytes, *, ordered: bool = True
) -> pa.Table | None:
    """The index rows the batch's live curated records give (`key` = KAKUNIN_HMAC_KEY); None when its dataset
    declares no identifiers (or has no contract here). Sorted by digest as the index is stored, unless not
    `ordered` (verify compares them as sets: sorting a million digests buys it nothing)."""
    from kakunin.subjects.identifiers import INDEX_SCHEMA, index_rows, subject_key

    contract = contract_for(batch.ref.dataset)
    if contract is None or not contract.identifiers:
        return None
    with store.open_input(batch.manifest_key) as handle:
        rows = read_columns(handle, ["record_id", "curated_file"])
    needed = ["record_id", *(s.column for s in contract.identifiers)]
    needed += [s.birth_date for s in contract.identifiers if s.birth_date is not None]
    parts = [INDEX_SCHEMA.empty_table()]
    derived = subject_key(key)
    for curated_key in pc.unique(rows.column("curated_file")).to_pylist():
        if unsafe_keys([curated_key]) or not store.exists(curated_key):
            continue
        with store.reading(curated_key) as path:
            table = read_columns(path, list(dict.fromkeys(needed)))  # only what the identifiers are taken over
        table = table.filter(pc.is_in(table.column("record_id"), value_set=rows.column("record_id")))
        if table.num_rows:
            parts.append(index_rows(table.column("record_id"), table, contract, derived))
    found = pa.concat_tables(parts)
    if not ordered:
        return found
    return found.sort_by([("digest", "ascending"), ("record_id", "ascending")])


def check_subject_index(
    store: ObjectStore,
    problems: Problems,
    *,
    purged: pa.Array,
    key: bytes | None,
    contract_for: ContractFor | None,
    manifest_ids: Mapping[str, pa.Array] | None = None,
) -> int:
    """Report every index file or row that does not match the lineage; returns how many index files were read.

    Each index file is read once: keyless, only its record ids; keyed, whole, and its content is compared
    then, its problems kept to be reported in their place after the file checks. `manifest_ids`: the record
    ids of manifests the caller has read already (by manifest.parquet key), so they are not read again."""
    accounts = _accounts(store)
    batches = {b.ref: b for b in linked_batches(store)}
    keyed = key is not None and contract_for is not None
    compared: dict[BatchRef, Problems] = {}
    files = 0
    for index_key in sorted(store.list_keys(folder_prefix(SUBJECT_INDEX))):
        ref = parse_subject_index_key(index_key)
        if ref is None:
            if not index_key.rsplit("/", 1)[-1].startswith((".", "_")):  # a write in progress is leftovers' to judge
                problems.fail(
                    CHECK, index_key, "not a batch's index file (subjects/index/<dataset>/<batch_id>.parquet)"
                )
            continue
        files += 1
        batch = batches.get(ref)
        if batch is None:
            problems.fail(CHECK, index_key, "an index file of no published batch: no linked manifest names it")
            continue
        if batch.header.subject_index is None and index_key not in accounts.reindexed:
            problems.fail(
                CHECK,
                index_key,
                "the batch's manifest header pins no subject index and no reindex audit entry wrote it",
            )
        whole = keyed and subject_index_key(ref) == index_key
        # asked for only when the first block of ids is looked up: the caller may still be reading them
        of_batch = partial(_ids_of, manifest_ids, batch.manifest_key)
        if not whole:  # keyless: only its record ids, a block of row groups at a time
            _check_file(store, problems, batch, index_key, _id_blocks(store, index_key), purged, of_batch)
            continue
        try:
            index: pa.Table | None = _index_table(store, index_key, whole=True)
        except (pa.ArrowException, KeyError, KakuninError, OSError):
            index = None
        read = None if index is None else iter([index.column("record_id")])
        _check_file(store, problems, batch, index_key, read, purged, of_batch)
        if key is not None and contract_for is not None:
            compared[ref] = Problems()
            _check_content(store, compared[ref], batch, key, contract_for, purged, index=index)
        del index  # an index of millions of rows: not held while the next is read
    for batch in batches.values():
        index_key = subject_index_key(batch.ref)
        pinned = batch.header.subject_index is not None
        if pinned and not store.exists(index_key) and index_key not in accounts.deleted:
            problems.fail(
                CHECK,
                index_key,
                f"the subject index its manifest header pins is missing and no closed purge certificate deleted it; "
                f"rebuild it with `{REINDEX_HINT} --batch {batch.ref.batch_id}`",
            )
        if batch.ref in compared:
            problems += compared[batch.ref]
        elif key is not None and contract_for is not None:
            _check_content(store, problems, batch, key, contract_for, purged)
    return files


def _ids_of(manifest_ids: Mapping[str, pa.Array] | None, manifest_key: str) -> pa.Array | None:
    """The manifest's record ids if the caller has read them (None: `_check_file` reads them)."""
    return None if manifest_ids is None else manifest_ids.get(manifest_key)


class _Unreadable(Exception):
    """The index file could not be read (at its start or at a later block)."""


_READ_ERRORS = (pa.ArrowException, KeyError, KakuninError, OSError)
_BLOCK_ROWS = 1 << 19  # the keyless check's index ids are read and looked up ~500K at a time, not all at once
_AHEAD = 8  # blocks read ahead of their lookup (~4M ids): reading goes on while the manifests are read


def _id_blocks(store: ObjectStore, index_key: str) -> Iterator[pa.ChunkedArray]:
    """The index file's record ids as `_index_table` reads them, a block of row groups at a time; a read
    that fails, at any block, raises `_Unreadable`."""
    from kakunin.subjects.identifiers import INDEX_SCHEMA

    try:
        with store.open_input(index_key) as handle:
            blocks = column_blocks_as(handle, INDEX_SCHEMA, "record_id", _BLOCK_ROWS)
            if blocks is None:  # no record_id column: read whole (as nulls), as before
                yield _index_table(store, index_key, whole=False).column("record_id")
                return
            yield from blocks
    except _READ_ERRORS as exc:
        raise _Unreadable(index_key) from exc


def _check_file(
    store: ObjectStore,
    problems: Problems,
    batch: LinkedBatch,
    index_key: str,
    blocks: Iterator[pa.ChunkedArray] | None,
    purged: pa.Array,
    of_batch: Callable[[], pa.Array | None],
) -> None:
    """The file's record ids (`blocks` of them as read; None: it could not be read) are the batch's
    (`of_batch()`, read here when it gives None), and none was purged.

    The blocks are read on this thread and looked up on another; the batch's ids are asked for at the
    first lookup, after the file's first block was read (an unreadable file is reported before its
    manifest is read, as the whole read did), so reading is not held up while the caller reads them."""
    if blocks is None:
        problems.fail(CHECK, index_key, "not a readable subject index (record_id, kind, digest)")
        return
    batch_ids: list[IdSet | None] = []  # made once, by the first lookup: None when the manifest cannot be read

    def the_batch_ids() -> IdSet | None:
        if not batch_ids:
            ids = of_batch()
            if ids is None:
                try:
                    with store.open_input(batch.manifest_key) as handle:
                        ids = read_columns(handle, ["record_id"]).column("record_id").combine_chunks()
                except (pa.ArrowException, KakuninError, OSError):
                    ids = None  # verify's manifest check reports an unreadable manifest; an unreadable index, this
            batch_ids.append(None if ids is None else IdSet(ids))  # the batch's side of the lookups, made once
        return batch_ids[0]

    def look_up(ids: pa.ChunkedArray) -> tuple[list[pa.Array], list[pa.Array]]:
        """The block's ids of no record of the batch, and of purged records."""
        of = the_batch_ids()
        if of is None:
            return [], []
        resurrected = ids.filter(pc.is_in(ids, value_set=purged)).chunks if len(purged) else []
        return ids.filter(pc.invert(of.is_in(ids))).chunks, resurrected

    strangers: list[pa.Array] = []
    resurrected: list[pa.Array] = []

    def take(done: Future[tuple[list[pa.Array], list[pa.Array]]]) -> None:
        found, purged_found = done.result()
        strangers.extend(found)
        resurrected.extend(purged_found)

    # each block is looked up on a second thread while the next ones are read (both release the GIL);
    # at most _AHEAD blocks wait for their lookup, so a slow lookup does not hold the whole file
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakunin-index-lookup") as pool:
        pending: collections.deque[Future[tuple[list[pa.Array], list[pa.Array]]]] = collections.deque()
        try:
            for ids in blocks:  # as read, a chunk per row group
                pending.append(pool.submit(look_up, ids))
                del ids
                while len(pending) > _AHEAD:
                    take(pending.popleft())
        except _Unreadable:
            for waiting in pending:  # the lookups of a file that cannot be read answer nothing
                waiting.cancel()
            problems.fail(CHECK, index_key, "not a readable subject index (record_id, kind, digest)")
            return
        while pending:
            take(pending.popleft())
    if batch_ids and batch_ids[0] is None:
        return
    _report_ids(problems, batch, index_key, strangers, resurrected)


def _report_ids(
    problems: Problems, batch: LinkedBatch, index_key: str, strangers: list[pa.Array], resurrected: list[pa.Array]
) -> None:
    """The index's record ids of other batches, and of purged records, each once, in the order they are stored."""
    found = pc.unique(pa.chunked_array(strangers, pa.string()))
    if len(found):
        problems.fail(
            CHECK,
            index_key,
            f"{len(found)} record(s) in the index are not records of batch {batch.ref.batch_id} "
            f"(first: {found[0].as_py()})",
        )
    found = pc.unique(pa.chunked_array(resurrected, pa.string()))
    if len(found):
        problems.fail(
            CHECK,
            index_key,
            f"the index still finds purged records: {len(found)} record(s) a closed certificate purged "
            f"(first: {found[0].as_py()}); rebuild it with `{REINDEX_HINT} --batch {batch.ref.batch_id}`",
        )


_UNREAD = pa.table({})  # `_check_content`'s index argument when the caller has not read the index file


def _check_content(
    store: ObjectStore,
    problems: Problems,
    batch: LinkedBatch,
    key: bytes,
    contract_for: ContractFor,
    purged: pa.Array,
    *,
    index: pa.Table | None = _UNREAD,
) -> None:
    """Keyed: the index holds exactly the rows the batch's live curated records give.

    `index` is the index file as the caller read it (None: unreadable); by default it is read here."""
    index_key = subject_index_key(batch.ref)
    try:
        expected = live_index_rows(store, batch, contract_for, key, ordered=False)
    except (pa.ArrowException, KeyError, KakuninError, OSError):
        problems.fail(
            CHECK, index_key, "the batch's manifest or curated records cannot be read: its index was not re-derived"
        )
        return
    if expected is None:
        return
    if not store.exists(index_key):  # a pinned one missing is reported by the caller
        if batch.header.subject_index is None and expected.num_rows:
            problems.fail(
                CHECK,
                index_key,
                f"batch {batch.ref.batch_id} was published before the subject index: its people cannot be found "
                f"or erased by identifier; write its index with `{REINDEX_HINT}`",
            )
        return
    if index is _UNREAD:
        try:
            index = _index_table(store, index_key, whole=True)
        except (pa.ArrowException, KeyError, KakuninError, OSError):
            index = None
    if index is None:
        return  # reported by _check_file
    actual = index.filter(pc.invert(pc.is_in(index.column("record_id"), value_set=purged)))
    if same_rows(expected, actual, list(_ROW_COLUMNS), keyed_by=["record_id", "digest"]):
        return  # row for row the same: nothing missing, nothing extra
    expected_keys, actual_keys = _row_keys(expected), _row_keys(actual)
    missing = expected.filter(pc.invert(pc.is_in(expected_keys, value_set=actual_keys)))
    if missing.num_rows:
        first = missing.sort_by([("digest", "ascending"), ("record_id", "ascending")]).column("record_id")[0]
        problems.fail(
            CHECK,
            index_key,
            f"{missing.num_rows} identifier row(s) of live records are missing from the index (first record: "
            f"{first.as_py()}): that person can no longer be found or erased by identifier; rebuild it with "
            f"`{REINDEX_HINT} --batch {batch.ref.batch_id}`",
        )
    del expected
    extra = (
        actual.column("record_id").combine_chunks().filter(pc.invert(pc.is_in(actual_keys, value_set=expected_keys)))
    )
    if len(extra):
        problems.fail(
            CHECK,
            index_key,
            f"{len(extra)} index row(s) match no identifier of a live record (first record: {extra[0].as_py()})",
        )


def _row_keys(rows: pa.Table) -> pa.Array:
    """One text per row (record, kind, digest), to compare rows as a set."""
    columns = [rows.column(c).combine_chunks() for c in _ROW_COLUMNS]
    return pc.binary_join_element_wise(*columns, _ROW_SEPARATOR)


def _index_table(store: ObjectStore, index_key: str, *, whole: bool) -> pa.Table:
    """The index file as its schema reads it: `whole`, or only its record ids (the keyless check's need)."""
    from kakunin.subjects.identifiers import INDEX_SCHEMA

    with store.open_input(index_key) as handle:
        return read_as(handle, INDEX_SCHEMA, None if whole else ["record_id"])


def _accounts(store: ObjectStore) -> _Accounts:
    """Index files written by `subject reindex` (audit log) and deleted by purges (closed certificates)."""
    out = _Accounts()
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            entry = AuditEntry.model_validate_json(data)
        except ValidationError:
            continue  # verify's audit check reports it
        if entry.action == AuditAction.SUBJECT_REINDEX and isinstance(entry.detail.get("index"), str):
            out.reindexed.add(str(entry.detail["index"]))
    for _, data in Chain(store, CERTIFICATE_CHAIN).entries():
        try:
            link = CertificateLink.model_validate_json(data)
            if unsafe_keys([link.certificate_key]) or not store.exists(link.certificate_key):
                continue
            certificate = Certificate.model_validate_json(store.get_bytes(link.certificate_key))
        except ValidationError:
            continue  # verify's certificate check reports it
        out.deleted.update(a.key for a in certificate.subject_index if a.action == "delete")
    return out
