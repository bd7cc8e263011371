"""Purging held exports with the records: a purged record must not live on in a copy taken out (持ち出し).

Modelled on the subject-index purge: the exports to touch are journaled before any file changes,
so a run killed midway is finished by the next one with the same list, and the closed certificate
names every export file the purge rewrote or deleted, and every delivered copy to recall.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import TypeAdapter

from kakunin.exports.formats import SOURCE_RECORD_ID, ExportReceipt
from kakunin.exports.reach import HeldRows, PlannedExport, carry_out_export, plan_export_purge
from kakunin.layout import journal_key
from kakunin.lineage.formats import Certificate, ExportRecall, FileAction, Hold
from kakunin.retention.context import RetentionContext
from kakunin.retention.holds import active_holds

_PLANNED = TypeAdapter(list[PlannedExport])


def purge_exports(ctx: RetentionContext, certificate: Certificate) -> tuple[list[FileAction], list[ExportRecall]]:
    """Remove the certificate's purged records (and rows past their retention) from every held export.

    Idempotent: the plan is journaled once per run and read back by a rerun; a file no longer
    holding any planned row is left as it is (done before a crash).
    """
    store = ctx.store
    noted = journal_key(certificate.run_id, "exports.json")
    if store.exists(noted):
        planned = _PLANNED.validate_json(store.get_bytes(noted))
    else:
        with store.reading(certificate.records.key) as path:
            purged = pq.read_table(path, columns=["record_id"]).column("record_id").combine_chunks()
        planned = plan_export_purge(store, purged, certificate.as_of, held_rows(active_holds(store)))
        store.put_bytes(noted, _PLANNED.dump_json(planned))
    ctx.checkpoint("exports-planned")
    done: list[FileAction] = []
    for index, export in enumerate(planned):
        ctx.renew()
        done += carry_out_export(store, export)
        ctx.checkpoint(f"exports-{index}")
    return done, [p.recall for p in planned if p.recall is not None]


def held_rows(holds: list[Hold]) -> HeldRows:
    """The rows of an export whose source record an active hold keeps (by dataset, batch or record)."""

    def held(receipt: ExportReceipt, manifest: pa.Table) -> pa.Array:
        mask = pa.array([False] * manifest.num_rows, pa.bool_())
        for hold in (h for h in holds if h.dataset == receipt.dataset):
            if hold.scope == "dataset":
                return pa.array([True] * manifest.num_rows, pa.bool_())
            column = manifest.column("batch_id" if hold.scope == "batch" else SOURCE_RECORD_ID)
            mask = pc.or_(mask, pc.equal(column, hold.target).combine_chunks())
        return mask

    return held
