"""Signed checkpoints anchor the chain tails: what the chains alone miss, a checkpoint kept elsewhere catches.

Each tampering below first shows that plain `verify` calls the store intact (the gap the
checkpoint closes), then that verify against the checkpoint fails with the right `where`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.layout import BatchRef
from kakunin.lineage.checkpoint import (
    Anchors,
    Checkpoint,
    check_checkpoint,
    checkpoint_if_configured,
    parse_checkpoint,
    read_log,
    take_checkpoint,
)
from kakunin.lineage.signing import parse_signing_key
from kakunin.lineage.verify import VerifyReport, verify
from kakunin.storage import LocalStore
from tests.conftest import TODAY
from tests.intake.conftest import make_context
from tests.lineage.test_verify import published

__all__ = ["published"]

SEED = "1f" * 32
KEY = parse_signing_key(SEED)
OTHER_KEY = parse_signing_key("2e" * 32)


def _checkpoint(store: LocalStore) -> Checkpoint:
    return take_checkpoint(store, KEY, now=datetime.now(UTC))


def _anchored(store: LocalStore, checkpoint: Checkpoint, *, key: object = None) -> VerifyReport:
    public = (key or KEY).public_key()  # type: ignore[attr-defined]
    return verify(store, today=TODAY, anchors=Anchors(checkpoints=[("test", checkpoint)], public_key=public))


def _audit(root: Path) -> list[Path]:
    return sorted((root / "audit/log").glob("*.json"))


def _edit_last_audit_entry(root: Path) -> None:
    last = _audit(root)[-1]
    last.write_bytes(last.read_bytes().replace(b'"actor":"test"', b'"actor":"someone"'))


def _delete_last_audit(n: int) -> Callable[[Path], None]:
    def tamper(root: Path) -> None:
        for path in _audit(root)[-n:]:
            path.unlink()

    return tamper


def _remove_newest_batch_whole(root: Path) -> None:
    """Its link, header, manifest, receipt, commit, curated files, subject index, and audit entries (the tail)."""
    link = sorted(root.glob("lineage/chain/*.json"))[-1]
    header_key = json.loads(link.read_text(encoding="utf-8"))["header_key"]
    batch_id = header_key.split("/")[-2]
    doomed = [link, root / header_key, root / header_key.replace("manifest.json", "manifest.parquet")]
    doomed += [*root.glob(f"lineage/receipts/*/{batch_id}.json"), *root.glob(f"curated/*/_commits/{batch_id}.json")]
    doomed += list(root.glob(f"curated/*/*/part-{batch_id}.parquet"))
    doomed += list(root.glob(f"subjects/index/*/{batch_id}.parquet"))
    entries = _audit(root)
    first = next(i for i, p in enumerate(entries) if json.loads(p.read_text(encoding="utf-8"))["batch_id"] == batch_id)
    for path in doomed + entries[first:]:
        path.unlink()


def _rm_lineage_curated_audit(root: Path) -> None:
    for name in ("lineage", "curated", "audit", "subjects"):
        shutil.rmtree(root / name, ignore_errors=True)


def _empty_home(root: Path) -> None:
    shutil.rmtree(root)
    root.mkdir()


# (tampering, a `where` verify must name, a phrase of its message)
UNSEEN_BY_THE_CHAINS = [
    pytest.param(
        _edit_last_audit_entry, "audit/log/000000000006.json", "entry 6 changed", id="last-audit-entry-edited"
    ),
    pytest.param(_delete_last_audit(1), "audit/log", "ends at 5", id="last-audit-entry-deleted"),
    pytest.param(_delete_last_audit(3), "audit/log", "ends at 3", id="last-3-audit-entries-deleted"),
    pytest.param(_remove_newest_batch_whole, "lineage/chain", "ends at 2", id="newest-batch-removed-whole"),
    pytest.param(_rm_lineage_curated_audit, "audit/log", "entries were removed", id="rm-lineage-curated-audit"),
    pytest.param(_empty_home, "STORE", "no chains at all", id="empty-store"),
]


@pytest.mark.parametrize(("tamper", "where", "phrase"), UNSEEN_BY_THE_CHAINS)
def test_what_the_chains_miss_a_checkpoint_catches(
    published: LocalStore, tamper: Callable[[Path], None], where: str, phrase: str
) -> None:
    checkpoint = _checkpoint(published)
    assert _anchored(published, checkpoint).intact
    tamper(published.root)
    plain = verify(published, today=TODAY)
    assert plain.intact, "the premise: without an anchor this goes unnoticed"
    assert plain.anchored_by == []
    report = _anchored(published, checkpoint)
    assert not report.intact
    where = published.describe() if where == "STORE" else where
    found = [(p.check, p.where, p.message) for p in report.problems]
    assert any(c == "checkpoint" and w == where and phrase in m for c, w, m in found), found


def test_rewriting_the_last_audit_entry_consistently_still_diverges(published: LocalStore) -> None:
    """Re-serialising the edited entry canonically keeps the chain linked, but not the checkpoint's hash."""
    from kakunin.lineage.chain import canonical_json

    checkpoint = _checkpoint(published)
    last = _audit(published.root)[-1]
    entry = json.loads(last.read_bytes())
    entry["actor"] = "someone-else"
    last.write_bytes(canonical_json(entry))
    assert verify(published, today=TODAY).intact
    (problem,) = _anchored(published, checkpoint).problems
    assert (problem.where, "diverges" in problem.message) == ("audit/log/000000000006.json", True)


