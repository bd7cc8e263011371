"""The failure campaign: kill intake and retention before every store operation in turn, rerun, check.

    make chaos                     every kill point of intake and of retention, then concurrent runs
    make chaos CHAOS_SAMPLE=8      8 kill points of each, spread evenly (what CI runs)

For each scenario a template store is built once. A clean run (no kill) of the command
against a copy lists the fault points and gives the expected outcome. Then for each point
k: a fresh copy, the command killed just before operation k (`os._exit(137)`, like kill -9),
the same command again without a kill, and the checks:

- every batch ends in the state the clean run gave it (published or rejected), none pending;
- every good record published exactly once: each manifest has the clean run's rows and source
  rows, and the curated files hold exactly the manifest's record ids, none twice;
- nothing left behind: no file under `work/` or `landing/`, no `.tmp-*` or `_pending-*` file,
  no lease still held;
- one audit entry per decision (accept, reject, publish; purge-open and purge per certificate);
- for retention: the same records purged (and kept) as the clean run, one closed certificate,
  none open;
- `lineage verify` intact.

Then two runs of the command at once against one copy, several times, with the same checks.
It prints a table (points, recovered, problems) and exits 1 if any problem was found.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
HMAC_KEY = "7a" * 32
RETENTION_SHIFT_DAYS = 730  # retention runs two years on: one-year batches have expired


@dataclass
class Outcome:
    """What a finished store looks like, in the terms the checks compare."""

    batches: dict[str, str]  # batch_id → published | rejected | pending
    published_rows: dict[str, list[int]]  # batch_id → sorted source rows in its manifest
    decisions: Counter[tuple[str, str]]  # (action, batch_id or certificate) → audit entries
    purged: list[str]  # record ids named by closed certificates
    certificates: int


@dataclass
class Scenario:
    name: str
    command: list[str]
    build: Callable[[Path], None]
    shift_days: int = 0
    template: Path = field(default_factory=Path)


def _today(shift_days: int) -> date:
    from kakunin import clock

    return clock.today() + timedelta(days=shift_days)


# ── the stores the scenarios start from ───────────────────────────────────────────────


def _submit_samples(home: Path, scratch: Path) -> None:
    from kakunin.batches import submit_batch
    from kakunin.contracts import Registry, default_expectations_root
    from kakunin.storage import LocalStore
    from kakunin_dev import samples

    registry = Registry(default_expectations_root())
    store = LocalStore(home)
    today = _today(0)
    received_on = today - timedelta(days=6)
    batches: list[tuple[str, dict[str, Any]]] = [
        ("good_utf8", {"rows": 30}),
        (
            "few_bad_rows",
            {
                "rows": 600,
                "data_mutation": samples.spoil_a_few_rows,
                "mutation": _all(_set("retention.clock", "column:last_purchase_on"), _set("retention.period", "P1Y")),
            },
        ),
        ("too_many_bad_rows", {"rows": 30, "data_mutation": samples._spoil_phones}),
        ("mixed_encoding", {"rows": 30, "data_mutation": samples._mix_in_cp932}),
    ]
    for number, (name, options) in enumerate(batches, start=1):
        folder = samples.write_batch(
            scratch / name,
            document_id=f"PRV-2026-{800000 + number:06d}",
            received_on=received_on,
            seed=number,
            **options,
        )
        result = submit_batch(folder, store=store, registry=registry, today=today, now=datetime.now(UTC))
        if not result.landed:
            raise SystemExit(f"chaos: sample {name} was not accepted at submit: {result.verdict.findings}")


def _set(path: str, value: Any) -> Any:
    from kakunin_dev.samples import _set as set_field

    return set_field(path, value)


def _all(*mutations: Any) -> Any:
    from kakunin_dev.samples import _all as all_of

    return all_of(*mutations)


def build_intake(home: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        _submit_samples(home, Path(scratch))


def build_retention(home: Path) -> None:
    """Published batches (one-year ones expire two years on), a hold on one record, an erasure request."""
    build_intake(home)
    _worker(home, ["intake", "run"], check=True)
    manifests = sorted(home.glob("lineage/manifests/*/*/manifest.parquet"))
    rows = pq.read_table(manifests, columns=["record_id", "retention_until"])
    expiring = rows.filter(pc.less(rows.column("retention_until"), _today(RETENTION_SHIFT_DAYS)))
    held = expiring.column("record_id")[0].as_py()
    _worker(
        home, ["hold", "add", "--dataset", "jp_customer_leads", "--record", held, "--reason", "chaos: a held record"]
    )
    _worker(
        home,
        [
            "erasure",
            "request",
            "--dataset",
            "jp_customer_leads",
            "--subject-key",
            _a_subject_key(home),
            "--reason",
            "chaos",
        ],
    )


def _a_subject_key(home: Path) -> str:
    """The subject key of a record that does not expire two years on (so only the request removes it)."""
    for data in sorted(home.glob("curated/*/*/part-*.parquet")):
        table = pq.read_table(data, columns=["customer_no", "retention_until"])
        lasting = table.filter(pc.greater(table.column("retention_until"), _today(RETENTION_SHIFT_DAYS + 1)))
        if lasting.num_rows:
            return str(lasting.column("customer_no")[0].as_py())
    raise SystemExit("chaos: no long-lived record for the erasure request")


# ── running a command in a worker process ────────────────────────────────────────────


def _env(home: Path, *, kill_at: int = 0, log: Path | None = None, shift_days: int = 0) -> dict[str, str]:
    env = {
        **os.environ,
        "KAKUNIN_HOME": str(home),
        "KAKUNIN_HMAC_KEY": HMAC_KEY,
        "KAKUNIN_ACTOR": "chaos",
        "CHAOS_KILL_AT": str(kill_at),
        "CHAOS_SHIFT_DAYS": str(shift_days),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
    }
    env.pop("CHAOS_LOG", None)
    if log is not None:
        env["CHAOS_LOG"] = str(log)
    return env


def _worker(
    home: Path, args: list[str], *, kill_at: int = 0, log: Path | None = None, shift_days: int = 0, check: bool = False
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.chaos.worker", *args],
        env=_env(home, kill_at=kill_at, log=log, shift_days=shift_days),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check and done.returncode != 0:
        raise SystemExit(f"chaos: {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


# ── what a finished store looks like, and what is wrong with it ───────────────────────


def outcome_of(home: Path) -> Outcome:
    from kakunin.batches import list_batches
    from kakunin.lineage.formats import AuditEntry, Certificate
    from kakunin.storage import LocalStore

    store = LocalStore(home)
    batches = {b.batch_id: b.state for b in list_batches(store)}
    published_rows = {}
    for manifest in sorted(home.glob("lineage/manifests/*/*/manifest.parquet")):
        table = pq.read_table(manifest, columns=["source_row"])
        published_rows[manifest.parent.name] = sorted(table.column("source_row").to_pylist())
    decisions: Counter[tuple[str, str]] = Counter()
    for entry_file in sorted(home.glob("audit/log/*.json")):
        entry = AuditEntry.model_validate_json(entry_file.read_bytes())
        subject = entry.batch_id or str(entry.detail.get("certificate") or "")
        decisions[(entry.action, subject)] += 1
    purged: list[str] = []
    certificates = 0
    for key in sorted(home.glob("lineage/certificates/*.json")):
        if key.name.endswith(".open.json"):
            continue
        certificate = Certificate.model_validate_json(key.read_bytes())
        certificates += 1
        purged += pq.read_table(home / certificate.records.key, columns=["record_id"]).column("record_id").to_pylist()
    return Outcome(batches, published_rows, decisions, sorted(purged), certificates)


def problems_in(home: Path, expected: Outcome, *, shift_days: int) -> list[str]:
    from kakunin.lineage.verify import verify
    from kakunin.storage import LocalStore

    found: list[str] = []
    got = outcome_of(home)
    if got.batches != expected.batches:
        changed = {b: (expected.batches.get(b), s) for b, s in got.batches.items() if expected.batches.get(b) != s}
        found.append(f"batch states differ from the clean run: {changed}")
    for batch_id, rows in expected.published_rows.items():
        if got.published_rows.get(batch_id) != rows:
            found.append(f"{batch_id}: manifest rows differ from the clean run")
    found += _curated_problems(home, set(got.purged))
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        relative = path.relative_to(home).as_posix()
        if path.name.startswith((".tmp-", "_pending-")) or relative.startswith(("work/", "landing/", ".tmp/")):
            found.append(f"leftover {relative}")
    found += _held_leases(home)
    actions = {"accept", "reject", "publish"}
    expected_decisions = {k: n for k, n in expected.decisions.items() if k[0] in actions}
    got_decisions = {k: n for k, n in got.decisions.items() if k[0] in actions}
    if got_decisions != expected_decisions:
        diff = {k: (expected_decisions.get(k, 0), got_decisions.get(k, 0)) for k in expected_decisions | got_decisions}
        found.append(f"audit decisions (expected, got) differ: { {k: v for k, v in diff.items() if v[0] != v[1]} }")
    purges = Counter(action for (action, _), n in got.decisions.items() for _ in range(n) if action.startswith("purge"))
    if purges and (purges["purge"] != got.certificates or purges["purge-open"] != got.certificates):
        found.append(f"audit: {dict(purges)} for {got.certificates} closed certificate(s)")
    if got.purged != expected.purged:
        found.append(f"purged {len(got.purged)} record(s), the clean run purged {len(expected.purged)}")
    if got.certificates != expected.certificates:
        found.append(f"{got.certificates} closed certificate(s), the clean run closed {expected.certificates}")
    for opened in sorted(home.glob("lineage/certificates/*.open.json")):
        if not opened.with_name(opened.name.replace(".open.json", ".json")).exists():
            found.append(f"certificate {opened.name} was opened and never closed")
    report = verify(LocalStore(home), today=_today(shift_days))
    found += [f"verify: {p.check} {p.where}: {p.message}" for p in report.problems]
    return found


def _curated_problems(home: Path, purged: set[str]) -> list[str]:
    found = []
    manifests = sorted(home.glob("lineage/manifests/*/*/manifest.parquet"))
    for manifest in manifests:
        batch_id = manifest.parent.name
        expected_ids = set(pq.read_table(manifest, columns=["record_id"]).column("record_id").to_pylist()) - purged
        files = sorted(home.glob(f"curated/*/*/part-{batch_id}.parquet"))
        ids = pq.read_table(files, columns=["record_id"]).column("record_id").to_pylist() if files else []
        if len(ids) != len(set(ids)):
            found.append(f"{batch_id}: a record is in the curated files twice")
        if set(ids) != expected_ids:
            found.append(
                f"{batch_id}: curated record ids do not match the manifest ({len(ids)} vs {len(expected_ids)})"
            )
    return found


def _held_leases(home: Path) -> list[str]:
    from kakunin import leases
    from kakunin.storage import LocalStore

    store = LocalStore(home)
    names = sorted({p.parent.relative_to(home / leases.LOCKS).as_posix() for p in home.glob("locks/**/*.json")})
    held = []
    for name in names:
        record = leases.read(store, name)
        if record is not None and not record.is_free(datetime.now(UTC)):
            held.append(f"lease {name} still held by {record.owner}")
    return held


# ── the campaign ──────────────────────────────────────────────────────────────────────


@dataclass
class Row:
    scenario: str
    points: int
    recovered: int
    problems: list[str]


def points_to_try(log: Path) -> tuple[int, list[int]]:
    """(all fault points, the ones to try): of a run of the same operation in the same folder
    (22 Data Docs files copied one after another, a batch's evidence deleted file by file),
    the first and the last are tried; a kill between two of them is no different."""
    lines = [line.rstrip("\n").split("\t") for line in log.open(encoding="utf-8")]
    runs: list[list[int]] = []
    previous: tuple[str, str] | None = None
    for number, operation, key in lines:
        kind = (operation, key.rsplit("/", 1)[0])
        if kind == previous:
            runs[-1].append(int(number))
        else:
            runs.append([int(number)])
        previous = kind
    return len(lines), sorted({p for run in runs for p in (run[0], run[-1])})


def _fresh(template: Path, into: Path) -> Path:
    home = into / "home"
    shutil.copytree(template, home, symlinks=True)
    return home


def _one_point(scenario: Scenario, expected: Outcome, point: int, *, root: Path) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"p{point:03d}-", dir=root))
    home = _fresh(scenario.template, workdir)
    killed = _worker(home, scenario.command, kill_at=point, shift_days=scenario.shift_days)
    if killed.returncode not in (137, 0, 1):
        return [f"kill at {point}: the killed run exited {killed.returncode}: {killed.stderr.strip()[-300:]}"]
    rerun = _worker(home, scenario.command, shift_days=scenario.shift_days)
    found = []
    if rerun.returncode not in (0, 1):
        found.append(f"kill at {point}: the rerun exited {rerun.returncode}: {rerun.stderr.strip()[-300:]}")
    found += [f"kill at {point}: {p}" for p in problems_in(home, expected, shift_days=scenario.shift_days)]
    if not found:
        shutil.rmtree(workdir, ignore_errors=True)
    return found


def _concurrent(scenario: Scenario, expected: Outcome, round_: int, root: Path) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"c{round_:02d}-", dir=root))
    home = _fresh(scenario.template, workdir)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: _worker(home, scenario.command, shift_days=scenario.shift_days), range(2)))
    found = [
        f"concurrent round {round_}: a run exited {r.returncode}: {r.stderr.strip()[-300:]}"
        for r in runs
        if r.returncode not in (0, 1, 75)
    ]
    found += [f"concurrent round {round_}: {p}" for p in problems_in(home, expected, shift_days=scenario.shift_days)]
    if not found:
        shutil.rmtree(workdir, ignore_errors=True)
    return found


def run_campaign(*, sample: int | None, rounds: int, jobs: int, root: Path, only: str | None = None) -> list[Row]:
    scenarios = [
        Scenario("intake", ["intake", "run"], build_intake),
        Scenario("retention", ["retention", "run"], build_retention, shift_days=RETENTION_SHIFT_DAYS),
    ]
    scenarios = [s for s in scenarios if only in (None, s.name)]
    rows = []
    for scenario in scenarios:
        scenario.template = root / f"template-{scenario.name}"
        scenario.build(scenario.template)
        clean = _fresh(scenario.template, Path(tempfile.mkdtemp(prefix="clean-", dir=root)))
        log = root / f"points-{scenario.name}.tsv"
        _worker(clean, scenario.command, log=log, shift_days=scenario.shift_days, check=False)
        expected = outcome_of(clean)
        baseline = problems_in(clean, expected, shift_days=scenario.shift_days)
        total, points = points_to_try(log)
        if sample is not None and sample < len(points):
            points = [points[(i * (len(points) - 1)) // max(sample - 1, 1)] for i in range(sample)]
        print(f"{scenario.name}: {total} fault points, trying {len(points)}", flush=True)
        with ThreadPoolExecutor(jobs) as pool:
            results = list(pool.map(functools.partial(_one_point, scenario, expected, root=root), points))
        found = [f"clean run: {p}" for p in baseline] + [p for r in results for p in r]
        rows.append(
            Row(f"{scenario.name}: kill before each store operation", len(points), sum(not r for r in results), found)
        )
        concurrent = [_concurrent(scenario, expected, i, root) for i in range(1, rounds + 1)]
        rows.append(
            Row(
                f"{scenario.name}: two runs at once",
                rounds,
                sum(not r for r in concurrent),
                [p for r in concurrent for p in r],
            )
        )
    return rows


def table(rows: list[Row]) -> str:
    lines = [f"{'scenario':<52} {'points':>6} {'recovered':>9} {'problems':>8}"]
    lines += [f"{r.scenario:<52} {r.points:>6} {r.recovered:>9} {len(r.problems):>8}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=None, help="try this many kill points per scenario (default all)")
    parser.add_argument("--rounds", type=int, default=5, help="concurrent rounds per scenario")
    parser.add_argument("--jobs", type=int, default=2, help="kill points tried at once")
    parser.add_argument("--keep", type=Path, default=None, help="work under this folder and keep failing stores")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--only", choices=["intake", "retention"], default=None, help="one scenario only")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="kakunin-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    rows = run_campaign(sample=args.sample, rounds=args.rounds, jobs=args.jobs, root=root, only=args.only)
    print(table(rows))
    for row in rows:
        for problem in row.problems:
            print(f"  {row.scenario}: {problem}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n", encoding="utf-8")
    if args.keep is None and not any(r.problems for r in rows):
        shutil.rmtree(root, ignore_errors=True)
    return 1 if any(r.problems for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
