"""The tamper table: every way a writer with store access was found to alter the lineage, and which
verify mode catches it. `tests/tamper/test_table.py` runs every row; the auditor's guide (README,
"What verify catches") is this table, printed by `python -m tests.tamper.table` (and `make chaos`).

Modes: keyless (hashes only), keyed (KAKUNIN_HMAC_KEY: every chain entry's seal), and keyed with
a signed checkpoint (the chain tails anchored). The last must catch every row.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.tamper.attacks import FORGED, FORGERIES, entries, forged_batch, rehash_store, retention_2099


@dataclass(frozen=True)
class Case:
    id: str
    what: str  # as the guide says it
    tamper: Callable[[Path], None]
    keyless: bool  # caught by a keyless verify
    keyed: bool  # caught by a keyed verify (without a checkpoint)
    where: str  # a problem of the keyed + checkpoint verify names a place starting with this


# ── small tools ──────────────────────────────────────────────────────────────────────


def _one(root: Path, pattern: str, index: int = 0) -> Path:
    return sorted(root.glob(pattern))[index]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _json_edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _batch_files(root: Path, link: Path) -> list[Path]:
    """Everything of one published batch: its link, header, manifest, receipt, commit, curated files and
    subject index."""
    header_key = json.loads(link.read_bytes())["header_key"]
    batch_id = header_key.split("/")[-2]
    header = root / header_key
    return [
        link,
        header,
        header.with_name("manifest.parquet"),
        *root.glob(f"lineage/receipts/*/{batch_id}.json"),
        *root.glob(f"curated/*/_commits/{batch_id}.json"),
        *root.glob(f"curated/*/*/part-{batch_id}.parquet"),
        *root.glob(f"subjects/index/*/{batch_id}.parquet"),
    ]


def _audit_from(root: Path, start: int) -> list[Path]:
    """The audit entries from `start` on, and the exports those entries released: a forger who truncates the
    log removes the receipts and files the removed `export` entries pinned too, or verify would see them."""
    removed = entries(root, "audit/log")[start:]
    exported = []
    for path in removed:
        entry = json.loads(path.read_bytes())
        export_id = entry["detail"].get("export_id") if entry["action"] == "export" else None
        if export_id:
            exported += [root / f"lineage/exports/{export_id}.json", *root.glob(f"exports/*/{export_id}")]
    return [*removed, *exported]


def _newest_publish_index(root: Path) -> int:
    logged = [json.loads(p.read_bytes()) for p in entries(root, "audit/log")]
    return max(i for i, e in enumerate(logged) if e["action"] == "publish")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _partial_write(root: Path) -> None:
    from kakunin.storage.local import machine_id

    target = root / ".tmp" / f"{machine_id()}-{_dead_pid()}-t4mp3r00"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(_one(root, "curated/*/*/part-*.parquet").read_bytes())


def _stray_pending(root: Path) -> None:
    part = _one(root, "curated/*/*/part-*.parquet")
    part.with_name(part.name.replace("part-", "_pending-")).write_bytes(part.read_bytes())


def _orphan_curated(root: Path) -> None:
    part = _one(root, "curated/*/*/part-*.parquet")
    target = part.parent.parent / "expiry=2031-01" / "part-20260101T000000000000Z-0badf00d.parquet"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(part.read_bytes())


def _forged_release(root: Path) -> None:
    hold = next(p for p in sorted(root.glob("lineage/holds/*.json")) if ".released" not in p.name)
    if hold.with_name(hold.name.replace(".json", ".released.json")).exists():
        hold = next(p for p in sorted(root.glob("lineage/holds/*.json"))[1:] if ".released" not in p.name)
    release = {"hold_id": hold.stem, "reason": "x", "released_by": "x", "released_at": "2026-11-26T00:00:00Z"}
    hold.with_name(f"{hold.stem}.released.json").write_text(json.dumps(release), encoding="utf-8")


def _standing_hold(root: Path) -> Path:
    released = {p.name.removesuffix(".released.json") for p in root.glob("lineage/holds/*.released.json")}
    return next(p for p in sorted(root.glob("lineage/holds/*.json")) if p.stem not in released and "." not in p.stem)


def _header_counts_rehashed(root: Path) -> None:
    link, _, _ = forged_batch(root)
    _json_edit(root / json.loads(link.read_bytes())["header_key"], lambda h: h["counts"].update(quarantined=0))
    rehash_store(root)


def _provenance_link_rehashed(root: Path) -> None:
    _, manifest, _ = forged_batch(root)
    table = pq.read_table(manifest)
    index = table.schema.get_field_index("provenance_document_id")
    forged = pa.array(["PRV-2026-999999"] * table.num_rows, pa.string())
    pq.write_table(table.set_column(index, table.schema.field(index), forged), manifest)
    rehash_store(root)


def _fabricated_batch(root: Path) -> None:
    """A whole batch made up from the newest one's files under a new id, linked and re-hashed."""
    link = entries(root, "lineage/chain")[-1]
    old = json.loads(link.read_bytes())["header_key"].split("/")[-2]
    new = "20261201T000000000000Z-fab1cafe"
    for path in _batch_files(root, link)[1:]:
        target = Path(str(path).replace(old, new))
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            target.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        else:
            target.write_bytes(path.read_bytes())
    entry = json.loads(link.read_bytes())
    entry.update(sequence=entry["sequence"] + 1, header_key=entry["header_key"].replace(old, new))
    header = root / entry["header_key"]
    _json_edit(header, lambda h: h.update(sequence=entry["sequence"]))
    link.with_name(f"{entry['sequence']:012d}.json").write_text(json.dumps(entry), encoding="utf-8")
    rehash_store(root)


