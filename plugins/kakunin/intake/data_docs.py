"""GX Data Docs for every batch of a dataset, one site per dataset, readable offline; and each
batch's validation result kept beside them as counts-only JSON.

The site has GX's own layout under `reports/gx/<dataset>/` (`index.html`,
`validations/<suite>/<run_name>/<run_time>/<batch_id>.html`, `expectations/<suite>.html`,
`static/`), so a GX user finds their way; it is written with GX's own page renderers. What
differs from a stock GX site, and why:

- Pages name the data asset (`<dataset>/<batch_id>`) and the run time: the merged
  result is given GX's `run_id`, `batch_spec` and `active_batch_definition` meta.
- The index is rebuilt from every stored validation result of the dataset
  (`results/<batch_id>.json`), so it lists every batch's page, not only this run's.
- No CDN: GX's templates load Bootstrap, jQuery, Font Awesome and Vega from the
  internet, and the index's table is filled in by jQuery. Our views strip every remote
  `<link>`/`<script src>`, render that table as plain HTML, and inline a small stylesheet of
  our own, so the site opens from a folder on a machine without network.
- Counts only: the merged result carries no values (see `accuracy.merged_result`).

A re-run of the step keeps the first run's time, so a batch has one page. Two batches finishing at
the same moment may each write an index that misses the other;
the next batch's run lists both again (every batch's result file is kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from kakunin.errors import StorageNotFound
from kakunin.layout import BatchRef, gx_site_key, gx_validation_key, gx_validations_prefix
from kakunin.storage import ObjectStore, load
from kakunin.yaml_io import dump_json

if TYPE_CHECKING:
    from kakunin.intake.accuracy import AccuracySummary, SuiteRunner

_LOGO = "static/images/logo-long.png"
_REMOTE = re.compile(
    r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>"
    r"|<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>"
    r"|url\('https?://[^']*'\)"
)
# GX's navbar takes its logo from a web server; the site ships its own copy (`_LOGO`).
_NAVBAR_LOGO = re.compile(r"\{% set static_images_dir = \"https://[^\"]*\" -%\}")
_LOCAL_LOGO = '{% if "SiteIndex" in renderer_type %}{% set static_images_dir = "./static/images/" -%}{% endif %}'
# The index's table, as HTML rather than data for a jQuery plugin; cells are rendered by GX.
_TABLE = """{% include 'content_block_header.j2' %}
{% set rows = content_block["table_data"] | render_bootstrap_table_data %}
<table class="table table-sm ge-index-page-table">
  <thead><tr>{% for column in content_block["table_columns"] %}<th>{{ column["title"] }}</th>{% endfor %}</tr></thead>
  <tbody>
  {% for row in rows %}
    <tr>{% for column in content_block["table_columns"] %}<td>
      {%- if (loop.first or column["field"] == "asset_name") and row.get("_table_row_link_path") -%}
        <a href="{{ row["_table_row_link_path"] }}">{{ row.get(column["field"]) or "open" }}</a>
      {%- else -%}{{ row.get(column["field"]) if row.get(column["field"]) is not none else "" }}{%- endif -%}
    </td>{% endfor %}</tr>
  {% endfor %}
  </tbody>
</table>
"""
_OVERRIDES = {
    "bootstrap_table.j2": _TABLE,
    "favicon.j2": "",  # GX's link points one folder too high on validation pages
    "cloud-footer.j2": "",  # a newsletter sign-up
}


class RuleCounts(BaseModel):
    """One expectation's result over the whole batch: counts, never values."""

    rule: str
    expectation_type: str
    column: str | None
    success: bool
    element_count: int
    missing_count: int
    unexpected_count: int
    unexpected_percent: float


class ValidationRecord(BaseModel):
    """`reports/gx/<dataset>/results/<batch_id>.json`: a batch's GX validation result, counts only."""

    suite: str
    data_asset: str
    batch_id: str
    run_name: str
    run_time: datetime
    success: bool
    evaluated_expectations: int
    successful_expectations: int
    page: str  # the batch's Data Docs page, relative to the site's index.html
    results: list[RuleCounts]


def publish_data_docs(
    store: ObjectStore, ref: BatchRef, runner: SuiteRunner, summary: AccuracySummary, *, run_time: datetime
) -> str | None:
    """Write the batch's validation record, its page and the dataset's index; return the page's key.

    The record is written first and a re-run of the step (after a crash) keeps its run time,
    so the page keeps its name: the step stays idempotent and leaves one page per batch.
    """
    merged = runner.merged_result(summary.rules, ref.batch_id)
    if merged is None:
        return None
    try:
        earlier: ValidationRecord | None = load(store, gx_validation_key(ref), ValidationRecord)
    except StorageNotFound:
        earlier = None
    run_time = earlier.run_time if earlier is not None else run_time
    record = _record(ref, summary, run_time=run_time, page=_page_path(runner.name, ref.batch_id, run_time))
    _describe_batch(merged, record)
    store.put_bytes(gx_validation_key(ref), dump_json(record))
    if earlier is not None and earlier.page != record.page:  # the suite was renamed in between
        store.delete(gx_site_key(ref.dataset, earlier.page))
    store.put_bytes(gx_site_key(ref.dataset, record.page), _page_html(merged).encode())
    store.put_bytes(gx_site_key(ref.dataset, _suite_path(runner.name)), _suite_html(runner.suite).encode())
    with resources.as_file(resources.files("great_expectations") / "render/view" / _LOGO) as logo:
        store.put_bytes_if_absent(gx_site_key(ref.dataset, _LOGO), logo.read_bytes())
    write_index(store, ref.dataset)
    return gx_site_key(ref.dataset, record.page)


