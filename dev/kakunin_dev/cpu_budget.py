"""How much of intake's CPU its outputs cannot be made without, against what `≤ k × floor` leaves on this machine.

Issue 14 asks for submit + intake within 4× the floor (pyarrow CSV → Parquet of the same file) on two
cores. This measures, each part alone and in CPU-seconds (`time.process_time`, threads included), the
work no implementation of Kakunin's intake can skip: reading the CSV, GX's suite over every row, the six
keyed digests per record (as now, HMAC-SHA256 in DuckDB, and as the issue suggests, keyed BLAKE2b), and
writing the files that are kept (curated, manifest, subject index). It leaves out everything else intake
does (typing, normalising, ids, retention dates, work files, sorting, sealing), so the sum is a lower
bound. The budget is `k × floor wall × cores`: all of the machine, perfectly shared, which GIL-bound
parts (GX, a Python digest loop) cannot have.

Run after `make bench N=...` (it reads that run's CSV and published store):
    .venv/bin/python -m kakunin_dev.cpu_budget --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from kakunin_dev.bench import GENERATOR_VERSION


def _measure(name: str, work: Callable[[], Any], results: dict[str, tuple[float, float]]) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    results[name] = (time.process_time() - cpu, time.perf_counter() - wall)
    print(f"{name:52s} cpu {results[name][0]:7.2f} s   wall {results[name][1]:6.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from kakunin.contracts import Registry, default_expectations_root
    from kakunin.lineage.digests import Hmac, canonical_records, normalised_subject_keys
    from kakunin.subjects.identifiers import identifier_messages
    from kakunin_dev.samples import COLUMNS

    parser = argparse.ArgumentParser(prog="python -m kakunin_dev.cpu_budget")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--times", type=float, default=4.0, help="the target, as a multiple of the floor")
    args = parser.parse_args(argv)
    csv = args.out / "data" / f"{args.rows}-v{GENERATOR_VERSION}" / "batch" / "data.csv"
    store = args.out / f"store-{args.rows}"
    if not csv.is_file() or not (store / "curated").is_dir():
        raise SystemExit(f"no bench data for {args.rows:,} rows under {args.out}: run `make bench N={args.rows}` first")

    results: dict[str, tuple[float, float]] = {}
    types = {c: pa.string() for c in COLUMNS}

    def floor() -> None:
        read = pcsv.ReadOptions(block_size=2 << 20)
        reader = pcsv.open_csv(csv, read_options=read, convert_options=pcsv.ConvertOptions(column_types=types))
        with pq.ParquetWriter(io.BytesIO(), reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)

    _measure("floor: CSV -> Parquet (zstd), as make bench", floor, results)
    _measure(
        "CSV read (strings)",
        lambda: pcsv.read_csv(csv, convert_options=pcsv.ConvertOptions(column_types=types)),
        results,
    )

    contract = Registry(default_expectations_root()).contract("jp_customer_leads")
    if contract is None:
        raise SystemExit("the jp_customer_leads contract is missing")
    curated = pa.concat_tables(pq.read_table(p) for p in sorted((store / "curated").rglob("*.parquet")))
    manifest = pq.read_table(next((store / "lineage/manifests").rglob("manifest.parquet")))
    index = pq.read_table(next((store / "subjects/index").rglob("*.parquet")))
    print(f"records {curated.num_rows:,}, manifest rows {manifest.num_rows:,}, subject index rows {index.num_rows:,}")

    _measure("GX import (once per process)", lambda: __import__("great_expectations"), results)
    from kakunin.intake.accuracy import SuiteRunner

    runner = SuiteRunner(
        default_expectations_root() / "jp_customer_leads" / "accuracy_suite.json",
        parameters={"received_on": date.today()},
    )
    runner.validate(curated.slice(0, 1000).select(runner.columns).to_pandas())  # GX's first validation builds caches

    def gx() -> None:
        for start in range(0, curated.num_rows, 250_000):
            runner.validate(curated.slice(start, 250_000).select(runner.columns).to_pandas())

    _measure("GX: the suite over every row (250,000-row chunks)", gx, results)

    messages = [canonical_records(curated, contract), normalised_subject_keys(curated, contract.subject_key)]
    messages += [m.messages for m in identifier_messages(curated, contract)]
    key = b"b" * 32
    hmac = Hmac(key)
    _measure(
        f"{len(messages)} digests a record, HMAC-SHA256 in DuckDB (now)",
        lambda: [hmac.hexdigests(m) for m in messages],
        results,
    )

    def blake2b() -> None:
        for m in messages:
            values = m.cast(pa.binary()).to_pylist()
            digest = hashlib.blake2b
            pa.array(
                [None if v is None else digest(v, key=key, digest_size=32).hexdigest() for v in values], pa.string()
            )

    _measure(f"{len(messages)} digests a record, keyed BLAKE2b loop", blake2b, results)

    def writes() -> None:
        pq.write_table(curated, io.BytesIO(), compression="zstd")
        pq.write_table(manifest, io.BytesIO(), compression="zstd")
        pq.write_table(index, io.BytesIO(), compression="zstd", use_dictionary=["kind"])

    _measure("Parquet writes of what is kept (curated, manifest, index)", writes, results)

    cores = os.cpu_count() or 1
    names = list(results)
    budget = args.times * results[names[0]][1] * cores
    least = (
        results[names[1]][0]
        + results[names[3]][0]
        + min(results[names[4]][0], results[names[5]][0])
        + results[names[6]][0]
    )
    share = f"the floor's wall x {args.times:g} x {cores}"
    print(f"\nat <= {args.times:g}x the floor, {cores} cores: {budget:.1f} CPU-s to spend ({share})")
    print(
        f"CSV read + GX + the cheaper digests + kept writes: {least:.1f} CPU-s ({100 * least / budget:.0f}% of it); "
        f"GX's import ({results[names[2]][0]:.1f} s) and all else intake does not counted"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
