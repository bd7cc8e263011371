"""Intake end to end, through the same steps the DAG runs, on both stores (a folder and S3 on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pytest

from kakunin.contracts import Registry
from kakunin.intake.context import InjectedFailure, IntakeContext
from kakunin.intake.run import run_batch
from kakunin.intake.steps import STEPS, publish
from kakunin.layout import CURATED, LANDING, MANIFESTS, WORK, BatchRef, batch_folder, gx_site_key, gx_validation_key
from kakunin.lineage.verify import verify
from kakunin.storage import ObjectStore
from tests.conftest import TODAY
from tests.intake.conftest import KEY, few_bad_rows, make_context
from tests.stores import holds_nothing, keys_like, keys_named, names_under, read_parquet, read_parquets, zone_bytes

Submit = Callable[..., BatchRef]


@pytest.fixture
def store(any_store: ObjectStore) -> ObjectStore:
    """Every test here runs on a folder and on S3 (`submit` lands its batches in this store)."""
    return any_store


def curated_table(store: ObjectStore):  # type: ignore[no-untyped-def]
    return read_parquets(store, keys_named(store, f"{CURATED}/", "part-*.parquet"))


def test_good_batches_are_published_with_lineage(
    store: ObjectStore, registry: Registry, submit: Submit, tmp_path: Path
) -> None:
    utf8 = submit()
    cp932 = submit(encoding="cp932", beyond_jis=True)
    ctx = make_context(store, registry)
    results = [run_batch(ref, ctx) for ref in (utf8, cp932)]
    assert [(r.decision, r.received, r.published, r.quarantined) for r in results] == [("published", 30, 30, 0)] * 2
    curated = curated_table(store)
    assert curated.num_rows == 60
    source = (tmp_path / "batches" / "b2" / "data.csv").read_bytes().decode("cp932")
    for character in "①髙㈱":
        assert character in source
        assert any(
            character in (v or "")
            for v in curated.column("address").to_pylist() + curated.column("name_kanji").to_pylist()
        )
    assert not keys_named(store, f"{LANDING}/", "*.csv"), "landing is cleared once lineage is written"
    assert not keys_named(store, f"{WORK}/", "*.parquet")
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert (report.manifests, report.records) == (2, 60)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_batch_published_in_chunks_has_ids_in_source_row_order(
    store: ObjectStore, registry: Registry, submit: Submit, workers: int
) -> None:
    """What lets `lineage trace` read one row group: manifest and curated rows sorted by record id; digested
    a few rows at a time, on one thread or several at once, every record keeps its own digests and subject
    index rows (keyed verify)."""
    ref = submit(**few_bad_rows())
    context = make_context(store, registry, chunk_rows=100, digest_rows=7, workers=workers)  # slices straddle chunks
    result = run_batch(ref, context)
    assert (result.published, result.quarantined) == (595, 5)
    report = verify(store, today=TODAY, key=KEY, contract_for=registry.contract)
    assert report.intact, report.problems  # each record's digest and subject index rows are its own
    assert report.records == 595
    manifest = read_parquet(store, keys_named(store, f"{MANIFESTS}/", "manifest.parquet")[0])
    ids, rows = manifest.column("record_id").to_pylist(), manifest.column("source_row").to_pylist()
    assert rows == sorted(rows)
    assert ids == sorted(ids)
    assert len(set(ids)) == 595
    curated = curated_table(store)
    assert curated.column("record_id").to_pylist() == ids


def test_a_few_bad_rows_are_quarantined_and_the_rest_published(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit(**few_bad_rows())
    result = run_batch(ref, make_context(store, registry))
    assert (result.decision, result.received, result.published, result.quarantined) == ("published", 600, 595, 5)
    failed = read_parquet(store, ref.quarantine("failed_rows.parquet")).to_pylist()
    assert [(r["_source_row"], r["failed"]) for r in failed] == [
        (10, ["expect_column_values_to_be_jp_postal_code:postal_code"]),
        (20, ["parse.value:birth_date"]),
        (30, ["expect_column_values_to_be_unique:customer_no"]),
        (31, ["expect_column_values_to_be_unique:customer_no"]),
        (40, ["expect_column_values_to_be_full_width_katakana:name_kana"]),
    ]
    manifest = read_parquet(store, keys_named(store, f"{MANIFESTS}/", "manifest.parquet")[0])
    assert sorted(set(range(1, 601)) - set(manifest.column("source_row").to_pylist())) == [10, 20, 30, 31, 40]
    assert store.exists(gx_site_key(ref.dataset, "index.html"))
    assert store.exists(gx_validation_key(ref))
    spoiled_value = failed[0]["postal_code"]
    assert spoiled_value.encode() not in zone_bytes(store, "reports"), "Data Docs must not show values"


@pytest.mark.parametrize(
    ("options", "code", "stage"),
    [
        pytest.param(
            {"data_mutation": lambda p: p.write_bytes(p.read_bytes().replace(b",phone", b",tel", 1))},
            "parse.schema",
            "parse",
            id="renamed-column",
        ),
        pytest.param(
            {"data_mutation": lambda p: p.write_bytes(p.read_bytes() + "C9999999,山田".encode("cp932"))},
            "parse.encoding",
            "parse",
            id="mixed-encoding",
        ),
        pytest.param(
            {"data_mutation": lambda p: p.write_bytes(p.read_bytes().replace(b"@", b"#"))},
            "accuracy.threshold",
            "accuracy",
            id="bad-emails",
        ),
        pytest.param(
            {"data_mutation": lambda p: p.write_bytes(p.read_bytes().split(b"\r\n")[0] + b"\r\n")},
            "parse.schema",
            "parse",
            id="header-only",
        ),
    ],
)
def test_a_batch_that_cannot_be_taken_goes_to_quarantine_whole(
    store: ObjectStore, registry: Registry, submit: Submit, options: dict[str, object], code: str, stage: str
) -> None:
    ref = submit(**options)
    result = run_batch(ref, make_context(store, registry))
    assert result.decision == f"rejected ({stage})"
    assert result.codes == [code]
    kept = names_under(store, ref.quarantine())
    assert {"data.csv", "provenance.yaml", "rejection.json", "evidence"} <= kept
    assert holds_nothing(store, batch_folder(ref, LANDING))
    assert curated_table(store) is None
    rejection = json.loads(store.get_bytes(ref.rejection).decode("utf-8"))
    assert rejection["stage"] == stage


def _curated_names(store: ObjectStore) -> list[str]:
    return sorted(key.rsplit("/", 1)[-1] for key in keys_named(store, f"{CURATED}/", "*.parquet"))


def _run_steps(ref: BatchRef, ctx: IntakeContext) -> None:
    for _, step in STEPS:
        step(ref, ctx)


def test_a_retried_publish_adds_nothing(store: ObjectStore, registry: Registry, submit: Submit) -> None:
    ref = submit()
    ctx = make_context(store, registry, fail_after={"publish-files"})
    with pytest.raises(InjectedFailure):
        _run_steps(ref, ctx)
    files_before = _curated_names(store)
    ctx.fail_after.clear()
    assert publish(ref, ctx).status == "done"
    assert publish(ref, ctx).status == "already done"
    assert _curated_names(store) == files_before
    run_batch(ref, ctx)
    curated = curated_table(store)
    assert curated.num_rows == 30
    assert pc.count_distinct(curated.column("record_id")).as_py() == 30
    assert verify(store, today=TODAY).intact


def test_a_crash_between_publish_and_lineage_is_repaired_by_a_rerun(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit()
    ctx = make_context(store, registry, fail_after={"publish"})
    with pytest.raises(InjectedFailure):
        run_batch(ref, ctx)
    broken = verify(store, today=TODAY)
    assert not broken.intact
    assert any("no manifest" in p.message for p in broken.problems)
    ctx.fail_after.clear()
    result = run_batch(ref, ctx)
    assert (result.decision, result.published) == ("published", 30)
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert report.records == 30


def test_a_crash_after_lineage_before_cleanup_does_not_link_twice(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit()
    ctx = make_context(store, registry, fail_after={"lineage-written"})
    with pytest.raises(InjectedFailure):
        run_batch(ref, ctx)
    ctx.fail_after.clear()
    run_batch(ref, ctx)
    report = verify(store, today=TODAY)
    assert report.intact, report.problems
    assert report.manifests == 1


def test_no_personal_data_in_lineage_or_audit(store: ObjectStore, registry: Registry, submit: Submit) -> None:
    ref = submit()
    run_batch(ref, make_context(store, registry))
    curated = curated_table(store)
    lineage = zone_bytes(store, "lineage") + zone_bytes(store, "audit")
    for column in ("customer_no", "name_kanji", "email", "phone", "address"):
        for value in curated.column(column).to_pylist()[:10]:
            assert value.encode() not in lineage, f"{column} value found in lineage/audit"


def test_the_receipt_record_is_written_and_kept_three_years(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit()
    run_batch(ref, make_context(store, registry))
    receipt = json.loads(store.get_bytes(ref.receipt).decode("utf-8"))
    assert receipt["provider"]["legal_name"] == "株式会社サンプルデータ"
    assert receipt["kind"] == "kakunin.receipt/v2"
    assert receipt["acquisition"]["method"] == "web_form"
    assert receipt["subject_key_columns"] == ["customer_no"]
    created = receipt["created_at"][:10]
    assert receipt["keep_until"] == f"{int(created[:4]) + 3}{created[4:]}"
    assert receipt["records"] == 30


def test_a_crash_while_rejecting_is_finished_by_the_next_run(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit(data_mutation=lambda p: p.write_bytes(p.read_bytes().replace(b",phone", b",tel", 1)))
    ctx = make_context(store, registry, fail_after={"rejection-written"})
    with pytest.raises(InjectedFailure):
        run_batch(ref, ctx)
    ctx.fail_after.clear()
    result = run_batch(ref, ctx)
    assert result.decision == "rejected (parse)"
    assert holds_nothing(store, batch_folder(ref, LANDING))
    assert store.exists(ref.quarantine("data.csv"))
    assert store.exists(ref.quarantine("_submission.json"))


def test_a_malformed_row_is_rejected_without_quoting_it(store: ObjectStore, registry: Registry, submit: Submit) -> None:
    personal = "山田 秘密子,extra,fields"
    ref = submit(data_mutation=lambda p: p.write_bytes(p.read_bytes() + f"C0000099,{personal}\r\n".encode()))
    result = run_batch(ref, make_context(store, registry))
    assert result.codes == ["parse.schema"]
    rejection = store.get_bytes(ref.rejection).decode("utf-8")
    assert "Expected 10 columns" in rejection
    assert "秘密子" not in rejection


def _trailing_newlines(path: Path) -> None:
    """Row 2 repeats row 1's customer number with a newline after it; rows 3 and 4 end email and postal code so."""
    import csv
    import io

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = {name: i for i, name in enumerate(rows[0])}
    rows[2][column["customer_no"]] = rows[1][column["customer_no"]] + "\n"
    rows[3][column["email"]] += "\n"
    rows[4][column["postal_code"]] += "\n"
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def test_a_trailing_newline_in_a_quoted_value_fails_its_rule_and_uniqueness(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit(rows=600, data_mutation=_trailing_newlines)
    result = run_batch(ref, make_context(store, registry))
    assert (result.decision, result.received, result.published, result.quarantined) == ("published", 600, 596, 4)
    failed = read_parquet(store, ref.quarantine("failed_rows.parquet"))
    rules = dict(zip(failed.column("_source_row").to_pylist(), failed.column("failed").to_pylist(), strict=True))
    assert sorted(rules[1]) == ["expect_column_values_to_be_unique:customer_no"]
    assert sorted(rules[2]) == [
        "expect_column_values_to_be_unique:customer_no",
        "expect_column_values_to_match_regex:customer_no",
    ]
    assert rules[3] == ["expect_column_values_to_be_email_address:email"]
    assert rules[4] == ["expect_column_values_to_be_jp_postal_code:postal_code"]
    digests = read_parquet(store, keys_named(store, "lineage/", "manifest.parquet")[0]).column("subject_digest")
    assert len(pc.unique(digests)) == len(digests), "no two published records share a subject digest"


def _decomposed_kana(path: Path) -> None:
    """Row 1's name_kana written with combining dakuten (NFD), as some Mac exports do."""
    import csv
    import io
    import unicodedata

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index("name_kana")] = unicodedata.normalize("NFD", "ガギグ　ゲゴ")
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def test_decomposed_text_is_published_as_nfc(store: ObjectStore, registry: Registry, submit: Submit) -> None:
    ref = submit(data_mutation=_decomposed_kana)
    result = run_batch(ref, make_context(store, registry))
    assert (result.decision, result.published, result.quarantined) == ("published", 30, 0)
    assert "ガギグ　ゲゴ" in curated_table(store).column("name_kana").to_pylist()