def _forged(name: str) -> Callable[[Path], None]:
    def forge(root: Path) -> None:
        FORGERIES[name](root)
        rehash_store(root)

    return forge


def _stripped_seals(root: Path) -> None:
    retention_2099(root)
    rehash_store(root, strip_macs=True, only_from=FORGED + 1)


def _empty(root: Path) -> None:
    for child in list(root.iterdir()):
        _remove(child)


CASES: list[Case] = [
    # ── a file changed or removed, nothing re-hashed ────────────────────────────────
    Case(
        "manifest-byte",
        "a byte of a manifest.parquet flipped",
        lambda r: _flip(_one(r, "lineage/manifests/*/*/manifest.parquet", 1)),
        True,
        True,
        "lineage/manifests/",
    ),
    Case(
        "header-edited",
        "a manifest header's counts edited",
        lambda r: _json_edit(
            _one(r, "lineage/manifests/*/*/manifest.json"), lambda h: h["counts"].update(published=999)
        ),
        True,
        True,
        "lineage/manifests/",
    ),
    Case(
        "header-deleted",
        "a manifest header deleted",
        lambda r: _remove(_one(r, "lineage/manifests/*/*/manifest.json", 1)),
        True,
        True,
        "lineage/manifests/",
    ),
    Case(
        "links-swapped",
        "two manifest chain links swapped",
        lambda r: _swap(*entries(r, "lineage/chain")[:2]),
        True,
        True,
        "lineage/chain/",
    ),
    Case(
        "link-removed",
        "a manifest chain link in the middle removed",
        lambda r: _remove(entries(r, "lineage/chain")[1]),
        True,
        True,
        "lineage/chain/",
    ),
    Case(
        "curated-byte",
        "a byte of a curated file flipped",
        lambda r: _flip(_one(r, "curated/*/*/part-*.parquet")),
        True,
        True,
        "curated/",
    ),
    Case(
        "curated-deleted",
        "a curated file deleted",
        lambda r: _remove(_one(r, "curated/*/*/part-*.parquet")),
        True,
        True,
        "curated/",
    ),
    Case("orphan-curated", "a curated file added that no manifest names", _orphan_curated, True, True, "curated/"),
    Case(
        "audit-middle-edited",
        "an audit entry in the middle edited",
        lambda r: _json_edit(entries(r, "audit/log")[1], lambda e: e.update(actor="someone")),
        True,
        True,
        "audit/log/",
    ),
    Case(
        "receipt-removed",
        "a receipt record removed before its keep_until",
        lambda r: _remove(_one(r, "lineage/receipts/*/*.json")),
        True,
        True,
        "lineage/receipts/",
    ),
    Case(
        "commit-files-edited",
        "a commit record's file list edited",
        lambda r: _json_edit(_one(r, "curated/*/_commits/*.json"), lambda c: c["files"][0].update(rows=1)),
        True,
        True,
        "curated/",
    ),
    Case(
        "commit-time-edited",
        "a commit record's time edited",
        lambda r: _json_edit(
            _one(r, "curated/*/_commits/*.json"), lambda c: c.update(committed_at="2020-01-01T00:00:00Z")
        ),
        True,
        True,
        "curated/",
    ),
    Case(
        "newest-batch-files",
        "the newest batch's files removed (its audit entries kept)",
        lambda r: _remove(*_batch_files(r, entries(r, "lineage/chain")[-1])),
        True,
        True,
        "audit/log/",
    ),
    Case(
        "unsafe-key",
        "a chain link made to name `../../etc/passwd`",
        lambda r: _json_edit(entries(r, "lineage/chain")[0], lambda e: e.update(header_key="../../etc/passwd")),
        True,
        True,
        "lineage/chain/",
    ),
    Case(
        "certificate-edited",
        "a closed purge certificate edited",
        lambda r: _json_edit(_one(r, "lineage/certificates/PC-*[0-9a-f].json"), lambda c: c.update(purged_count=1)),
        True,
        True,
        "lineage/certificates/",
    ),
    Case(
        "certificate-deleted",
        "a closed purge certificate deleted",
        lambda r: _remove(_one(r, "lineage/certificates/PC-*[0-9a-f].json")),
        True,
        True,
        "lineage/certificates/",
    ),
    Case(
        "purged-list-edited",
        "a certificate's purged-records list changed",
        lambda r: _flip(_one(r, "lineage/certificates/*.records.parquet")),
        True,
        True,
        "lineage/certificates/",
    ),
    Case("partial-write", "a half-written temporary of a dead writer left in `.tmp/`", _partial_write, True, True, ""),
    Case("stray-pending", "a stray `_pending-*` curated file", _stray_pending, True, True, "curated/"),
    # ── decision records ─────────────────────────────────────────────────────────────
    Case(
        "evidence-replaced",
        "a provenance evidence file replaced",
        lambda r: _one(r, "provenance/*/evidence/*").write_bytes(b"another contract\n"),
        True,
        True,
        "provenance/",
    ),
    Case(
        "evidence-deleted",
        "a provenance evidence file deleted",
        lambda r: _remove(_one(r, "provenance/*/evidence/*")),
        True,
        True,
        "provenance/",
    ),
    Case(
        "evidence-index-edited",
        "an `evidence.json` edited",
        lambda r: _flip(_one(r, "provenance/*/evidence.json")),
        True,
        True,
        "provenance/",
    ),
    Case(
        "evidence-index-deleted",
        "an `evidence.json` deleted",
        lambda r: _remove(_one(r, "provenance/*/evidence.json")),
        True,
        True,
        "provenance/",
    ),
    Case(
        "rejection-edited",
        "a `rejection.json` edited",
        lambda r: _json_edit(_one(r, "quarantine/*/*/rejection.json"), lambda j: j.update(stage="accuracy")),
        True,
        True,
        "quarantine/",
    ),
    Case(
        "rejection-deleted",
        "a `rejection.json` deleted",
        lambda r: _remove(_one(r, "quarantine/*/*/rejection.json")),
        True,
        True,
        "quarantine/",
    ),
    Case(
        "submit-rejection-deleted",
        "a submit-time `rejection.json` deleted",
        lambda r: _remove(_one(r, "quarantine/*/*/rejection.json", -1)),
        True,
        True,
        "quarantine/",
    ),
    Case(
        "open-certificate-edited",
        "an open purge certificate (the plan) edited",
        lambda r: _json_edit(_one(r, "lineage/certificates/*.open.json"), lambda c: c.update(purged_count=1)),
        True,
        True,
        "lineage/certificates/",
    ),
    Case("hold-deleted", "a legal hold deleted", lambda r: _remove(_standing_hold(r)), True, True, "lineage/holds/"),
    Case(
        "release-forged",
        "a hold release forged (`<hold>.released.json`)",
        _forged_release,
        True,
        True,
        "lineage/holds/",
    ),
    # ── the chain tails ──────────────────────────────────────────────────────────────
    Case(
        "audit-last-edited",
        "the last audit entry edited",
        lambda r: _json_edit(entries(r, "audit/log")[-1], lambda e: e.update(actor="someone")),
        False,
        True,
        "audit/log/",
    ),
    Case(
        "audit-last-deleted",
        "the last audit entry deleted",
        lambda r: _remove(*_audit_from(r, -1)),
        False,
        False,
        "audit/log",
    ),
    Case(
        "audit-last-3-deleted",
        "the last three audit entries deleted",
        lambda r: _remove(*_audit_from(r, -3)),
        False,
        False,
        "audit/log",
    ),
    Case(
        "audit-from-publish",
        "the audit log deleted from the newest batch's publish entry on",
        lambda r: _remove(*_audit_from(r, _newest_publish_index(r))),
        False,
        False,
        "audit/log",
    ),
    Case(
        "newest-batch-whole",
        "the newest batch removed whole, with its audit entries",
        lambda r: _remove(*_batch_files(r, entries(r, "lineage/chain")[-1]), *_audit_from(r, _newest_publish_index(r))),
        False,
        False,
        "lineage/chain",
    ),
    Case(
        "zones-removed",
        "`rm -r lineage curated audit subjects exports`",
        lambda r: _remove(r / "lineage", r / "curated", r / "audit", r / "subjects", r / "exports"),
        False,
        False,
        "",
    ),
    Case("empty-store", "an empty store (a mistyped KAKUNIN_HOME)", _empty, False, False, ""),
    # ── changed, then re-hashed by a writer without the key ───────────────────────────
    Case(
        "retention-2099",
        "a record's retention_until moved to 2099, re-hashed",
        _forged("retention_until-2099"),
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "purpose-changed",
        "a batch's purposes set to credit_screening, re-hashed",
        _forged("purpose-credit_screening"),
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "record-deleted",
        "a record deleted with its manifest row, re-hashed",
        _forged("record-and-manifest-row-deleted"),
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "name-changed",
        "a name changed in a curated file, re-hashed",
        _forged("name-changed"),
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "counts-changed", "a header's counts changed, re-hashed", _header_counts_rehashed, False, True, "lineage/chain/"
    ),
    Case(
        "seals-stripped",
        "a forgery re-hashed and the stale seals stripped",
        _stripped_seals,
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "provenance-link",
        "a batch's provenance_document_id changed in its manifest, re-hashed",
        _provenance_link_rehashed,
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "fabricated-batch",
        "a whole batch fabricated from another's files, linked and re-hashed",
        _fabricated_batch,
        False,
        True,
        "lineage/chain/",
    ),
    Case(
        "export-byte",
        "a byte of a held export's data.parquet flipped (持ち出し)",
        lambda r: _flip(_one(r, "exports/*/*/data.parquet")),
        True,
        True,
        "exports/",
    ),
    Case(
        "export-stray",
        "a copy of an export put under exports/ without a receipt",
        lambda r: _copy(_one(r, "exports/*/*/data.parquet"), r / "exports" / "jp_customer_leads" / "EXP-SIDE"),
        True,
        True,
        "exports/",
    ),
]


def _copy(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True)
    shutil.copy(path, folder / path.name)


def _swap(first: Path, second: Path) -> None:
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)


def _mark(caught: bool) -> str:
    return "caught" if caught else "**not caught**"


def markdown() -> str:
    """The guide's table (README, "What verify catches"), from the cases the tests run."""
    lines = [
        "| tampering (by a writer with store access, without the keys) | keyless | keyed | keyed + checkpoint |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.what} | {_mark(c.keyless)} | {_mark(c.keyed)} | caught |" for c in CASES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
    sys.stdout.write(
        f"\n{len(CASES)} cases: {sum(c.keyless for c in CASES)} caught keyless, {sum(c.keyed for c in CASES)} keyed, "
        f"{len(CASES)} keyed with a checkpoint (tests/tamper/test_table.py runs every row).\n"
    )
