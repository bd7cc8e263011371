"""What a writer with store access does: change files, then re-hash everything up the chains.

`rehash_store` is the ~40 lines a keyless forger needs after changing a file: recompute every
SHA-256 up the chain (curated files in header and commit, the commit record, manifest.parquet
and receipt in the header, the header in its link, every link's and audit entry's `previous`,
the publish entries' `manifest_sha256`). Keyless verify then passes (the documented limit);
the seals (keyed verify) and signed checkpoints are what catch it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.lineage.chain import canonical_json

FORGED = 1  # the middle of three batches: the link before it must stay sound


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entries(root: Path, chain: str) -> list[Path]:
    return sorted((root / chain).glob("*.json"))


def rehash_store(root: Path, *, strip_macs: bool = False, only_from: int = 1) -> None:
    """What a keyless writer does after a change: re-hash everything up the chains (`mac`s left stale,
    or stripped with `strip_macs` from entry `only_from` on)."""

    def relink(chain: str, fix: Callable[[dict[str, object]], None] = lambda _: None) -> None:
        previous = None
        for sequence, path in enumerate(entries(root, chain), start=1):
            entry = json.loads(path.read_bytes())
            fix(entry)
            entry["previous"] = previous
            if strip_macs and sequence >= only_from:
                entry.pop("mac", None)
            data = canonical_json(entry)
            path.write_bytes(data)
            previous = hashlib.sha256(data).hexdigest()

    header_shas: dict[str, str] = {}
    previous_header: list[str | None] = [None]

    def fix_link(link: dict[str, object]) -> None:
        header_path = root / str(link["header_key"])
        header = json.loads(header_path.read_bytes())
        original = json.loads(header_path.read_bytes())
        for stored in header["curated_files"]:
            if (root / stored["key"]).exists():  # a purged file keeps the hash it was published with
                stored["sha256"] = sha(root / stored["key"])
        commit_path = root / f"curated/{header['dataset']}/_commits/{header['batch_id']}.json"
        commit = json.loads(commit_path.read_bytes())
        commit["files"] = header["curated_files"]
        if commit != json.loads(commit_path.read_bytes()):
            commit_path.write_text(json.dumps(commit))
        if header.get("commit"):  # headers since issue 16 pin the commit record too
            header["commit"]["sha256"] = sha(commit_path)
        header["manifest_parquet_sha256"] = sha(header_path.with_name("manifest.parquet"))
        header["receipt"]["sha256"] = sha(root / header["receipt"]["key"])
        header["previous"] = previous_header[0]
        if header != original:  # touch only what changed, as a careful forger would
            header_path.write_text(json.dumps(header))
        link["header_sha256"] = previous_header[0] = header_shas[str(link["header_key"])] = sha(header_path)

    receipt_shas: dict[str, str] = {}

    def fix_audit(entry: dict[str, object]) -> None:
        detail = entry["detail"]
        assert isinstance(detail, dict)
        if entry["action"] == "publish" and detail.get("manifest") in header_shas:
            detail["manifest_sha256"] = header_shas[detail["manifest"]]
        if entry["action"] == "export" and detail.get("export_id") in receipt_shas:  # the entry pins the receipt
            detail["receipt_sha256"] = receipt_shas[detail["export_id"]]

    for receipt_path in sorted((root / "lineage/exports").glob("*.json")):  # export receipts: not chained
        receipt = json.loads(receipt_path.read_bytes())
        for name in ("data", "manifest"):
            if (root / receipt[name]["key"]).exists():
                receipt[name]["sha256"] = sha(root / receipt[name]["key"])
        if receipt != json.loads(receipt_path.read_bytes()):
            receipt_path.write_text(json.dumps(receipt))
        receipt_shas[receipt["export_id"]] = sha(receipt_path)
    relink("lineage/chain", fix_link)
    relink("lineage/certificates/chain")
    relink("audit/log", fix_audit)


def forged_batch(root: Path) -> tuple[Path, Path, Path]:
    """(chain link, manifest.parquet, curated file) of the batch the forgeries change."""
    link = entries(root, "lineage/chain")[FORGED]
    header_key = json.loads(link.read_bytes())["header_key"]
    batch_id = header_key.split("/")[-2]
    (curated,) = root.glob(f"curated/*/*/part-{batch_id}.parquet")
    return link, root / header_key.replace("manifest.json", "manifest.parquet"), curated


def rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table).cast(table.schema), path)


def set_where(table: pa.Table, column: str, record_id: str, value: object) -> pa.Table:
    index = table.schema.get_field_index(column)
    hit = pc.equal(table.column("record_id"), record_id)
    scalar = pa.scalar(value, table.schema.field(index).type)
    return table.set_column(index, table.schema.field(index), pc.if_else(hit, scalar, table.column(column)))


def first_id(path: Path) -> str:
    return str(pq.read_table(path, columns=["record_id"]).column("record_id")[0].as_py())


def retention_2099(root: Path) -> None:
    _, manifest, curated = forged_batch(root)
    record_id, far = first_id(curated), date(2099, 12, 31)
    rewrite(manifest, lambda t: set_where(t, "retention_until", record_id, far))
    rewrite(curated, lambda t: set_where(t, "retention_until", record_id, far))


def credit_screening(root: Path) -> None:
    _, manifest, _ = forged_batch(root)
    purposes = pa.array([["credit_screening"]] * pq.read_metadata(manifest).num_rows, pa.list_(pa.string()))
    rewrite(manifest, lambda t: t.set_column(t.schema.get_field_index("purposes"), "purposes", purposes))


def record_deleted(root: Path) -> None:
    """The record, its manifest row, its subject index rows and its export rows (ids only: no key needed)."""
    link, manifest, curated = forged_batch(root)
    record_id = first_id(curated)
    batch_id = json.loads(link.read_bytes())["header_key"].split("/")[-2]
    for path in (manifest, curated, *root.glob(f"subjects/index/*/{batch_id}.parquet")):
        rewrite(path, lambda t: t.filter(pc.not_equal(t.column("record_id"), record_id)))
    for path in root.glob("exports/*/*/*.parquet"):  # and its rows in the exports taken out (持ち出し)
        rewrite(path, lambda t: t.filter(pc.not_equal(t.column("source_record_id"), record_id)))


def name_changed(root: Path) -> None:
    _, _, curated = forged_batch(root)
    rewrite(curated, lambda t: set_where(t, "name_kanji", first_id(curated), "偽名 太郎"))


# name → forgery of the middle batch; each is then hidden with `rehash_store`.
FORGERIES: dict[str, Callable[[Path], None]] = {
    "retention_until-2099": retention_2099,
    "purpose-credit_screening": credit_screening,
    "record-and-manifest-row-deleted": record_deleted,
    "name-changed": name_changed,
}