def _evidence_as(renames: dict[int, str]) -> Callable[[dict[str, object], Path], None]:
    """Rename evidence files (by index) and, where the new name has no folder, cite it spelled as given."""

    def mutate(doc: dict[str, object], batch: Path) -> None:
        entries: list[dict[str, str]] = doc["evidence"]  # type: ignore[assignment]
        for index, spelled in renames.items():
            target = batch / Path(spelled.replace("//", "/"))
            (batch / entries[index]["file"]).rename(target)
            entries[index]["file"] = spelled

    return mutate


@pytest.mark.parametrize(
    "renames",
    [
        pytest.param({0: "./evidence/contract-2026.pdf", 2: "evidence//dpa.pdf"}, id="dot-and-double-slash"),
        pytest.param({0: "evidence/契約書2026.pdf", 2: "evidence/contract (signed).pdf"}, id="names-outside-keys"),
    ],
)
def test_evidence_paths_as_people_write_them_pass_the_gate_and_do_not_block_others(
    store: ObjectStore, registry: Registry, submit: Submit, renames: dict[int, str]
) -> None:
    unusual = submit(mutation=_evidence_as(renames))
    ordinary = submit()
    ctx = make_context(store, registry)
    results = [run_batch(ref, ctx) for ref in (unusual, ordinary)]
    assert [(r.decision, r.published) for r in results] == [("published", 30)] * 2
    indexes = keys_like(store, "provenance/*/evidence.json")
    assert len(indexes) == 2
    for index in indexes:  # each accepted document keeps the evidence files its index names, by content
        evidence = json.loads(store.get_bytes(index).decode("utf-8"))
        stored = sorted(names_under(store, index.removesuffix(".json")))
        assert sorted(e["sha256"] for e in evidence) == stored
    assert verify(store, today=TODAY).intact


def test_changed_evidence_in_landing_is_landing_tampered(
    store: ObjectStore, registry: Registry, submit: Submit
) -> None:
    ref = submit()
    landed = next(iter(store.list_keys(ref.landing("evidence") + "/")))
    store.put_bytes(landed, b"%PDF-1.4 swapped\n")
    result = run_batch(ref, make_context(store, registry))
    assert result.decision.startswith("rejected")
    rejection = json.loads(store.get_bytes(ref.rejection).decode("utf-8"))
    assert "landing.tampered" in {f["code"] for f in rejection["findings"]}