def test_counts_that_only_grow_are_checked(published: LocalStore) -> None:
    """A manifest header dropped from its link (the chain kept whole) lowers `manifests` and `published_records`."""
    checkpoint = _checkpoint(published)
    header = sorted(published.root.glob("lineage/manifests/*/*/manifest.json"))[-1]
    header.unlink()
    wheres = {p.where for p in _anchored(published, checkpoint).problems if p.check == "checkpoint"}
    assert wheres == {"counts.manifests", "counts.published_records"}


def test_new_entries_after_a_checkpoint_are_fine(
    published: LocalStore, registry: Registry, submit: Callable[..., BatchRef]
) -> None:
    checkpoint = _checkpoint(published)
    run_batch(submit(), make_context(published, registry))
    report = _anchored(published, checkpoint)
    assert report.intact, report.problems
    assert report.manifests == 4
    assert report.anchored_by
    assert "checkpoint 1 of" in report.anchored_by[0]


def test_a_checkpoint_with_an_edited_signature_or_field_fails(published: LocalStore) -> None:
    checkpoint = _checkpoint(published)
    flipped = checkpoint.signature[:10] + ("0" if checkpoint.signature[10] != "0" else "1") + checkpoint.signature[11:]
    forged = checkpoint.model_copy(update={"signature": flipped})
    (problem,) = check_checkpoint(published, forged, KEY.public_key())
    assert (problem.where, "signature does not verify" in problem.message) == (checkpoint.label(), True)
    lowered = checkpoint.counts.model_copy(update={"audit_entries": 1})
    (problem,) = check_checkpoint(published, checkpoint.model_copy(update={"counts": lowered}), KEY.public_key())
    assert "signature does not verify" in problem.message


def test_a_checkpoint_checked_with_the_wrong_public_key_fails(published: LocalStore) -> None:
    report = _anchored(published, _checkpoint(published), key=OTHER_KEY)
    assert not report.intact
    (problem,) = report.problems
    assert problem.check == "checkpoint"
    assert "not by the given public key" in problem.message


def test_the_checkpoint_bytes_round_trip_and_the_log_is_a_chain(published: LocalStore) -> None:
    first = _checkpoint(published)
    assert parse_checkpoint(first.entry_bytes(), "x") == first
    second = _checkpoint(published)
    assert (second.sequence, second.previous is not None) == (2, True)
    logged, problems = read_log(published)
    assert (logged, problems) == ([first, second], [])
    assert verify(published, today=TODAY, anchors=Anchors(against_log=True, public_key=KEY.public_key())).intact
    (published.root / "lineage/checkpoints/000000000001.json").write_bytes(b'{"kind": "kakunin.checkpoint/v1"}')
    report = verify(published, today=TODAY, anchors=Anchors(against_log=True, public_key=KEY.public_key()))
    assert {p.where for p in report.problems} == {
        "lineage/checkpoints/000000000001.json",
        "lineage/checkpoints/000000000002.json",
    }


def test_the_stores_log_catches_a_removed_tail_too(published: LocalStore) -> None:
    _checkpoint(published)
    _delete_last_audit(2)(published.root)
    report = verify(published, today=TODAY, anchors=Anchors(against_log=True, public_key=KEY.public_key()))
    assert next(p.where for p in report.problems if p.check == "checkpoint") == "audit/log"


