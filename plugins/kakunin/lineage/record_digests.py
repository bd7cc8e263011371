"""Keyed verify's content check: every live curated record re-hashed to the `record_digest` its row holds.

The seals already pin each curated file's SHA-256; this goes one step further down, to the
records themselves, with the same canonical text intake hashed (`lineage.digests`). It needs
the dataset contracts (the columns and their order), which the caller passes in, so the
auditor's check still imports no writer. The HMACs are `lineage.digests`' vectorised ones, a file at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.errors import StorageNotFound
from kakunin.lineage.chain import linked_manifests
from kakunin.lineage.columns import read_columns
from kakunin.lineage.corrections import corrected_digests, linked_corrections, with_corrected_digests
from kakunin.lineage.digests import Hmac, canonical_records
from kakunin.lineage.problems import Problems, unsafe_keys
from kakunin.storage import ObjectStore

if TYPE_CHECKING:
    from kakunin.contracts import DatasetContract

ContractFor = Callable[[str], "DatasetContract | None"]


def recheck_record_digests(store: ObjectStore, key: bytes, contract_for: ContractFor, problems: Problems) -> int:
    """Re-derive the digest of every live record of every linked manifest; returns how many were checked.

    A corrected record is expected to hash to the digest its latest correction recorded."""
    hmac = Hmac(key)
    checked = 0
    corrected = corrected_digests(linked_corrections(store))  # a corrected record: its latest digest (訂正)
    for header_key, manifest_key in linked_manifests(store):
        try:
            with store.open_input(manifest_key) as handle:
                rows = read_columns(handle, ["record_id", "record_digest", "curated_file", "dataset"])
        except (StorageNotFound, pa.ArrowException, OSError):  # pyarrow raises OSError for a corrupt footer
            # Unreadable or missing: verify's manifest check reports it; there is nothing to re-derive from.
            problems.fail("digest", manifest_key, "the manifest cannot be read: its record digests were not re-derived")
            continue
        if not rows.num_rows:
            continue
        rows = with_corrected_digests(rows, corrected)
        contract = contract_for(str(rows.column("dataset")[0].as_py()))
        if contract is None:
            problems.fail(
                "digest", header_key, "the dataset has no contract here: its record digests were not re-derived"
            )
            continue
        for curated_key in pc.unique(rows.column("curated_file")).to_pylist():
            if not unsafe_keys([curated_key]) and store.exists(curated_key):
                checked += _recheck_file(store, curated_key, rows, contract, hmac, problems)
    return checked


def _recheck_file(
    store: ObjectStore, curated_key: str, rows: pa.Table, contract: DatasetContract, hmac: Hmac, problems: Problems
) -> int:
    expected = rows.filter(pc.equal(rows.column("curated_file"), curated_key))
    try:
        with store.reading(curated_key) as path:
            table = pq.ParquetFile(path).read()
    except pa.ArrowException:
        problems.fail("digest", curated_key, "the curated file cannot be read as Parquet: digests not re-derived")
        return 0
    positions = pc.index_in(table.column("record_id"), value_set=expected.column("record_id"))
    named = pc.is_valid(positions)  # a record no row names is verify's record check's to report
    table, positions = table.filter(named), positions.filter(named)
    try:
        actual = hmac.hexdigests(canonical_records(table, contract))
    except (KeyError, pa.ArrowException):
        problems.fail("digest", curated_key, "the file no longer has its contract's columns: digests not re-derived")
        return 0
    differs = pc.invert(pc.equal(actual, pc.take(expected.column("record_digest"), positions)))
    count = pc.sum(differs).as_py() or 0
    if count:
        first = table.column("record_id").filter(differs)[0].as_py()
        problems.fail(
            "digest",
            curated_key,
            f"{count} record(s) no longer match the record_digest their manifest row holds (first: {first})",
        )
    return int(table.num_rows)
