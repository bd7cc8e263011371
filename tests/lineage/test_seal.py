"""Keyed verify: what a writer without the key can forge past keyless verify, and the seal catches.

`rehash_store` is what such a writer does after changing a file: recompute every SHA-256
up the chain (curated files in header and commit, manifest.parquet and receipt in the
header, the header in its link, every link's and audit entry's `previous`, the publish
entries' `manifest_sha256`). Keyless verify then passes (the documented limit); keyed
verify fails with a `seal` problem from the first entry the forgery touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.layout import BatchRef
from kakunin.lineage.seal import SEAL_SCHEME, mac
from kakunin.lineage.verify import VerifyReport, verify
from kakunin.render import verify_text
from kakunin.storage import LocalStore
from tests.conftest import TODAY
from tests.intake.conftest import KEY, make_context
from tests.tamper.attacks import (
    FORGED,
    FORGERIES,
    entries,
    forged_batch,
    name_changed,
    rehash_store,
    retention_2099,
)


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


def _seal_problems(report: VerifyReport) -> list[str]:
    assert not report.intact
    assert {p.check for p in report.problems} == {"seal"}, report.problems
    return [p.where for p in report.problems]


@pytest.mark.parametrize("forge", list(FORGERIES.values()), ids=list(FORGERIES))
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
    links = [p.relative_to(root).as_posix() for p in entries(root, "lineage/chain")]
    assert [w for w in where if w.startswith("lineage/chain/")] == links[FORGED:]  # from the forged batch's link on
    assert any(w.startswith("audit/log/") for w in where)  # its publish entry was re-hashed too


def test_stripped_seals_after_a_rehash_are_caught(published: LocalStore) -> None:
    """Stripping the stale `mac`s of the entries the forgery touched does not help: sealing had begun."""
    retention_2099(published.root)
    rehash_store(published.root, strip_macs=True, only_from=FORGED + 1)
    where = _seal_problems(verify(published, today=TODAY, key=KEY))
    link = entries(published.root, "lineage/chain")[FORGED].relative_to(published.root).as_posix()
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
    assert allowed.legacy_entries == {"lineage/chain": 3, "audit/log": len(entries(published.root, "audit/log"))}
    assert "unsealed legacy entries (hashes only): audit/log " in verify_text(allowed)


def test_an_intact_store_passes_keyed_verify_and_says_so(published: LocalStore) -> None:
    report = verify(published, today=TODAY, key=KEY)
    assert report.intact
    assert verify_text(report).startswith("mode: keyed (KAKUNIN_HMAC_KEY)")
    for path in [*entries(published.root, "lineage/chain"), *entries(published.root, "audit/log")]:
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

    name_changed(published.root)
    rehash_store(published.root)
    keyed = lineage_verify(key=KEY.hex())
    assert keyed.returncode == 1, keyed.stdout + keyed.stderr
    assert keyed.stdout.startswith("mode: keyed")
    assert "✗ seal      lineage/chain/" in keyed.stdout
    keyless = lineage_verify("--keyless", key=KEY.hex())
    assert keyless.returncode == 0, keyless.stdout
    assert keyless.stdout.startswith("mode: keyless")


def test_keyed_verify_with_the_contracts_rehashes_every_live_record(published: LocalStore, registry: Registry) -> None:
    """With the contracts, keyed verify re-derives each live record's digest: an intact store matches all of
    them, and a changed name is named at its curated file even when the file was re-hashed."""
    intact = verify(published, today=TODAY, key=KEY, contract_for=registry.contract)
    assert intact.intact, intact.problems
    assert intact.records_rehashed == intact.records == 90
    assert "90 live record(s) re-hashed to their record_digest" in verify_text(intact)
    name_changed(published.root)
    rehash_store(published.root)
    forged = verify(published, today=TODAY, key=KEY, contract_for=registry.contract)
    digest = [p for p in forged.problems if p.check == "digest"]
    assert [p.where for p in digest] == [p.relative_to(published.root).as_posix() for p in forged_curated(published)]
    assert "1 record(s) no longer match" in digest[0].message
    assert verify(published, today=TODAY, key=KEY).records_rehashed is None  # without the contracts: not re-derived


def forged_curated(store: LocalStore) -> list[Path]:
    _, _, curated = forged_batch(store.root)
    return [curated]


@pytest.mark.parametrize("target", ["manifest.parquet", "curated"])
def test_keyed_verify_reports_a_truncated_parquet_file_instead_of_failing(
    published: LocalStore, registry: Registry, target: str
) -> None:
    """A truncated manifest or curated file is tampering to report (exit 1), never an unexpected error (exit 2)."""
    if target == "curated":
        victim = forged_curated(published)[0]
    else:
        victim = sorted(published.root.glob("lineage/manifests/**/manifest.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    report = verify(published, today=TODAY, key=KEY, contract_for=registry.contract)
    assert not report.intact
    assert any(p.check == "digest" and "cannot be read" in p.message for p in report.problems), report.problems
