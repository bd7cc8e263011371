"""Keyed verify: what a writer without the key can forge past keyless verify, and the seal catches.

`rehash_store` is what such a writer does after changing a file: recompute every SHA-256
up the chain (curated files in header and commit, manifest.parquet and receipt in the
header, the header in its link, every link's and audit entry's `previous`, the publish
entries' `manifest_sha256`). Keyless verify then passes (the documented limit); keyed
verify fails with a `seal` problem from the first entry the forgery touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.layout import BatchRef
from kakunin.lineage.chain import canonical_json
from kakunin.lineage.seal import SEAL_SCHEME, mac
from kakunin.lineage.verify import VerifyReport, verify
from kakunin.render import verify_text
from kakunin.storage import LocalStore
from tests.conftest import TODAY
from tests.intake.conftest import KEY, make_context

FORGED = 1  # the middle of three batches: the link before it must stay sound


@pytest.fixture
def published(store: LocalStore, registry: Registry, submit: Callable[..., BatchRef]) -> LocalStore:
    ctx = make_context(store, registry)
    for ref in [submit(), submit(), submit()]:
        run_batch(ref, ctx)
    report = verify(store, today=TODAY, key=KEY)
    assert report.intact, report.problems
    assert report.mode == "keyed"
    assert report.legacy_entries == {}
    return store


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entries(root: Path, chain: str) -> list[Path]:
    return sorted((root / chain).glob("*.json"))


def rehash_store(root: Path, *, strip_macs: bool = False, only_from: int = 1) -> None:
    """What a keyless writer does after a change: re-hash everything up the chains (`mac`s left stale,
    or stripped with `strip_macs` from entry `only_from` on)."""

    def relink(chain: str, fix: Callable[[dict[str, object]], None] = lambda _: None) -> None:
        previous = None
        for sequence, path in enumerate(_entries(root, chain), start=1):
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
            stored["sha256"] = _sha(root / stored["key"])
        commit_path = root / f"curated/{header['dataset']}/_commits/{header['batch_id']}.json"
        commit = json.loads(commit_path.read_bytes())
        commit["files"] = header["curated_files"]
        if commit != json.loads(commit_path.read_bytes()):
            commit_path.write_text(json.dumps(commit))
        header["manifest_parquet_sha256"] = _sha(header_path.with_name("manifest.parquet"))
        header["receipt"]["sha256"] = _sha(root / header["receipt"]["key"])
        header["previous"] = previous_header[0]
        if header != original:  # touch only what changed, as a careful forger would
            header_path.write_text(json.dumps(header))
        link["header_sha256"] = previous_header[0] = header_shas[str(link["header_key"])] = _sha(header_path)

    def fix_audit(entry: dict[str, object]) -> None:
        detail = entry["detail"]
        assert isinstance(detail, dict)
        if entry["action"] == "publish" and detail.get("manifest") in header_shas:
            detail["manifest_sha256"] = header_shas[detail["manifest"]]

    relink("lineage/chain", fix_link)
    relink("lineage/certificates/chain")
    relink("audit/log", fix_audit)


def _forged_batch(root: Path) -> tuple[Path, Path, Path]:
    """(chain link, manifest.parquet, curated file) of the batch the forgeries change."""
    link = _entries(root, "lineage/chain")[FORGED]
    header_key = json.loads(link.read_bytes())["header_key"]
    batch_id = header_key.split("/")[-2]
    (curated,) = root.glob(f"curated/*/*/part-{batch_id}.parquet")
    return link, root / header_key.replace("manifest.json", "manifest.parquet"), curated


def _rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table).cast(table.schema), path)


def _set_where(table: pa.Table, column: str, record_id: str, value: object) -> pa.Table:
    index = table.schema.get_field_index(column)
    hit = pc.equal(table.column("record_id"), record_id)
    scalar = pa.scalar(value, table.schema.field(index).type)
    return table.set_column(index, table.schema.field(index), pc.if_else(hit, scalar, table.column(column)))


def _first_id(path: Path) -> str:
    return str(pq.read_table(path, columns=["record_id"]).column("record_id")[0].as_py())


def _retention_2099(root: Path) -> None:
    _, manifest, curated = _forged_batch(root)
    record_id, far = _first_id(curated), date(2099, 12, 31)
    _rewrite(manifest, lambda t: _set_where(t, "retention_until", record_id, far))
    _rewrite(curated, lambda t: _set_where(t, "retention_until", record_id, far))


def _credit_screening(root: Path) -> None:
    _, manifest, _ = _forged_batch(root)
    purposes = pa.array([["credit_screening"]] * pq.read_metadata(manifest).num_rows, pa.list_(pa.string()))
    _rewrite(manifest, lambda t: t.set_column(t.schema.get_field_index("purposes"), "purposes", purposes))


def _record_deleted(root: Path) -> None:
    _, manifest, curated = _forged_batch(root)
    record_id = _first_id(curated)
    for path in (manifest, curated):
        _rewrite(path, lambda t: t.filter(pc.not_equal(t.column("record_id"), record_id)))


def _name_changed(root: Path) -> None:
    _, _, curated = _forged_batch(root)
    _rewrite(curated, lambda t: _set_where(t, "name_kanji", _first_id(curated), "偽名 太郎"))


FORGERIES = [
    pytest.param(_retention_2099, id="retention_until-2099"),
    pytest.param(_credit_screening, id="purpose-credit_screening"),
    pytest.param(_record_deleted, id="record-and-manifest-row-deleted"),
    pytest.param(_name_changed, id="name-changed"),
]


def _seal_problems(report: VerifyReport) -> list[str]:
    assert not report.intact
    assert {p.check for p in report.problems} == {"seal"}, report.problems
    return [p.where for p in report.problems]


@pytest.mark.parametrize("forge", FORGERIES)
def test_a_rehashed_forgery_passes_keyless_verify_and_fails_keyed(
    published: LocalStore, forge: Callable[[Path], None]
) -> None:
    root = published.root
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    forge(root)
    rehash_store(root)
    assert {p for p in root.rglob("*") if p.is_file() and before.get(p) != p.read_bytes()}, "nothing was forged"
    keyless = verify(published, today=TODAY)
    assert keyless.intact, keyless.problems  # the limit of hashes alone
    assert verify_text(keyless).startswith("mode: keyless: hashes only")
    where = _seal_problems(verify(published, today=TODAY, key=KEY))
    links = [p.relative_to(root).as_posix() for p in _entries(root, "lineage/chain")]
    assert [w for w in where if w.startswith("lineage/chain/")] == links[FORGED:]  # from the forged batch's link on
    assert any(w.startswith("audit/log/") for w in where)  # its publish entry was re-hashed too


def test_stripped_seals_after_a_rehash_are_caught(published: LocalStore) -> None:
    """Stripping the stale `mac`s of the entries the forgery touched does not help: sealing had begun."""
    _retention_2099(published.root)
    rehash_store(published.root, strip_macs=True, only_from=FORGED + 1)
    where = _seal_problems(verify(published, today=TODAY, key=KEY))
    link = _entries(published.root, "lineage/chain")[FORGED].relative_to(published.root).as_posix()
    assert link in where
    report = verify(published, today=TODAY, key=KEY)
    assert "after the chain's sealing began" in next(p.message for p in report.problems if p.where == link)


def test_a_store_written_before_seals(published: LocalStore) -> None:
    """No entry sealed: keyless verify passes; keyed verify counts the legacy entries, fails unless allowed."""
    rehash_store(published.root, strip_macs=True)
    assert verify(published, today=TODAY).intact
    strict = verify(published, today=TODAY, key=KEY)
    assert sorted(_seal_problems(strict)) == ["audit/log", "lineage/chain"]
    allowed = verify(published, today=TODAY, key=KEY, allow_legacy=True)
    assert allowed.intact, allowed.problems
    assert allowed.legacy_entries == {"lineage/chain": 3, "audit/log": len(_entries(published.root, "audit/log"))}
    assert "unsealed legacy entries (hashes only): audit/log " in verify_text(allowed)


def test_an_intact_store_passes_keyed_verify_and_says_so(published: LocalStore) -> None:
    report = verify(published, today=TODAY, key=KEY)
    assert report.intact
    assert verify_text(report).startswith("mode: keyed (KAKUNIN_HMAC_KEY)")
    for path in [*_entries(published.root, "lineage/chain"), *_entries(published.root, "audit/log")]:
        entry = json.loads(path.read_bytes())
        assert entry["mac"].startswith(f"{SEAL_SCHEME}:")
        assert entry["mac"] == mac(entry, KEY)


def test_a_wrong_key_fails_every_seal(published: LocalStore) -> None:
    report = verify(published, today=TODAY, key=bytes(32))
    assert len(_seal_problems(report)) == report.manifests + report.audit_entries


def test_the_cli_verifies_keyed_with_the_key_and_exits_1_on_a_forgery(published: LocalStore) -> None:
    def lineage_verify(*args: str, key: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KAKUNIN_HOME": str(published.root), "KAKUNIN_HMAC_KEY": key}
        command = [sys.executable, "-m", "kakunin.cli", "lineage", "verify", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)

    _name_changed(published.root)
    rehash_store(published.root)
    keyed = lineage_verify(key=KEY.hex())
    assert keyed.returncode == 1, keyed.stdout + keyed.stderr
    assert keyed.stdout.startswith("mode: keyed")
    assert "✗ seal      lineage/chain/" in keyed.stdout
    keyless = lineage_verify("--keyless", key=KEY.hex())
    assert keyless.returncode == 0, keyless.stdout
    assert keyless.stdout.startswith("mode: keyless")