def write_index(store: ObjectStore, dataset: str) -> str:
    """(Re)write the dataset's `index.html` from every stored validation record; return its key."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.render.renderer.site_index_page_renderer import SiteIndexPageRenderer

    records = [load(store, key, ValidationRecord) for key in sorted(store.list_keys(gx_validations_prefix(dataset)))]
    links = [
        {
            "expectation_suite_name": r.suite,
            "filepath": r.page,
            "run_id": RunIdentifier(run_name=r.run_name, run_time=r.run_time),
            "batch_identifier": r.batch_id,
            "validation_success": r.success,
            "run_time": r.run_time,
            "run_name": r.run_name,
            "asset_name": r.data_asset,
            "batch_kwargs": None,
            "batch_spec": {"data_asset_name": r.data_asset},
            "expectation_suite_filepath": _suite_path(r.suite),
        }
        for r in sorted(records, key=lambda r: r.run_time, reverse=True)
    ]
    suites = sorted({r.suite for r in records})
    index_links = {
        "site_name": f"Kakunin accuracy checks: {dataset}",
        "expectations_links": [
            {"expectation_suite_name": s, "filepath": _suite_path(s), "run_id": None} for s in suites
        ],
        "validations_links": links,
    }
    rendered = SiteIndexPageRenderer.render(index_links)  # type: ignore[no-untyped-call]
    html = _view("DefaultJinjaIndexPageView").render(rendered, show_how_to_buttons=False)
    key = gx_site_key(dataset, "index.html")
    store.put_bytes(key, str(html).encode())
    return key


def _record(ref: BatchRef, summary: AccuracySummary, *, run_time: datetime, page: str) -> ValidationRecord:
    results = [
        RuleCounts(
            rule=r.rule,
            expectation_type=r.type,
            column=r.column,
            success=r.success,
            element_count=r.evaluated,
            missing_count=r.missing,
            unexpected_count=r.unexpected,
            unexpected_percent=r.unexpected_percent,
        )
        for r in summary.rules
    ]
    return ValidationRecord(
        suite=summary.suite,
        data_asset=str(ref),
        batch_id=ref.batch_id,
        run_name=ref.batch_id,
        run_time=run_time,
        success=all(r.success for r in results),
        evaluated_expectations=len(results),
        successful_expectations=sum(r.success for r in results),
        page=page,
        results=results,
    )


def _describe_batch(merged: Any, record: ValidationRecord) -> None:
    """Tell GX's renderers the data asset and run time (they print "None" and "__none__" otherwise)."""
    from great_expectations.core.run_identifier import RunIdentifier

    merged.meta["run_id"] = RunIdentifier(run_name=record.run_name, run_time=record.run_time)
    merged.meta["batch_spec"] = {"data_asset_name": record.data_asset}
    merged.meta["active_batch_definition"] = {"data_asset_name": record.data_asset}
    merged.meta["batch_markers"] = {}  # the first chunk's load time and fingerprint would mislead
    merged.meta["batch_parameters"] = {}


def _page_path(suite: str, batch_id: str, run_time: datetime) -> str:
    """Where GX puts a validation page in a site (its links to the index and to `static/` assume it)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
        run_id=RunIdentifier(run_name=batch_id, run_time=run_time),
        batch_identifier=batch_id,
    )
    return "/".join(["validations", *key.to_tuple()]) + ".html"  # type: ignore[no-untyped-call]


def _suite_path(suite: str) -> str:
    return "/".join(["expectations", *suite.split(".")]) + ".html"


def _page_html(merged: Any) -> str:
    from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer

    rendered = ValidationResultsPageRenderer().render(merged)
    return str(_view("DefaultJinjaPageView").render(rendered, show_how_to_buttons=False))


def _suite_html(suite: Any) -> str:
    from great_expectations.render.renderer.page_renderer import ExpectationSuitePageRenderer

    rendered = ExpectationSuitePageRenderer().render(suite)  # type: ignore[no-untyped-call]
    return str(_view("DefaultJinjaPageView").render(rendered, show_how_to_buttons=False))


def offline_source(name: str, source: str) -> str:
    """GX's template `name` with every remote stylesheet, script and image taken out."""
    if name in _OVERRIDES:
        return _OVERRIDES[name]
    if name == "data_docs_custom_styles.css":
        return resources.files("kakunin.intake").joinpath("data_docs.css").read_text(encoding="utf-8")
    return _NAVBAR_LOGO.sub(_LOCAL_LOGO, _REMOTE.sub("", source))


def _view(name: str) -> Any:
    """GX's page view `name` whose templates come through `offline_source`."""
    from great_expectations.render import view
    from jinja2 import BaseLoader, Environment, TemplateNotFound

    class OfflineLoader(BaseLoader):
        def __init__(self, inner: BaseLoader) -> None:
            self.inner = inner

        def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
            try:
                source, filename, _ = self.inner.get_source(environment, template)
            except TemplateNotFound:
                if template != "data_docs_custom_styles.css":
                    raise
                source, filename = "", None
            return offline_source(template, source), filename, lambda: True

    page_view = getattr(view, name)()
    page_view.env.loader = OfflineLoader(page_view.env.loader)
    return page_view
