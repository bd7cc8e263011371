"""kakunin_dev.cluster (`make cluster-test`): its checks, and that it leaves no process behind.

The whole cluster run (PostgreSQL, Redis, Airflow and two workers, several minutes) is
`make cluster-test` itself; these tests cover the parts that decide whether it passes.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kakunin_dev.cluster import checks
from kakunin_dev.cluster.services import ClusterError, Supervisor


def _sample(name: str, expected: str | None, codes: list[str], landed: bool) -> dict[str, Any]:
    return {"sample": name, "expected": expected, "codes": codes, "landed_as": "b" if landed else None}


@pytest.mark.parametrize(
    ("sample", "outcome"),
    [
        pytest.param(_sample("01_good_utf8", None, [], True), ("published", ()), id="clean"),
        pytest.param(
            _sample("19_review", "contractor.review_stale", ["contractor.review_stale"], True),
            ("published", ()),
            id="warning",
        ),
        pytest.param(_sample("04_schema", "schema", ["schema"], False), ("rejected", ("schema",)), id="gate-refused"),
        pytest.param(
            _sample("29_bad_rows", "accuracy.threshold", [], True),
            ("rejected", ("accuracy.threshold",)),
            id="intake-refused",
        ),
        pytest.param(
            {
                **_sample("38_resale", "provider.individual, provider.denied", ["x", "y"], False),
                "expected_codes": ["provider.individual", "provider.denied"],
            },
            ("rejected", ("provider.individual", "provider.denied")),
            id="two-codes",
        ),
    ],
)
def test_expected_outcome_of_each_kind_of_sample(sample: dict[str, Any], outcome: tuple[str, tuple[str, ...]]) -> None:
    number = int(sample["sample"].split("_")[0])
    assert checks.expected_outcomes([sample]) == {f"{900000 + number:06d}": outcome}


def _batch(doc: str, state: str, codes: list[str]) -> dict[str, Any]:
    return {"batch_id": f"b{doc}", "document_id": f"PRV-2026-{doc}", "state": state, "reason_codes": codes}


def test_batches_as_expected_give_no_problem() -> None:
    expected = {"900001": ("published", ()), "900029": ("rejected", ("accuracy.threshold",))}
    found = [_batch("900001", "published", []), _batch("900029", "rejected", ["accuracy.threshold"])]
    assert checks.batch_problems(expected, found) == []


@pytest.mark.parametrize(
    ("found", "complaint"),
    [
        pytest.param(
            [_batch("900001", "pending", []), _batch("900029", "rejected", ["accuracy.threshold"])],
            "expected published, found pending",
            id="unfinished",
        ),
        pytest.param(
            [_batch("900001", "published", []), _batch("900029", "rejected", ["parse.schema"])],
            "with accuracy.threshold",
            id="wrong-code",
        ),
        pytest.param([_batch("900001", "published", [])], "no batch for document 900029", id="missing"),
        pytest.param(
            [
                _batch("900001", "published", []),
                _batch("900029", "rejected", ["accuracy.threshold"]),
                _batch("900077", "published", []),
            ],
            "not one the harness submitted",
            id="stranger",
        ),
    ],
)
def test_a_batch_not_as_expected_is_named(found: list[dict[str, Any]], complaint: str) -> None:
    expected = {"900001": ("published", ()), "900029": ("rejected", ("accuracy.threshold",))}
    problems = checks.batch_problems(expected, found)
    assert len(problems) == 1
    assert complaint in problems[0]


def test_a_batch_must_carry_every_code_its_sample_fires() -> None:
    """The 名簿業者 resale is refused with two codes: both must be there, in any order."""
    expected = {"900038": ("rejected", ("provider.individual", "provider.denied"))}
    both = [_batch("900038", "rejected", ["provider.denied", "provider.individual"])]
    one = [_batch("900038", "rejected", ["provider.individual"])]
    assert checks.batch_problems(expected, both) == []
    assert checks.batch_problems(expected, one) == [
        "batch b900038 (PRV-2026-900038): expected rejected with provider.individual, provider.denied, "
        "found rejected ['provider.individual']"
    ]


def _ti(host: str | None, state: str = "success") -> dict[str, Any]:
    return {"task_id": "batch.gate", "map_index": 0, "state": state, "hostname": host}


def test_tasks_on_both_workers_pass() -> None:
    tis = [_ti("w1"), _ti("w2"), _ti("w2"), _ti(None, "skipped")]
    assert checks.worker_problems(["w1", "w2"], tis) == []
    assert checks.hosts_of(tis) == {"w1": 1, "w2": 2}


def test_a_worker_that_ran_nothing_fails_the_check() -> None:
    problems = checks.worker_problems(["w1", "w2"], [_ti("w1"), _ti("w1")])
    assert problems == ["worker w2 ran no task instance (hostnames seen: {'w1': 2})"]


def test_tasks_on_a_host_outside_the_cluster_fail_the_check() -> None:
    problems = checks.worker_problems(["w1", "w2"], [_ti("w1"), _ti("w2"), _ti("laptop")])
    assert problems == ["task instances ran on hosts that are not the cluster's workers: ['laptop']"]


def test_failed_tasks_are_listed_with_their_state() -> None:
    upstream = {**_ti("w2", "upstream_failed"), "map_index": 3}
    tis = [_ti("w1"), _ti("w1", "skipped"), _ti("w2", "failed"), upstream]
    assert checks.failed_tasks(tis) == ["batch.gate[0]: failed", "batch.gate[3]: upstream_failed"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_stopping_kills_the_whole_process_group_children_too(tmp_path: Path) -> None:
    """A service's own children (Celery's pool, PostgreSQL's backends) must not outlive the harness."""
    sup = Supervisor(tmp_path)
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, time; p = subprocess.Popen(['sleep', '300']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(300)"
    )
    service = sup.start("parent", [sys.executable, "-c", script], env=os.environ)
    sup.wait_for("the child", pidfile.exists, timeout=30, every=0.1)
    time.sleep(0.2)
    child = int(pidfile.read_text())
    assert _alive(child)
    sup.stop_all()
    assert service.process.poll() is not None
    deadline = time.monotonic() + 5  # the child is reaped by init once killed
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
    assert sup.services == []


def test_a_service_that_exits_fails_the_wait_with_its_log(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    sup.start("broken", [sys.executable, "-c", "print('port already in use'); raise SystemExit(3)"], env=os.environ)
    try:
        with pytest.raises(ClusterError, match=r"broken exited with code 3(.|\n)*port already in use"):
            sup.wait_for("never", lambda: False, timeout=30, every=0.1)
    finally:
        sup.stop_all()


def test_stopping_a_service_that_ignores_its_stop_signal_kills_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kakunin_dev.cluster.services.GRACE_SECONDS", 1.0)
    sup = Supervisor(tmp_path)
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        "time.sleep(300)"
    )
    service = sup.start("stubborn", [sys.executable, "-c", script], env=os.environ)
    sup.wait_for("ready", lambda: "ready" in service.log.read_text(), timeout=30, every=0.1)
    sup.stop_all()
    assert service.process.returncode == -signal.SIGKILL
