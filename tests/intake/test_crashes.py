"""Intake after a crash at the wrong moment, and beside another run: defects 1, 2, 3, 5 and 10 of issue 15.

A `FaultyStore` raises `Killed` (a BaseException, like a kill no handler sees) just before the
first store operation that matches a pattern; the next run, on a plain store, must finish
the batch as if nothing had happened and leave nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.intake.run import run_intake
from kakunin.intake.steps import gate
from kakunin.layout import BatchRef
from kakunin.lineage.formats import AuditEntry
from kakunin.lineage.verify import verify
from kakunin.storage import LocalStore
from kakunin.storage.local import machine_id
from tests.chaos.faults import FaultyStore, Killed
from tests.conftest import TODAY
from tests.intake.conftest import KEY, make_context

Submit = Callable[..., BatchRef]


def decisions(store: LocalStore) -> Counter[tuple[str, str]]:
    """(action, batch id) → how many audit entries."""
    entries = [
        AuditEntry.model_validate_json(p.read_bytes()) for p in sorted((store.root / "audit/log").glob("*.json"))
    ]
    return Counter((e.action, e.batch_id or "") for e in entries)


def leftovers(store: LocalStore) -> list[str]:
    return sorted(
        p.relative_to(store.root).as_posix()
        for p in store.root.rglob("*")
        if p.is_file() and (p.relative_to(store.root).parts[0] in {"work", "landing", ".tmp"} or "_pending-" in p.name)
    )


def crash_then_rerun(store: LocalStore, registry: Registry, pattern: str, occurrence: int = 1) -> list[str]:
    """Run intake on a store that dies before the operation matching `pattern`, then again; decisions."""
    faulty = FaultyStore(store.root, kill_when=pattern, occurrence=occurrence)
    with pytest.raises(Killed):
        run_intake(make_context(faulty, registry))
    return [r.decision for r in run_intake(make_context(store, registry))]


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(r"^delete work/.*/gate\.json", id="work-cleared-first"),
        pytest.param(r"^delete work/.*/conformed\.parquet", id="work-half-cleared"),
        pytest.param(r"^delete landing/.*/provenance\.yaml", id="landing-half-cleared"),
        pytest.param(r"^delete landing/.*/_submission\.json", id="submission-last"),
    ],
)
def test_a_kill_during_post_publish_cleanup_is_finished_and_blocks_nobody(
    store: LocalStore, registry: Registry, submit: Submit, pattern: str
) -> None:
    first, second = submit(), submit()
    assert crash_then_rerun(store, registry, pattern) == ["published", "published"]
    assert run_intake(make_context(store, registry)) == [], "nothing is pending any more"
    assert leftovers(store) == []
    assert not list((store.root / "locks").rglob("*.json")), "finished batches' leases are swept"
    assert not (store.root / first.quarantine("rejection.json")).exists(), "a published batch is never rejected"
    audit = decisions(store)
    for ref in (first, second):
        assert (audit[("accept", ref.batch_id)], audit[("publish", ref.batch_id)], audit[("reject", ref.batch_id)]) == (
            1,
            1,
            0,
        )
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert report.manifests == 2


def test_a_crash_after_publishing_never_rejects_the_batch(
    store: LocalStore, registry: Registry, submit: Submit
) -> None:
    """Kill point 61: landing half cleared; the rerun used to re-gate it and call it landing.tampered."""
    ref = submit()
    decisions_after = crash_then_rerun(store, registry, r"^delete landing/.*/evidence/")
    assert decisions_after in ([], ["published"])
    assert not (store.root / ref.quarantine()).exists()
    assert list((store.root / "provenance").rglob("evidence.json")), "the accepted document's evidence is kept"
    assert decisions(store)[("reject", ref.batch_id)] == 0
    assert verify(store, today=TODAY).intact


@pytest.mark.parametrize(
    ("pattern", "occurrence"),
    [
        pytest.param(r"^put-if-absent audit/log/", 1, id="before-accept-entry"),
        pytest.param(r"^put work/.*/audit-accept", 2, id="after-accept-entry"),
        pytest.param(r"^put-if-absent lineage/chain/", 1, id="before-chain-link"),
        pytest.param(r"^put-if-absent audit/log/", 2, id="before-publish-entry"),
        pytest.param(r"^put work/.*/audit-publish", 2, id="after-publish-entry"),
    ],
)
def test_every_decision_is_logged_exactly_once_after_a_crash(
    store: LocalStore, registry: Registry, submit: Submit, pattern: str, occurrence: int
) -> None:
    ref = submit()
    crash_then_rerun(store, registry, pattern, occurrence)
    audit = decisions(store)
    assert (audit[("accept", ref.batch_id)], audit[("publish", ref.batch_id)]) == (1, 1)


@pytest.mark.parametrize(
    ("pattern", "occurrence"),
    [
        pytest.param(r"^put quarantine/.*/rejection\.json", 1, id="before-decision"),
        pytest.param(r"^put-if-absent audit/log/", 2, id="before-reject-entry"),
        pytest.param(r"^delete work/", 1, id="after-reject-entry"),
        pytest.param(r"^rename landing/.*/_submission\.json", 1, id="submission-moved-last"),
    ],
)
def test_a_rejection_is_logged_exactly_once_after_a_crash(
    store: LocalStore, registry: Registry, submit: Submit, pattern: str, occurrence: int
) -> None:
    from kakunin_dev.samples import _mix_in_cp932

    ref = submit(rows=30, data_mutation=_mix_in_cp932)  # accepted at the gate, rejected at parse
    crash_then_rerun(store, registry, pattern, occurrence)
    audit = decisions(store)
    assert audit[("reject", ref.batch_id)] == 1
    assert (store.root / ref.quarantine("rejection.json")).is_file()
    assert leftovers(store) == []


def test_one_failing_batch_does_not_keep_the_others_pending(
    store: LocalStore, registry: Registry, submit: Submit
) -> None:
    broken, good = submit(), submit()
    gate(broken, make_context(store, registry))
    (store.root / broken.work("gate.json")).write_text("{ not json", encoding="utf-8")
    results = {r.batch: r for r in run_intake(make_context(store, registry))}
    assert results[str(good)].decision == "published"
    assert results[str(broken)].decision == "failed"
    assert "gate.json" in (results[str(broken)].error or "") or "validation" in (results[str(broken)].error or "")
    assert (store.root / broken.landing("_submission.json")).is_file(), "the failed batch stays pending"


def test_leftovers_are_reported_by_verify_and_removed_by_the_next_run(
    store: LocalStore, registry: Registry, submit: Submit
) -> None:
    ref = submit()
    run_intake(make_context(store, registry))
    assert verify(store, today=TODAY).intact
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    temp = store.root / ".tmp" / f"{machine_id()}-{int(dead.stdout)}-abcd1234"
    temp.write_bytes(b"name,email\n")  # a half-written file of a killed writer
    staged = next((store.root / "curated").rglob("part-*.parquet")).with_name(
        "_pending-20260101T000000000000Z-0000abcd.parquet"
    )
    staged.write_bytes(b"PAR1")
    stray = store.root / "work" / ref.dataset / "20260101T000000000000Z-0000abcd" / "conformed.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    live = store.root / ".tmp" / f"{machine_id()}-{os.getpid()}-live0000"
    live.write_bytes(b"in flight")  # this process is alive: its write is not a leftover
    report = verify(store, today=TODAY)
    assert not report.intact
    assert sorted(p.where for p in report.problems if p.check == "leftover") == sorted(
        [
            temp.relative_to(store.root).as_posix(),
            staged.relative_to(store.root).as_posix(),
            stray.relative_to(store.root).as_posix(),
        ]
    )
    run_intake(make_context(store, registry))
    assert not temp.exists()
    assert not staged.exists()
    assert not stray.exists()
    assert live.exists()
    live.unlink()
    assert verify(store, today=TODAY).intact


def test_two_intake_runs_at_once_publish_each_batch_once(
    tmp_path: Path, registry: Registry, submit: Submit, store: LocalStore
) -> None:
    refs = [submit(), submit(), submit()]
    env = {
        **os.environ,
        "KAKUNIN_HOME": str(store.root),
        "KAKUNIN_HMAC_KEY": KEY.hex(),
        "PYTHONPATH": os.pathsep.join(["plugins", "."]),
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "kakunin.cli", "intake", "run", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    decided = [r["decision"] for out, _ in outputs for r in json.loads(out)]
    assert decided.count("published") == 3, decided
    audit = decisions(store)
    assert all(audit[("publish", ref.batch_id)] == 1 for ref in refs)
    assert all(audit[("accept", ref.batch_id)] == 1 for ref in refs)
    assert len(list((store.root / "lineage/chain").glob("*.json"))) == 3
    assert leftovers(store) == []
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
