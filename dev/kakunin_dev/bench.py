"""`make bench`: intake's cost against a floor measured in the same run, as ratios.

The floor is what any pipeline must pay: pyarrow streaming the same CSV and writing it
as Parquet. Intake (`kakunin intake run`, the CLI path) is measured against it in the
same run, each in its own process, with wall time and peak RSS (`wait4`). Absolute
seconds are not comparable across these machines; the ratios are.

Usage: python -m kakunin_dev.bench [--rows N] [--out var/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

GENERATOR_VERSION = 2


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_rss_mib: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def generate_rows(path: Path, rows: int, *, seed: int = 7) -> None:
    """A realistic jp_customer_leads CSV of `rows` rows, fast: Faker makes pools, numpy combines them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    from faker import Faker

    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    last = [fake.last_name_pair() for _ in range(400)]
    first = [fake.first_name_pair() for _ in range(400)]
    addresses = np.array([fake.address() for _ in range(3000)])
    domains = np.array(["example.com", "example.jp", "example.co.jp", "example.net", "example.org"])
    block = 250_000
    options = pcsv.WriteOptions(include_header=True, quoting_style="needed")
    with pcsv.CSVWriter(path, _schema(), write_options=options) as writer:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            li = rng.integers(0, len(last), n)
            fi = rng.integers(0, len(first), n)
            last_kanji = np.array([x[0] for x in last])[li]
            first_kanji = np.array([x[0] for x in first])[fi]
            last_kana = np.array([x[1] for x in last])[li]
            first_kana = np.array([x[1] for x in first])[fi]

            def digits(k: int, width: int) -> Any:
                return np.char.zfill(rng.integers(0, 10**width, k).astype(str), width)

            numbers = np.arange(start, start + n) + 1_000_000
            birth = np.datetime64("1940-01-01") + rng.integers(0, 365 * 65, n).astype("timedelta64[D]")
            consented = np.datetime64("2024-04-01T00:00:00") + rng.integers(0, 86400 * 900, n).astype("timedelta64[s]")
            purchase = np.datetime64("2024-01-01") + rng.integers(0, 1000, n).astype("timedelta64[D]")
            purchase_text = np.where(rng.random(n) < 0.2, "", purchase.astype(str))
            table = pa.table(
                {
                    "customer_no": np.char.add("C", numbers.astype(str)),
                    "name_kanji": np.char.add(np.char.add(last_kanji, " "), first_kanji),
                    "name_kana": np.char.add(np.char.add(last_kana, "　"), first_kana),
                    "email": np.char.add(
                        np.char.add(np.char.add("u", numbers.astype(str)), "@"), domains[rng.integers(0, 5, n)]
                    ),
                    "phone": np.char.add(np.char.add(np.char.add("090-", digits(n, 4)), "-"), digits(n, 4)),
                    "postal_code": np.char.add(np.char.add(digits(n, 3), "-"), digits(n, 4)),
                    "address": addresses[rng.integers(0, len(addresses), n)],
                    "birth_date": birth.astype(str),
                    "consented_at": np.char.add(consented.astype(str), "+09:00"),
                    "last_purchase_on": purchase_text,
                },
                schema=_schema(),
            )
            writer.write_table(table)


def _schema() -> Any:
    import pyarrow as pa

    from kakunin_dev.samples import COLUMNS

    return pa.schema([pa.field(c, pa.string()) for c in COLUMNS])


FLOOR = """
import sys, pyarrow as pa, pyarrow.csv as pcsv, pyarrow.parquet as pq
src, dst = sys.argv[1], sys.argv[2]
types = {c: pa.string() for c in sys.argv[3].split(",")}
reader = pcsv.open_csv(src, read_options=pcsv.ReadOptions(block_size=2 << 20),
                       convert_options=pcsv.ConvertOptions(column_types=types))
with pq.ParquetWriter(dst, reader.schema, compression="zstd") as writer:
    for batch in reader:
        writer.write_batch(batch)
"""