def test_the_scheduler_hook_skips_without_a_key(published: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAKUNIN_SIGNING_KEY", raising=False)
    assert "not set" in checkpoint_if_configured(published, now=datetime.now(UTC))
    assert read_log(published) == ([], [])
    monkeypatch.setenv("KAKUNIN_SIGNING_KEY", SEED)
    assert checkpoint_if_configured(published, now=datetime.now(UTC)).startswith("checkpoint 1 of")
    assert len(read_log(published)[0]) == 1


# ── the command line ─────────────────────────────────────────────────────────────────


def _cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KAKUNIN_")}
    full.update({"KAKUNIN_HOME": str(home), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "kakunin.cli", *args], capture_output=True, text=True, env=full, timeout=120, check=False
    )


def test_keygen_checkpoint_and_verify_from_the_command_line(published: LocalStore, tmp_path: Path) -> None:
    home, public, out = published.root, tmp_path / "public-key", tmp_path / "checkpoint.json"
    made = _cli(home, "lineage", "keygen", "--public-key-out", str(public))
    assert made.returncode == 0, made.stderr
    seed = made.stdout.strip()
    assert len(seed) == 64
    assert "secret store" in made.stderr
    assert len(public.read_text().strip()) == 64
    assert public.read_text().strip() != seed
    again = _cli(home, "lineage", "keygen", "--public-key-out", str(public))
    assert (again.returncode, again.stdout) == (2, "")
    assert "exists" in again.stderr

    signing = {"KAKUNIN_SIGNING_KEY": seed}
    taken = _cli(home, "lineage", "checkpoint", "--out", str(out), env=signing)
    assert taken.returncode == 0, taken.stderr
    assert "heads manifests 3" in taken.stdout
    assert json.loads(out.read_text())["kind"] == "kakunin.checkpoint/v1"
    assert _cli(home, "lineage", "checkpoint", "--out", str(out), env=signing).returncode == 2

    plain = _cli(home, "lineage", "verify")
    assert plain.returncode == 0
    assert "anchors: none" in plain.stdout
    anchored = _cli(home, "lineage", "verify", "--checkpoint", str(out), "--public-key", str(public))
    assert anchored.returncode == 0, anchored.stdout
    assert "anchors: checkpoint 1 of" in anchored.stdout
    as_json = _cli(
        home, "lineage", "verify", "--json", "--checkpoint", str(out), env={"KAKUNIN_VERIFY_KEY": public.read_text()}
    )
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["anchored_by"][0].startswith("checkpoint 1 of")

    _delete_last_audit(5)(home)  # the three verify entries since the checkpoint, and two it saw
    broken = _cli(home, "lineage", "verify", "--checkpoint", str(out), "--public-key", str(public))
    assert broken.returncode == 1
    assert "✗ checkpoint audit/log: the chain ends at 4, the checkpoint 1 of" in broken.stdout
    assert "saw 6: entries were removed" in broken.stdout


def test_the_command_line_refuses_bad_input_with_exit_2(published: LocalStore, tmp_path: Path) -> None:
    home = published.root
    public = tmp_path / "public-key"
    public.write_text(KEY.public_key().public_bytes_raw().hex())
    good = tmp_path / "checkpoint.json"
    good.write_bytes(_checkpoint(published).entry_bytes())
    not_json, wrong_kind, bad_key = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "bad-key"
    not_json.write_text("not json")
    wrong_kind.write_text('{"kind": "kakunin.manifest/v1"}')
    bad_key.write_text("xyz")
    cases = [
        (["--checkpoint", str(tmp_path / "missing.json"), "--public-key", str(public)], "cannot read checkpoint"),
        (["--checkpoint", str(not_json), "--public-key", str(public)], "is not JSON"),
        (["--checkpoint", str(wrong_kind), "--public-key", str(public)], "not a kakunin.checkpoint/v1"),
        (["--checkpoint", str(good), "--public-key", str(bad_key)], "64 hex characters"),
        (["--checkpoint", str(good)], "public key"),
    ]
    for args, phrase in cases:
        run = _cli(home, "lineage", "verify", *args)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert run.stderr.startswith("error: "), run.stderr
        assert phrase in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    for value, phrase in [("", "is not set"), ("abc", "64 hex characters")]:
        run = _cli(home, "lineage", "checkpoint", env={"KAKUNIN_SIGNING_KEY": value})
        assert run.returncode == 2, run.stderr
        assert phrase in run.stderr, run.stderr


def test_checkpoint_refuses_to_sign_a_lineage_that_is_not_intact(published: LocalStore) -> None:
    link = sorted(published.root.glob("lineage/chain/*.json"))[0]
    link.unlink()
    run = _cli(published.root, "lineage", "checkpoint", env={"KAKUNIN_SIGNING_KEY": SEED})
    assert run.returncode == 1
    assert "not signed" in run.stderr
    assert not (published.root / "lineage/checkpoints").exists()


def test_checkpoint_with_the_hmac_key_refuses_a_rehashed_forgery(published: LocalStore) -> None:
    """A keyless verify passes a re-hashed store; with KAKUNIN_HMAC_KEY set the checkpoint verifies keyed
    first, so it never vouches for a forgery."""
    from tests.intake.conftest import KEY as HMAC_KEY
    from tests.tamper.attacks import name_changed, rehash_store

    name_changed(published.root)
    rehash_store(published.root)
    assert verify(published, today=TODAY).intact  # what a keyless check would have signed
    run = _cli(
        published.root, "lineage", "checkpoint", env={"KAKUNIN_SIGNING_KEY": SEED, "KAKUNIN_HMAC_KEY": HMAC_KEY.hex()}
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not signed" in run.stderr
    assert "seal" in run.stderr
    assert not (published.root / "lineage/checkpoints").exists()
