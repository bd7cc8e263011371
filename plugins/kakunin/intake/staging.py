"""Where `assign` writes as it goes: hidden curated files per expiry month, the lineage rows, failed rows.

Files open lazily (a month gets its file when its first row comes) and all close, and
replace their final names, when the `Stager` block ends; a crash before then leaves only
temporaries and `_pending-` files, which the next attempt removes.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.intake.kernels import Stamped, with_failures
from kakunin.intake.work import (
    CURATED_COMPRESSION,
    DIGEST_WORK_OPTIONS,
    FAILED_ROWS,
    LINEAGE,
    LINEAGE_COLUMNS,
    AssignRecord,
    subject_rows_bucket,
)
from kakunin.layout import BatchRef
from kakunin.lineage.lookup import LOOKUP_ROW_GROUP_ROWS
from kakunin.storage import ObjectStore
from kakunin.subjects.identifiers import INDEX_SCHEMA


class Stager:
    """The open writers of one `assign` run, and what went through them."""

    def __init__(self, store: ObjectStore, ref: BatchRef, *, bucket_characters: int = 0) -> None:
        self.store = store
        self.ref = ref
        self.bucket_characters = bucket_characters  # `work.subject_bucket_characters` of the batch
        self.months: dict[str, int] = {}
        self.quarantined = self.fallbacks = self.clamped = self.index_rows = 0
        self._stack = ExitStack()
        self._curated: dict[str, pq.ParquetWriter] = {}
        self._lineage: pq.ParquetWriter | None = None
        self._subjects: dict[str, pq.ParquetWriter] = {}
        self._quarantine: pq.ParquetWriter | None = None

    def __enter__(self) -> Stager:
        self._stack.__enter__()
        path = self._stack.enter_context(self.store.writing(self.ref.work(LINEAGE)))
        self._lineage = self._stack.enter_context(pq.ParquetWriter(path, LINEAGE_COLUMNS, **DIGEST_WORK_OPTIONS))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.__exit__(kind, error, trace)

    def add_passing(self, stamped: Stamped) -> None:
        """The stamped rows: lineage rows to the work file, data rows to their expiry month's staged file."""
        if self._lineage is None:
            raise RuntimeError("Stager is used outside its with block")
        self._lineage.write_table(stamped.lineage)
        if stamped.index.num_rows:
            self._add_index_rows(stamped.index)
        for month in pc.unique(stamped.expiry_month).to_pylist():
            part = stamped.data.filter(pc.equal(stamped.expiry_month, month))
            if month not in self._curated:
                path = self._stack.enter_context(self.store.writing(self.ref.curated(month, pending=True)))
                self._curated[month] = self._stack.enter_context(
                    pq.ParquetWriter(path, part.schema, compression=CURATED_COMPRESSION)
                )
            self._curated[month].write_table(part, row_group_size=LOOKUP_ROW_GROUP_ROWS)
            self.months[month] = self.months.get(month, 0) + part.num_rows
        self.fallbacks += stamped.fallbacks
        self.clamped += stamped.clamped

    def _add_index_rows(self, rows: pa.Table) -> None:
        """Index rows to the bucket of their digest's prefix (lineage sorts one bucket at a time): sorted by
        prefix once, then each bucket is a slice."""
        if self.bucket_characters == 0:
            buckets, ends = [""], [rows.num_rows]  # one bucket: no sort, no copy
        else:
            prefix = pc.utf8_slice_codeunits(rows.column("digest").combine_chunks(), 0, self.bucket_characters)
            order = pc.sort_indices(prefix)
            rows, runs = rows.take(order), pc.run_end_encode(prefix.take(order))
            buckets, ends = runs.values.to_pylist(), runs.run_ends.to_pylist()
        start = 0
        for bucket, end in zip(buckets, ends, strict=True):
            if bucket not in self._subjects:
                path = self._stack.enter_context(self.store.writing(self.ref.work(subject_rows_bucket(bucket))))
                self._subjects[bucket] = self._stack.enter_context(
                    pq.ParquetWriter(path, INDEX_SCHEMA, **DIGEST_WORK_OPTIONS)
                )
            self._subjects[bucket].write_table(rows.slice(start, end - start))
            start = end
        self.index_rows += rows.num_rows

    def add_failing(self, rows: pa.Table, failures: pa.Table) -> None:
        """Rows that failed the accuracy suite, with the rules they failed, to quarantine."""
        if not rows.num_rows:
            return
        with_rules = with_failures(rows, failures)
        if self._quarantine is None:
            path = self._stack.enter_context(self.store.writing(self.ref.quarantine(FAILED_ROWS)))
            self._quarantine = self._stack.enter_context(
                pq.ParquetWriter(path, with_rules.schema, compression=CURATED_COMPRESSION)
            )
        self._quarantine.write_table(with_rules)
        self.quarantined += rows.num_rows

    def record(self) -> AssignRecord:
        return AssignRecord(
            published=sum(self.months.values()),
            quarantined=self.quarantined,
            retention_fallbacks=self.fallbacks,
            retention_clamped=self.clamped,
            months=self.months,
            index_rows=self.index_rows,
        )
