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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

GENERATOR_VERSION = 2
HMAC_KEY = "b" * 64


def _child_env() -> dict[str, str]:
    """The environment of every measured process: compiled bytecode is kept, as in a deployment.

    With PYTHONDONTWRITEBYTECODE every process compiles every module again (3 s of a 4 s trace).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("KAKUNIN_HMAC_KEY", None)
    return env


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
    env = {**_child_env(), "KAKUNIN_HOME": str(home), "KAKUNIN_HMAC_KEY": HMAC_KEY}
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
    kept = out / f"store-{rows}"  # the verify bench's store: a real intake's lineage
    shutil.rmtree(kept, ignore_errors=True)
    home.rename(kept)
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


def build_curated_store(home: Path, *, records: int, expired: int) -> None:
    """A store of `records` records, `expired` of them in partitions that have expired by 2021-01-01.

    Built directly (`build_lineage_store`: manifests, curated files, headers, chain) so that ten
    million records take seconds: batches of at most 500,000 records, the expired ones in 2020
    partitions, the rest spread over 2030-2034; digests constant (retention never reads them).
    """
    per_batch = 500_000
    batches = [(min(per_batch, expired - start), date(2020, 6, 15)) for start in range(0, expired, per_batch)]
    kept = records - expired
    for number, start in enumerate(range(0, kept, per_batch)):
        year, month_index = divmod(2030 * 12 + number % 60, 12)
        batches.append((min(per_batch, kept - start), date(year, month_index + 1, 15)))
    build_lineage_store(home, batches=batches, random_digests=False)


def synthetic_header(
    batch_id: str,
    *,
    sequence: int,
    records: int,
    manifest_sha256: str | None = None,
    curated_files: list[Any] | None = None,
    previous: str | None = None,
) -> Any:
    """The manifest header of a synthetic `bench` batch (zeros for every hash the bench does not check)."""
    from kakunin.layout import BatchRef, provenance_key
    from kakunin.lineage.formats import Counts, GxSummary, ManifestHeader, StoredObject

    zero = "0" * 64
    return ManifestHeader(
        manifest_id=batch_id,
        sequence=sequence,
        dataset="bench",
        batch_id=batch_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        dag_run_id=None,
        code_version="bench",
        counts=Counts(received=records, published=records, quarantined=0),
        retention_clock_fallbacks=0,
        manifest_parquet_sha256=manifest_sha256 or zero,
        curated_files=curated_files or [],
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
        previous=previous,
    )


def lineage_batches(rows: int, batch_rows: int = 500_000) -> list[tuple[int, date]]:
    """`rows` records in batches of `batch_rows`, all kept until 2031-01-15 (live records for trace)."""
    return [(min(batch_rows, rows - start), date(2031, 1, 15)) for start in range(0, rows, batch_rows)]


def build_lineage_store(home: Path, *, batches: list[tuple[int, date]], random_digests: bool = True) -> list[str]:
    """A store whose manifest chain links one batch per (records, retention_until); one id per batch back.

    Built directly (not through intake) so ten million rows take seconds, in the shapes intake
    writes (`intake.manifest.write_lineage`): manifest.parquet (MANIFEST_SCHEMA) with a row group
    per 250,000-row chunk, each batch's record ids UUIDv7s of its own millisecond, a curated file
    holding the records, the header pinning both and the previous header, and a chain link pinning
    the header. The ids returned are each batch's middle row, live records a trace must find.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kakunin.hashing import sha256_bytes, sha256_file
    from kakunin.intake.records import uuid7_strings
    from kakunin.layout import MANIFEST_CHAIN, BatchRef
    from kakunin.lineage import seal
    from kakunin.lineage.chain import Chain
    from kakunin.lineage.formats import MANIFEST_SCHEMA, ChainLink, StoredObject
    from kakunin.lineage.lookup import LOOKUP_ROW_GROUP_ROWS
    from kakunin.storage import LocalStore
    from kakunin.yaml_io import dump_json

    store = LocalStore(home)
    zero = "0" * 64
    middle_ids: list[str] = []
    previous_header: str | None = None
    start = 0
    for number, (n, kept_until) in enumerate(batches, start=1):
        batch_id = f"20260101T000000{number:06d}Z-00000000"
        ref = BatchRef("bench", batch_id)
        rows = np.arange(2, n + 2, dtype=np.int64)  # source rows, the id counter as intake stamps it
        ids = uuid7_strings(n, unix_ms=1_764_140_000_000 + 1000 * number, sequence=rows)
        middle_ids.append(str(ids[n // 2].as_py()))
        curated_key = ref.curated(kept_until.strftime("%Y-%m"))
        until = pa.nulls(n, pa.date32()).fill_null(pa.scalar(kept_until, pa.date32()))
        curated_path = home / curated_key
        curated_path.parent.mkdir(parents=True, exist_ok=True)
        customer = pa.array(np.char.add("C", np.arange(start, start + n).astype(str)))
        curated = pa.table({"record_id": ids, "customer_no": customer})
        curated = curated.append_column("retention_until", until)
        pq.write_table(curated, curated_path, compression="zstd", row_group_size=LOOKUP_ROW_GROUP_ROWS)
        text = pa.nulls(n, pa.string())
        columns = {
            "record_id": ids,
            "dataset": text.fill_null("bench"),
            "batch_id": text.fill_null(batch_id),
            "source_file_sha256": text.fill_null(zero),
            "source_row": pa.array(rows),
            "provenance_document_id": text.fill_null("PRV-2026-000000"),
            "provenance_sha256": text.fill_null(zero),
            "purposes": pa.ListArray.from_arrays(
                pa.array(np.arange(n + 1, dtype=np.int32)), text.fill_null("marketing")
            ),
            "legal_ground": text.fill_null("consent"),
            "received_on": pa.nulls(n, pa.date32()).fill_null(pa.scalar(datetime(2026, 1, 1).date(), pa.date32())),
            "retention_until": until,
            "record_digest": _hex_digests(n) if random_digests else text.fill_null(zero),  # random weigh on reads
            "subject_digest": _hex_digests(n) if random_digests else text.fill_null(zero),
            "curated_file": text.fill_null(curated_key),
            "validation_run_id": text.fill_null("bench"),
            "retention_clock": text.fill_null("received_on"),
            "client": text,
            "return_by": pa.nulls(n, pa.date32()),
        }
        manifest_path = home / ref.manifest_parquet
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.table([columns[f.name] for f in MANIFEST_SCHEMA], schema=MANIFEST_SCHEMA)
        with pq.ParquetWriter(manifest_path, MANIFEST_SCHEMA, compression="zstd") as writer:
            for chunk in table.to_batches(max_chunksize=250_000):  # intake writes a chunk at a time
                writer.write_table(pa.Table.from_batches([chunk]), row_group_size=LOOKUP_ROW_GROUP_ROWS)
        header = synthetic_header(
            batch_id,
            sequence=number,
            records=n,
            manifest_sha256=sha256_file(manifest_path),
            curated_files=[StoredObject(key=curated_key, sha256=sha256_file(curated_path), rows=n)],
            previous=previous_header,
        )
        data = dump_json(header)
        store.put_bytes(ref.manifest_header, data)
        previous_header = sha256_bytes(data)

        def link(
            sequence: int, previous: str | None, key: str = ref.manifest_header, sha: str = sha256_bytes(data)
        ) -> bytes:
            return seal.entry_bytes(
                ChainLink(sequence=sequence, previous=previous, header_key=key, header_sha256=sha), None
            )

        Chain(store, MANIFEST_CHAIN).append(link)
        start += n
    return middle_ids


RETENTION_REPEATS = 3


def run_retention_bench(rows: int, out: Path, *, repeats: int = RETENTION_REPEATS) -> dict[str, object]:
    """Purge the same expired records from a store of N and of 10N records; the times should match.

    A purge of a million records takes seconds, so one run each is at the mercy of whatever else the
    machine does: each store is built once and kept pristine, and each run purges a fresh copy of it,
    N and 10N alternating, `repeats` times; the figures are the medians (peak RSS: the largest)."""
    from kakunin.layout import CERTIFICATES, closed_certificate_run
    from kakunin.yaml_io import json_bytes

    expired = max(1, rows // 4)
    env = {**_child_env(), "KAKUNIN_HMAC_KEY": HMAC_KEY}
    sizes = {"N": rows, "10N": 10 * rows}
    pristine = {label: out / f"retention-{label}.pristine" for label in sizes}
    for label, size in sizes.items():
        shutil.rmtree(pristine[label], ignore_errors=True)
        print(f"building a curated store of {size:,} records ({expired:,} expired) ...", flush=True)
        build = [
            sys.executable,
            "-m",
            "kakunin_dev.bench",
            "--build-store",
            str(pristine[label]),
            "--rows",
            str(size),
            "--expired",
            str(expired),
        ]
        subprocess.run(build, check=True)
    runs: dict[str, list[Measurement]] = {label: [] for label in sizes}
    argv = [sys.executable, "-m", "kakunin.cli", "retention", "run", "--as-of", "2021-01-01", "--json"]
    for _ in range(repeats):
        for label, size in sizes.items():
            home = out / f"retention-{label}"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(pristine[label], home, symlinks=True)
            name = f"purge, store of {size:,}"
            runs[label].append(measure(name, argv, rows=expired, env={**env, "KAKUNIN_HOME": str(home)}))
            certificates = [
                p for p in (home / CERTIFICATES).glob("*.json") if closed_certificate_run(f"{CERTIFICATES}/{p.name}")
            ]
            purged = sum(json.loads(p.read_text(encoding="utf-8"))["purged_count"] for p in certificates)
            if purged != expired:
                raise SystemExit(f"retention bench: expected {expired:,} records purged, certificates say {purged:,}")
            shutil.rmtree(home, ignore_errors=True)
    for path in pristine.values():
        shutil.rmtree(path, ignore_errors=True)
    medians = {
        label: Measurement(
            name=measured[0].name,
            seconds=_median([m.seconds for m in measured]),
            peak_rss_mib=max(m.peak_rss_mib for m in measured),
            rows=expired,
        )
        for label, measured in runs.items()
    }
    result = {
        "store_records": sizes,
        "expired_records": expired,
        "repeats": repeats,
        "seconds": {label: [round(m.seconds, 3) for m in measured] for label, measured in runs.items()},
        "purge_N": asdict(medians["N"]),
        "purge_10N": asdict(medians["10N"]),
        "ratio_10N_to_N": round(medians["10N"].seconds / medians["N"].seconds, 2),
        "whole_partition_records_per_second": round(expired / medians["10N"].seconds),
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
            f"{sizes['N']:,} and {sizes['10N']:,} (medians of {result.get('repeats', 1)} runs each)",
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


def _hex_digests(count: int) -> Any:
    """`count` random 64-hex-digit strings, as Arrow builds them from bytes (no Python loop)."""
    import numpy as np
    import pyarrow as pa

    raw = np.frombuffer(os.urandom(32 * count), dtype=np.uint8).reshape(count, 32)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((count, 64), dtype=np.uint8)
    text[:, 0::2] = digits[raw >> 4]
    text[:, 1::2] = digits[raw & 0x0F]
    offsets = np.arange(0, 64 * (count + 1), 64, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())])


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


TRACE_SIZES = {"1M": 1_000_000, "10M": 10_000_000}
TRACE_REPEATS = 5


def run_trace_bench(out: Path, *, sizes: dict[str, int] | None = None, repeats: int = TRACE_REPEATS) -> dict[str, Any]:
    """`kakunin lineage trace ID` as a whole process against stores of 1M and 10M manifest rows; the median.

    The id is a live record of the middle batch; the answer must say it is live (an unknown id
    takes another path). The stores are built once and kept under `out` (the build is not timed).
    """
    from kakunin.yaml_io import json_bytes

    sizes = sizes or TRACE_SIZES
    runs: dict[str, Any] = {}
    for label, rows in sizes.items():
        home = out / f"trace-{label}"
        ids_file = out / f"trace-{label}.ids.json"
        if not ids_file.is_file():
            shutil.rmtree(home, ignore_errors=True)
            print(f"building a lineage store of {rows:,} manifest rows ...", flush=True)
            build = [sys.executable, "-m", "kakunin_dev.bench", "--build-lineage", str(home), "--rows", str(rows)]
            subprocess.run(build, check=True, env=_child_env())
        ids = json.loads(ids_file.read_text(encoding="utf-8"))
        record_id = ids[len(ids) // 2]
        env = {**_child_env(), "KAKUNIN_HOME": str(home)}
        argv = [sys.executable, "-m", "kakunin.cli", "lineage", "trace", record_id, "--json"]
        subprocess.run(argv, check=True, env=env, capture_output=True)  # warm the page cache and the bytecode
        seconds: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            stdout, stderr = process.communicate()
            seconds.append(time.perf_counter() - started)
            if process.returncode != 0:
                raise SystemExit(f"trace failed at {label}: {stderr.decode(errors='replace')[-2000:]}")
            answer = json.loads(stdout)
            if answer["record_id"] != record_id or answer["status"] != "live":
                raise SystemExit(f"trace at {label} did not find {record_id} live: {answer.get('status_text')}")
        runs[label] = {
            "manifest_rows": rows,
            "batches": len(ids),
            "record_id": record_id,
            "seconds": seconds,
            "median_seconds": round(_median(seconds), 3),
            "status": "live",
        }
    small, large = list(sizes)
    result = {
        "stores": runs,
        "trace_seconds_large": runs[large]["median_seconds"],
        "ratio_large_to_small": round(runs[large]["median_seconds"] / runs[small]["median_seconds"], 2),
    }
    (out / "trace.json").write_bytes(json_bytes(result))
    return result


def _store_files(home: Path) -> list[Path]:
    """The files `lineage verify` hashes: curated data, the lineage (manifests, receipts, chains), provenance."""
    from kakunin.layout import CURATED, PROVENANCE

    roots = [home / CURATED, home / "lineage", home / PROVENANCE]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file())


def run_verify_bench(rows: int, out: Path, *, repeats: int = 3) -> dict[str, Any]:
    """`kakunin lineage verify` (keyless, then keyed) as a process, against `sha256sum` of the same files.

    The store is the intake bench's (a real intake of `rows` rows); without one, submit + intake
    make it first (untimed). Throughput ratio = (bytes / verify s) / (bytes / sha256sum s).
    """
    from kakunin.yaml_io import json_bytes

    home = out / f"store-{rows}"
    if not (home / "lineage").is_dir():
        print(f"making a store of {rows:,} rows for verify (submit + intake, untimed) ...", flush=True)
        run(rows, out)
    files = _store_files(home)
    size = sum(p.stat().st_size for p in files)
    base = {**_child_env(), "KAKUNIN_HOME": str(home)}
    keyed_env = {**base, "KAKUNIN_HMAC_KEY": HMAC_KEY}
    verify = [sys.executable, "-m", "kakunin.cli", "lineage", "verify", "--json"]
    sha = ["sha256sum", "--", *map(str, files)]
    timings: dict[str, list[float]] = {"sha256sum": [], "verify keyless": [], "verify keyed": []}
    subprocess.run(sha, check=True, capture_output=True)  # the page cache warm for all three alike
    for _ in range(repeats):
        for name, argv, env in (
            ("sha256sum", sha, base),
            # --keyless, with the key still set: hashes only, while its own audit entry is sealed as intake's
            # are (a keyless process would append an unsealed entry that the keyed run then rightly reports)
            ("verify keyless", [*verify, "--keyless"], keyed_env),
            ("verify keyed", verify, keyed_env),
        ):
            started = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True)
            timings[name].append(time.perf_counter() - started)
            if name != "sha256sum" and not json.loads(done.stdout).get("intact"):
                raise SystemExit(f"{name}: the intake store is not intact:\n{done.stdout.decode()[-2000:]}")
            if name == "sha256sum" and done.returncode != 0:
                raise SystemExit(f"sha256sum failed: {done.stderr.decode()[-2000:]}")
    medians = {name: _median(values) for name, values in timings.items()}
    result = {
        "rows": rows,
        "files": len(files),
        "bytes": size,
        "seconds": {name: round(value, 3) for name, value in medians.items()},
        "mib_per_second": {name: round(size / (1 << 20) / value, 1) for name, value in medians.items()},
        "ratio_keyless": round(medians["sha256sum"] / medians["verify keyless"], 3),
        "ratio_keyed": round(medians["sha256sum"] / medians["verify keyed"], 3),
    }
    (out / f"verify-{rows}.json").write_bytes(json_bytes(result))
    return result


@dataclass(frozen=True)
class Row:
    """One line of the `make bench` table."""

    measure: str
    figure: float | None
    unit: str
    target: str
    within: bool | None  # None: not measured in this run

    def cells(self) -> list[str]:
        figure = "-" if self.figure is None else f"{self.figure:,.2f}{self.unit}"
        verdict = "-" if self.within is None else ("yes" if self.within else "MISSED")
        return [self.measure, figure, self.target, verdict]


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def table_rows(results: dict[str, Any]) -> list[Row]:
    """The issue's table from a run's results (parts not run show `-`): figure, target, within it or not."""
    intake, quarter = results.get("intake"), results.get("intake_quarter")
    retention, trace, verify = results.get("retention"), results.get("trace"), results.get("verify")
    ratio = peak = growth = None
    if intake:
        ratio = (intake["submit"]["seconds"] + intake["intake"]["seconds"]) / intake["floor"]["seconds"]
        peak = max(intake["submit"]["peak_rss_mib"], intake["intake"]["peak_rss_mib"]) / 1024
    if intake and quarter:
        quarter_peak = max(quarter["submit"]["peak_rss_mib"], quarter["intake"]["peak_rss_mib"]) / 1024
        growth = (peak or 0.0) / quarter_peak
    purge = retention["ratio_10N_to_N"] if retention else None
    trace_s = trace["trace_seconds_large"] if trace else None
    trace_ratio = trace["ratio_large_to_small"] if trace else None
    keyless = verify["ratio_keyless"] if verify else None
    keyed = verify["ratio_keyed"] if verify else None
    return [
        Row("submit + intake, whole processes / floor", ratio, "×", "≤ 4", _at_most(ratio, 4)),
        Row("peak RSS of any process, N", peak, " GiB", "≤ 1 GiB", _at_most(peak, 1.0)),
        Row("peak RSS at N / at N/4", growth, "×", "≤ 1.1", _at_most(growth, 1.1)),
        Row("retention purge, 10N store / N store", purge, "×", "≤ 1.2", _at_most(purge, 1.2)),
        Row("lineage trace, 10M manifest rows", trace_s, " s", "≤ 1 s", _at_most(trace_s, 1.0)),
        Row("lineage trace, 10M / 1M", trace_ratio, "×", "≤ 1.5", _at_most(trace_ratio, 1.5)),
        Row("lineage verify (keyless) / sha256sum", keyless, "×", "≥ 0.5", _at_least(keyless, 0.5)),
        Row("lineage verify (keyed) / sha256sum", keyed, "×", "≥ 0.5", _at_least(keyed, 0.5)),
    ]


def table_text(rows: list[Row], *, cores: int, n: int) -> str:
    """The table as printed: cores and N on top, a column per cell, MISSED where a target was missed."""
    header = ["measure", "figure", "target", "within target"]
    lines = [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in [header, *lines]) for i in range(len(header))]
    text = [f"make bench: N = {n:,} rows, {cores} cores (os.cpu_count())"]
    text += [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *lines]
    ]
    missed = [r.measure for r in rows if r.within is False]
    text.append(
        f"MISSED: {len(missed)} target(s): {'; '.join(missed)}" if missed else "every measured row within target"
    )
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    from kakunin.yaml_io import json_bytes

    parser = argparse.ArgumentParser(prog="python -m kakunin_dev.bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--generate", type=Path, help="Only write the CSV to this path.")
    parser.add_argument("--build-store", type=Path, help="Only build a synthetic curated store here.")
    parser.add_argument("--build-lineage", type=Path, help="Only build a synthetic lineage store (trace) here.")
    parser.add_argument("--expired", type=int, default=0)
    parser.add_argument("--only", choices=["intake", "retention", "trace", "verify"], default=None)
    args = parser.parse_args(argv)
    if args.generate is not None:
        generate_rows(args.generate, args.rows)
        return 0
    if args.build_store is not None:
        build_curated_store(args.build_store, records=args.rows, expired=args.expired)
        return 0
    if args.build_lineage is not None:
        ids = build_lineage_store(args.build_lineage, batches=lineage_batches(args.rows))
        ids_file = args.build_lineage.with_name(f"{args.build_lineage.name}.ids.json")
        ids_file.write_text(json.dumps(ids), encoding="utf-8")
        return 0
    results: dict[str, Any] = {"rows": args.rows, "cores": os.cpu_count(), "at": datetime.now(UTC).isoformat()}
    if args.only in (None, "intake"):
        results["intake_quarter"] = run(max(1, args.rows // 4), args.out)
        results["intake"] = run(args.rows, args.out)
        print(report(results["intake"], args.out))
    if args.only in (None, "retention"):
        results["retention"] = run_retention_bench(args.rows, args.out)
        print(retention_report(results["retention"]))
    if args.only in (None, "trace"):
        results["trace"] = run_trace_bench(args.out)
    if args.only in (None, "verify"):
        results["verify"] = run_verify_bench(args.rows, args.out)
    rows = table_rows(results)
    results["table"] = [asdict(r) for r in rows]
    written = args.out / f"bench-{args.rows}.json"
    written.write_bytes(json_bytes(results))
    print()
    print(table_text(rows, cores=os.cpu_count() or 1, n=args.rows))
    print(f"written: {written} (and the per-part JSON files beside it)")
    return 0  # it measures; it does not fail: a missed target says MISSED above


if __name__ == "__main__":
    sys.exit(main())
