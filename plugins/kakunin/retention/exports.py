"""Purging held exports with the records: a purged record must not live on in a copy taken out (持ち出し).

Modelled on the subject-index purge: the exports to touch are journaled before any file changes,
so a run killed midway is finished by the next one with the same list, and the closed certificate
names every export file the purge rewrote or deleted, and every delivered copy to recall.
"""

from __future__ import annotations

import pyarrow.parquet as pq
from pydantic import TypeAdapter

from kakunin.exports.reach import PlannedExport, carry_out_export, plan_export_purge
from kakunin.layout import journal_key
from kakunin.lineage.formats import Certificate, ExportRecall, FileAction
from kakunin.retention.context import RetentionContext

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
        planned = plan_export_purge(store, purged, certificate.as_of)
        store.put_bytes(noted, _PLANNED.dump_json(planned))
    ctx.checkpoint("exports-planned")
    done: list[FileAction] = []
    for index, export in enumerate(planned):
        ctx.renew()
        done += carry_out_export(store, export)
        ctx.checkpoint(f"exports-{index}")
    return done, [p.recall for p in planned if p.recall is not None]
