"""GX Data Docs for two batches, read as a person would: asset, run time, index, rules in words, offline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kakunin.intake.accuracy import evaluate
from kakunin.intake.data_docs import publish_data_docs
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore
from tests.conftest import RECEIVED_ON
from tests.intake.gx_cases import BAD_POSTAL, GOOD_POSTAL, write_conformed, write_suite

SUITE = [
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "customer_no"}},
    {"type": "expect_column_values_to_be_jp_postal_code", "kwargs": {"column": "postal_code"}},
    {"type": "expect_column_values_to_be_full_width_katakana", "kwargs": {"column": "name_kana"}},
]
FIRST = BatchRef("jp_customer_leads", "20261127T010000000000Z-0000aaaa")
SECOND = BatchRef("jp_customer_leads", "20261127T020000000000Z-0000bbbb")
RUN_TIMES = {FIRST: datetime(2026, 11, 27, 1, 2, 3, tzinfo=UTC), SECOND: datetime(2026, 11, 27, 2, 4, 6, tzinfo=UTC)}
PRIVATE_NAME = "ひみつ"  # a value that fails the katakana rule: it must appear nowhere in the reports


def _publish(tmp_path: Path, store: LocalStore, ref: BatchRef, run_time: datetime) -> str | None:
    folder = tmp_path / ref.batch_id
    folder.mkdir(exist_ok=True)
    conformed = write_conformed(
        folder / "conformed.parquet",
        {
            "customer_no": ["C0000001", "C0000002", "C0000003"],
            "postal_code": [GOOD_POSTAL, BAD_POSTAL, GOOD_POSTAL],
            "name_kana": ["ヤマダ", PRIVATE_NAME, "スズキ"],
        },
    )
    _, summary, runner = evaluate(
        conformed,
        suite_path=write_suite(folder, SUITE, name="jp_customer_leads.accuracy"),
        received_on=RECEIVED_ON,
        max_failed_row_ratio=1.0,
        run_name=ref.batch_id,
        chunk_rows=2,
    )
    return publish_data_docs(store, ref, runner, summary, run_time=run_time)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[BatchRef, str]]:
    tmp_path = tmp_path_factory.mktemp("docs")
    store = LocalStore(tmp_path / "store")
    pages = {}
    for ref, run_time in RUN_TIMES.items():
        page = _publish(tmp_path, store, ref, run_time)
        assert page is not None
        pages[ref] = page
    return store.root, pages


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_each_page_names_its_data_asset_and_run_time(site: tuple[Path, dict[BatchRef, str]]) -> None:
    root, pages = site
    for ref, key in pages.items():
        text = _text((root / key).read_text(encoding="utf-8"))
        assert f"Data asset: {ref.dataset}/{ref.batch_id}" in text
        assert f"Run Time {RUN_TIMES[ref]:%Y-%m-%dT%H:%M:%SZ}" in text
        assert "__none__" not in text
        assert "Data asset: None" not in text


def test_the_index_links_every_batch_page(site: tuple[Path, dict[BatchRef, str]]) -> None:
    root, pages = site
    index = root / "reports/gx/jp_customer_leads/index.html"
    html = index.read_text(encoding="utf-8")
    links = set(re.findall(r'href="(validations/[^"]+)"', html))
    assert links == {key.removeprefix("reports/gx/jp_customer_leads/") for key in pages.values()}
    for link in links:
        assert (index.parent / link).is_file()
    for ref in pages:
        assert f"{ref.dataset}/{ref.batch_id}" in _text(html)


def test_the_custom_rules_read_in_words(site: tuple[Path, dict[BatchRef, str]]) -> None:
    root, pages = site
    text = _text((root / pages[FIRST]).read_text(encoding="utf-8"))
    assert "values must be Japanese postal codes (NNN-NNNN)." in text
    assert "values must be full-width katakana" in text
    assert "1 of 3 rows (≈33.33%) are not Japanese postal codes (NNN-NNNN)." in text
    assert "regular expression" not in text


def test_the_site_loads_nothing_from_the_network(site: tuple[Path, dict[BatchRef, str]]) -> None:
    root, _ = site
    html_files = sorted((root / "reports").rglob("*.html"))
    assert len(html_files) == 4  # two batch pages, the suite page, the index
    for path in html_files:
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:link|script|img)\b[^>]*>", html):
            assert not re.search(r"https?://", tag), (path.name, tag)
        assert "url('http" not in html
        assert ".fa-check-circle::before" in html, "our offline stylesheet is inlined"
        for src in re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', html):
            assert (path.parent / src.split("?")[0]).resolve().is_file(), (path.name, src)


def test_validation_results_are_kept_as_counts_only(site: tuple[Path, dict[BatchRef, str]]) -> None:
    root, pages = site
    for ref in pages:
        record = json.loads((root / f"reports/gx/{ref.dataset}/results/{ref.batch_id}.json").read_text("utf-8"))
        assert record["data_asset"] == str(ref)
        assert record["page"] == pages[ref].removeprefix(f"reports/gx/{ref.dataset}/")
        postal = next(r for r in record["results"] if r["column"] == "postal_code")
        assert postal == {
            "rule": "expect_column_values_to_be_jp_postal_code:postal_code",
            "expectation_type": "expect_column_values_to_be_jp_postal_code",
            "column": "postal_code",
            "success": False,
            "element_count": 3,
            "missing_count": 0,
            "unexpected_count": 1,
            "unexpected_percent": pytest.approx(100 / 3),
        }
    everything = b"".join(p.read_bytes() for p in (root / "reports").rglob("*") if p.is_file())
    for value in (PRIVATE_NAME, BAD_POSTAL):
        assert value.encode() not in everything
    assert b"partial_unexpected" not in everything


def test_a_rerun_of_a_batch_rewrites_its_one_page(tmp_path: Path) -> None:
    """A step re-run after a crash keeps the first run's time, so the page keeps its name."""
    store = LocalStore(tmp_path / "store")
    first = _publish(tmp_path, store, FIRST, RUN_TIMES[FIRST])
    (store.root / str(first)).unlink()  # as if the first run died before writing its page
    again = _publish(tmp_path, store, FIRST, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert again == first
    pages = sorted(
        p.relative_to(store.root).as_posix() for p in (store.root / "reports").rglob("validations/**/*.html")
    )
    assert pages == [again]
    assert f"Run Time {RUN_TIMES[FIRST]:%Y-%m-%dT%H:%M:%SZ}" in _text((store.root / str(again)).read_text("utf-8"))
    index = (store.root / "reports/gx/jp_customer_leads/index.html").read_text(encoding="utf-8")
    assert set(re.findall(r'href="(validations/[^"]+)"', index)) == {
        str(again).removeprefix("reports/gx/jp_customer_leads/")
    }
