"""Purging the subject index with the records: a purged record must not be findable by its person's identifiers.

The index (`subjects/index/<dataset>/<batch_id>.parquet`) maps keyed identifier digests to record
ids; once a certificate's records are gone, their rows go too, in the same run. The files to touch
are noted in the run's journal before any is changed, so a run killed midway is finished by the
next one with the same list, and the closed certificate names every index file the purge touched.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import TypeAdapter

from kakunin.layout import BatchRef, journal_key, subject_index_key
from kakunin.lineage.formats import Certificate, FileAction
from kakunin.retention.context import RetentionContext
from kakunin.storage import ObjectStore, object_sha256

_PLANNED = TypeAdapter(list[FileAction])


def purge_subject_index(ctx: RetentionContext, certificate: Certificate) -> list[FileAction]:
    """Remove the rows of the certificate's purged records from every index file they are in.

    Idempotent: the plan of index files is journaled once per run (a rerun reads it back), and a
    file that no longer holds any purged record is left as it is (done before a crash).
    """
    store = ctx.store
    with store.reading(certificate.records.key) as path:
        purged = pq.read_table(path, columns=["record_id", "dataset", "batch_id"])
    noted = journal_key(certificate.run_id, "subject-index.json")
    if store.exists(noted):
        planned = _PLANNED.validate_json(store.get_bytes(noted))
    else:
        planned = plan_index_purge(store, purged)
        store.put_bytes(noted, _PLANNED.dump_json(planned))
    ctx.checkpoint("subject-index-planned")
    ids = purged.column("record_id").combine_chunks()
    done = []
    for index, action in enumerate(planned):
        ctx.renew()
        done.append(_purge_file(store, action, ids))
        ctx.checkpoint(f"subject-index-{index}")
    return done


def plan_index_purge(store: ObjectStore, purged: pa.Table) -> list[FileAction]:
    """One action per index file holding any of the `purged` records (record_id, dataset, batch_id)."""
    planned = []
    batches = purged.select(["dataset", "batch_id"]).group_by(["dataset", "batch_id"]).aggregate([])
    for dataset, batch_id in sorted(
        zip(*(batches.column(c).to_pylist() for c in ("dataset", "batch_id")), strict=True)
    ):
        key = subject_index_key(BatchRef(dataset, batch_id))
        if not store.exists(key):
            continue
        mine = purged.filter(pc.and_(pc.equal(purged["dataset"], dataset), pc.equal(purged["batch_id"], batch_id)))
        indexed = _record_ids(store, key)
        hit = pc.is_in(indexed, value_set=mine.column("record_id").combine_chunks())
        removed = pc.count_distinct(indexed.filter(hit)).as_py() or 0
        if not removed:
            continue
        kept = pc.count_distinct(indexed.filter(pc.invert(hit))).as_py() or 0
        planned.append(
            FileAction(
                key=key,
                action="rewrite" if kept else "delete",
                method="rewrite without the purged records' rows" if kept else "whole-file delete",
                sha256_before=object_sha256(store, key),
                records_removed=removed,
                records_kept=kept,
            )
        )
    return planned


def _purge_file(store: ObjectStore, action: FileAction, purged: pa.Array) -> FileAction:
    """Carry out one planned action; a file already without any purged record is not touched again."""
    if not store.exists(action.key):
        return action  # deleted already, by this run before a crash
    with store.reading(action.key) as path:
        table = pq.read_table(path)
    keep = pc.invert(pc.is_in(table.column("record_id"), value_set=purged))
    if pc.all(keep).as_py():  # rewritten before a crash; its older versions may not have been pruned yet
        versions = store.prune_versions(action.key)
        return _after(store, action.model_copy(update={"versions_removed": versions} if versions else {}))
    if not pc.any(keep).as_py():
        versions = store.delete(action.key)
        return action.model_copy(
            update={"action": "delete", "method": "whole-file delete", "versions_removed": versions}
        )
    with store.writing(action.key) as target:
        pq.write_table(table.filter(keep), target, compression="zstd")
    versions = store.prune_versions(action.key)  # on S3 the old version still found the purged records
    return _after(store, action.model_copy(update={"versions_removed": versions} if versions else {}))


def _after(store: ObjectStore, action: FileAction) -> FileAction:
    return action.model_copy(update={"sha256_after": object_sha256(store, action.key)})


def _record_ids(store: ObjectStore, key: str) -> pa.Array:
    with store.open_input(key) as handle:
        return pq.read_table(handle, columns=["record_id"]).column("record_id").combine_chunks()