def measure(name: str, argv: list[str], *, rows: int, env: dict[str, str]) -> Measurement:
    """Run `argv` as a child process; its wall time and its own peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"{name} failed (status {status}):\n{stderr[-2000:]}")
    return Measurement(name=name, seconds=seconds, peak_rss_mib=usage.ru_maxrss / 1024, rows=rows)


def run(rows: int, out: Path) -> dict[str, object]:
    from kakunin.yaml_io import dump_yaml, json_bytes
    from kakunin_dev.samples import COLUMNS, good_document

    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data" / f"{rows}-v{GENERATOR_VERSION}"
    batch = data_dir / "batch"
    if not (batch / "provenance.yaml").is_file():
        shutil.rmtree(data_dir, ignore_errors=True)
        batch.mkdir(parents=True)
        print(f"generating {rows:,} rows ...", flush=True)
        # in a child, so this process stays small: a forked child starts with its parent's RSS
        generator = [
            sys.executable,
            "-m",
            "kakunin_dev.bench",
            "--generate",
            str(batch / "data.csv"),
            "--rows",
            str(rows),
        ]
        subprocess.run(generator, check=True)
        today = datetime.now(UTC).date()
        document = good_document(document_id="PRV-2026-999999", received_on=today - timedelta(days=6))
        document["contractors"] = []
        document["evidence"] = _evidence(batch)
        (batch / "provenance.yaml").write_text(dump_yaml(document), encoding="utf-8")
    size_mib = (batch / "data.csv").stat().st_size / (1 << 20)
    home = out / "store"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "KAKUNIN_HOME": str(home), "KAKUNIN_HMAC_KEY": "b" * 64}
    kakunin = [sys.executable, "-m", "kakunin.cli"]
    floor = measure(
        "floor (pyarrow CSV → Parquet)",
        [sys.executable, "-c", FLOOR, str(batch / "data.csv"), str(out / "floor.parquet"), ",".join(COLUMNS)],
        rows=rows,
        env=env,
    )
    submit = measure("submit", [*kakunin, "provenance", "submit", str(batch)], rows=rows, env=env)
    intake = measure("intake (kakunin intake run)", [*kakunin, "intake", "run", "--json"], rows=rows, env=env)
    (out / "floor.parquet").unlink(missing_ok=True)
    published = _published(home)
    shutil.rmtree(home, ignore_errors=True)
    result = {
        "rows": rows,
        "csv_mib": round(size_mib, 1),
        "at": datetime.now(UTC).isoformat(),
        "published": published,
        "floor": {**asdict(floor), "rows_per_second": round(floor.rows_per_second)},
        "submit": {**asdict(submit), "rows_per_second": round(submit.rows_per_second)},
        "intake": {**asdict(intake), "rows_per_second": round(intake.rows_per_second)},
        "ratio_intake_to_floor": round(intake.seconds / floor.seconds, 2),
        "rss_ratio_intake_to_floor": round(intake.peak_rss_mib / floor.peak_rss_mib, 2),
    }
    (out / f"intake-{rows}.json").write_bytes(json_bytes(result))
    return result


def _published(home: Path) -> int:
    total = 0
    from kakunin.layout import MANIFEST_FILE, MANIFESTS

    for header in (home / MANIFESTS).rglob(MANIFEST_FILE):
        total += json.loads(header.read_text(encoding="utf-8"))["counts"]["published"]
    return total


def _evidence(batch: Path) -> list[dict[str, str]]:
    from kakunin.hashing import sha256_bytes

    (batch / "evidence").mkdir(exist_ok=True)
    entries = []
    for evidence_id, kind in (("contract-2026", "contract"), ("consent-sample", "consent_record")):
        content = f"%PDF-1.4 bench evidence {evidence_id}\n".encode()
        (batch / "evidence" / f"{evidence_id}.pdf").write_bytes(content)
        entries.append(
            {
                "id": evidence_id,
                "kind": kind,
                "file": f"evidence/{evidence_id}.pdf",
                "sha256": sha256_bytes(content),
            }
        )
    return entries


def build_curated_store(home: Path, *, records: int, expired: int, seed: int = 3) -> None:
    """A curated store of `records` records, `expired` of them in partitions that have expired by 2021-01-01.

    Built directly (not through intake) so that ten million records take seconds: files of
    at most 100,000 records, expired ones in 2020 partitions, the rest spread over 2030-2034.
    """
    from datetime import date

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kakunin.intake.records import uuid7_strings
    from kakunin.layout import BatchRef

    rng = np.random.default_rng(seed)
    per_file = 100_000

    def write(month: str, count: int, batch: int, until: date) -> None:
        batch_id = f"20260101T000000{batch:06d}Z-00000000"
        target = home / BatchRef("bench", batch_id).curated(month)
        target.parent.mkdir(parents=True, exist_ok=True)
        table = pa.table(
            {
                "record_id": uuid7_strings(count, unix_ms=1_764_140_000_000 + batch),
                "customer_no": pa.array(np.char.add("C", rng.integers(10**6, 10**7, count).astype(str))),
                "email": pa.array(np.char.add(rng.integers(0, 10**9, count).astype(str), "@example.jp")),
                "retention_until": pa.nulls(count, pa.date32()).fill_null(pa.scalar(until, pa.date32())),
            }
        )
        pq.write_table(table, target, compression="zstd")
        _write_header(home, batch_id)

    batch = 0
    for start in range(0, expired, per_file):
        batch += 1
        write("2020-06", min(per_file, expired - start), batch, date(2020, 6, 15))
    kept = records - expired
    for start in range(0, kept, per_file):
        batch += 1
        month = 2030 * 12 + (batch % 60)
        year, month_index = divmod(month, 12)
        write(f"{year}-{month_index + 1:02d}", min(per_file, kept - start), batch, date(year, month_index + 1, 15))


def _write_header(home: Path, batch_id: str) -> None:
    """A manifest header for a synthetic batch: retention only purges batches whose lineage is written."""
    from kakunin.layout import BatchRef, provenance_key
    from kakunin.lineage.formats import Counts, GxSummary, ManifestHeader, StoredObject

    zero = "0" * 64
    header = ManifestHeader(
        manifest_id=batch_id,
        sequence=0,
        dataset="bench",
        batch_id=batch_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        dag_run_id=None,
        code_version="bench",
        counts=Counts(received=0, published=0, quarantined=0),
        retention_clock_fallbacks=0,
        manifest_parquet_sha256=zero,
        curated_files=[],
        provenance_document_id="PRV-2026-000000",
        provenance_document=StoredObject(key=provenance_key("PRV-2026-000000", "provenance.yaml"), sha256=zero),
        source_file_sha256=zero,
        receipt=StoredObject(key=BatchRef("bench", batch_id).receipt, sha256=zero),
        receipt_keep_until=datetime(2029, 1, 1, tzinfo=UTC).date(),
        gx=GxSummary(
            suite="bench",
            validation_run_id="bench",
            success=True,
            evaluated_expectations=0,
            successful_expectations=0,
            rules=[],
        ),
        previous=None,
    )
    target = home / BatchRef("bench", batch_id).manifest_header
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(header.model_dump_json(), encoding="utf-8")


def run_retention_bench(rows: int, out: Path) -> dict[str, object]:
    """Purge the same expired records from a store of N and of 10N records; the times should match."""
    from kakunin.layout import CERTIFICATES, closed_certificate_run
    from kakunin.yaml_io import json_bytes

    expired = max(1, rows // 4)
    env = {**os.environ, "KAKUNIN_HMAC_KEY": "b" * 64}
    runs = {}
    for label, size in (("N", rows), ("10N", 10 * rows)):
        home = out / f"retention-{label}"
        shutil.rmtree(home, ignore_errors=True)
        print(f"building a curated store of {size:,} records ({expired:,} expired) ...", flush=True)
        build = [
            sys.executable,
            "-m",
            "kakunin_dev.bench",
            "--build-store",
            str(home),
            "--rows",
            str(size),
            "--expired",
            str(expired),
        ]
        subprocess.run(build, check=True)
        argv = [sys.executable, "-m", "kakunin.cli", "retention", "run", "--as-of", "2021-01-01", "--json"]
        runs[label] = measure(f"purge, store of {size:,}", argv, rows=expired, env={**env, "KAKUNIN_HOME": str(home)})
        certificates = [
            p for p in (home / CERTIFICATES).glob("*.json") if closed_certificate_run(f"{CERTIFICATES}/{p.name}")
        ]
        purged = sum(json.loads(p.read_text(encoding="utf-8"))["purged_count"] for p in certificates)
        if purged != expired:
            raise SystemExit(f"retention bench: expected {expired:,} records purged, the certificate says {purged:,}")
        shutil.rmtree(home, ignore_errors=True)
    result = {
        "store_records": {"N": rows, "10N": 10 * rows},
        "expired_records": expired,
        "purge_N": asdict(runs["N"]),
        "purge_10N": asdict(runs["10N"]),
        "ratio_10N_to_N": round(runs["10N"].seconds / runs["N"].seconds, 2),
        "whole_partition_records_per_second": round(expired / runs["10N"].seconds),
    }
    (out / f"retention-{rows}.json").write_bytes(json_bytes(result))
    return result


def retention_report(result: dict[str, object]) -> str:
    n = cast(dict[str, Any], result["purge_N"])
    ten_n = cast(dict[str, Any], result["purge_10N"])
    sizes = cast(dict[str, int], result["store_records"])
    return "\n".join(
        [
            f"retention benchmark: {result['expired_records']:,} expired records in stores of "
            f"{sizes['N']:,} and {sizes['10N']:,}",
            f"  {n['name']:<32} {n['seconds']:8.2f} s  peak RSS {n['peak_rss_mib']:8.1f} MiB",
            f"  {ten_n['name']:<32} {ten_n['seconds']:8.2f} s  peak RSS {ten_n['peak_rss_mib']:8.1f} MiB",
            f"  ratio 10N/N: {result['ratio_10N_to_N']}   whole-partition purge: "
            f"{result['whole_partition_records_per_second']:,} records/s",
        ]
    )


def report(result: dict[str, object], out: Path) -> str:
    lines = [
        f"intake benchmark: {result['rows']:,} rows, {result['csv_mib']} MiB of CSV, {result['published']:,} published"
    ]
    for key in ("floor", "submit", "intake"):
        m = cast(dict[str, Any], result[key])
        lines.append(
            f"  {m['name']:<32} {m['seconds']:8.2f} s  {m['rows_per_second']:>12,} rows/s"
            f"  peak RSS {m['peak_rss_mib']:8.1f} MiB"
        )
    lines.append(
        f"  ratio intake/floor (time): {result['ratio_intake_to_floor']}   (RSS): {result['rss_ratio_intake_to_floor']}"
    )
    others = sorted(out.glob("intake-*.json"))
    by_rows = {json.loads(p.read_text())["rows"]: json.loads(p.read_text()) for p in others}
    if len(by_rows) > 1:
        smallest = min(by_rows)
        for rows_n, other in sorted(by_rows.items()):
            if rows_n != smallest:
                growth = other["intake"]["peak_rss_mib"] / by_rows[smallest]["intake"]["peak_rss_mib"]
                lines.append(f"  intake peak RSS at {rows_n:,} rows / at {smallest:,} rows: {growth:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kakunin_dev.bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--generate", type=Path, help="Only write the CSV to this path.")
    parser.add_argument("--build-store", type=Path, help="Only build a synthetic curated store here.")
    parser.add_argument("--expired", type=int, default=0)
    parser.add_argument("--only", choices=["intake", "retention"], default=None)
    args = parser.parse_args(argv)
    if args.generate is not None:
        generate_rows(args.generate, args.rows)
        return 0
    if args.build_store is not None:
        build_curated_store(args.build_store, records=args.rows, expired=args.expired)
        return 0
    if args.only in (None, "intake"):
        result = run(args.rows, args.out)
        print(report(result, args.out))
        print(f"written: {args.out / f'intake-{args.rows}.json'}")
    if args.only in (None, "retention"):
        print(retention_report(run_retention_bench(args.rows, args.out)))
        print(f"written: {args.out / f'retention-{args.rows}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
