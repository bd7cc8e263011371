"""Accuracy (APPI Art. 22): run a dataset's Great Expectations suite over a batch, chunk by chunk.

GX validates one pandas chunk at a time, so memory follows the chunk size. Row-level
rules are answered per chunk; whole-table rules (uniqueness) are answered by merging
the key column across all chunks, since a duplicate can sit in two chunks (partitioned by
hash on disk, `kakunin.intake.duplicates`, so that too follows the chunk). Any other
expectation (row count, column mean, ...) answers per chunk in a way no merge can fix, so
the suite is refused up front (`classify`) rather than half-checked. The result is, per
failing row, the rules it failed, and one merged validation result from which GX Data Docs
are built (`data_docs`; counts only: no values, so the docs hold no personal data).

GX is imported on first use and once per process (it costs seconds and ~270 MB).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin.errors import ConfigError
from kakunin.intake.conform import PARSE_FAILURES
from kakunin.intake.duplicates import partitions_for, unique_keys
from kakunin.lineage.formats import SOURCE_ROW, GxSummary, RuleResult

# Whole-table rules Kakunin merges itself: it gathers the key column of every chunk.
WHOLE_TABLE_RULES = {"expect_column_values_to_be_unique"}
# Map expectations whose answer for a row depends on other rows: per-chunk answers would be wrong.
_CROSS_ROW_METRICS = {"column_values.unique", "compound_columns.unique"}
FAILURES_SCHEMA = pa.schema([pa.field(SOURCE_ROW, pa.int64()), pa.field("failed", pa.list_(pa.string()))])
_SENSITIVE_RESULT_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
    "unexpected_rows",
)


class RuleOutcome(BaseModel):
    """One expectation's result over the whole batch (GX's counts, summed over the chunks)."""

    rule: str
    type: str
    column: str | None
    evaluated: int
    unexpected: int
    success: bool
    missing: int = 0

    @property
    def unexpected_percent(self) -> float:
        """GX's `unexpected_percent`: of the rows that were not missing."""
        considered = self.evaluated - self.missing
        return 100.0 * self.unexpected / considered if considered else 0.0


class AccuracySummary(BaseModel):
    """What the accuracy step decided, for the manifest header and the task log."""

    suite: str
    validation_run_id: str
    rows: int
    failed_rows: int
    parse_failed_rows: int
    failed_ratio: float
    max_failed_row_ratio: float
    rejected: bool
    rules: list[RuleOutcome]
    data_docs: str | None = None

    def gx_summary(self) -> GxSummary:
        """The counts-only summary the manifest header carries (lineage-manifest.md, `gx`)."""
        return GxSummary(
            suite=self.suite,
            validation_run_id=self.validation_run_id,
            success=all(r.success for r in self.rules),
            evaluated_expectations=len(self.rules),
            successful_expectations=sum(r.success for r in self.rules),
            rules=[RuleResult(rule=r.rule, unexpected=r.unexpected, success=r.success) for r in self.rules],
            data_docs=self.data_docs,
        )


@dataclass(frozen=True)
class Rule:
    """An expectation of the suite, named `type:column` in failure lists."""

    name: str
    type: str
    column: str | None
    whole_table: bool
    mostly: float = 1.0


@dataclass
class ChunkCounts:
    """What GX said about one rule in one chunk: failing positions (0-based in the chunk) and counts."""

    positions: list[int]
    element_count: int
    missing_count: int


def rule_name(config: dict[str, Any]) -> str:
    column = config.get("kwargs", {}).get("column")
    return f"{config['type']}:{column}" if column else str(config["type"])


def exceeds_ratio(failed_rows: int, rows: int, max_failed_row_ratio: float) -> bool:
    """True when more than `max_failed_row_ratio` of the rows failed; exactly the ratio is allowed.

    Compared as fractions of the ratio as written in the contract (`0.01`, not the binary
    float nearest to it), so 6 failed rows of 600 is exactly at 0.01 and accepted.
    """
    if rows == 0:
        return False
    return Fraction(failed_rows, rows) > Fraction(repr(float(max_failed_row_ratio)))


_GX_READY = threading.Lock()  # the context is built once, whichever thread asks first


def gx_context() -> Any:
    """One ephemeral GX context per process, with progress bars off and our expectations registered."""
    with _GX_READY:
        return _gx_context()


def prepare_in_background() -> threading.Thread:
    """Import GX and build its context on a thread while the batch is gated and parsed.

    Importing GX costs seconds of Python; parsing is mostly Arrow, which releases the GIL, so the two
    overlap on two cores and `accuracy` finds GX ready. A failure here is left for `accuracy` to raise."""

    def prepare() -> None:
        try:
            gx_context()
        except Exception:  # noqa: BLE001 - accuracy builds it again and reports the error itself
            return

    thread = threading.Thread(target=prepare, name="kakunin-gx-import", daemon=True)
    thread.start()
    return thread


@functools.cache
def _gx_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    import kakunin.gx_expectations  # noqa: F401 - registers the custom expectation classes

    _use_cheap_batch_fingerprint()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _cheap_fingerprint(frame: Any) -> str:
    return hashlib.md5(f"{frame.shape}|{list(frame.columns)}|{id(frame)}".encode(), usedforsecurity=False).hexdigest()


def _use_cheap_batch_fingerprint() -> None:
    """Stop GX hashing every value of every chunk just to label the batch.

    GX's pandas engine fingerprints each in-memory dataframe with
    `pandas.util.hash_pandas_object` (its own comment: "not used for security: this is
    a batch fingerprint"). Measured here, that was half of all validation time. Kakunin
    identifies batches itself (batch id, source SHA-256), so the label only needs to be
    unique per chunk. The target is checked by a test, so a GX upgrade that moves it
    fails loudly instead of silently slowing down.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.hash_pandas_dataframe = _cheap_fingerprint


def _load_suite(suite_path: Path) -> tuple[dict[str, Any], list[Any]]:
    """The suite file and its expectations as GX objects; a broken file is a `ConfigError` naming it."""
    from great_expectations.exceptions.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        spec = json.loads(suite_path.read_text(encoding="utf-8"))
        configs = spec["expectations"]
        spec["name"] = str(spec["name"])
        expectations = [
            ExpectationConfiguration(type=e["type"], kwargs=e.get("kwargs", {}), meta=e.get("meta", {})).to_domain_obj()
            for e in configs
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{suite_path}: not a GX suite Kakunin can load: {exc}") from exc
    except GreatExpectationsError as exc:  # an unknown expectation type, kwargs it does not take
        raise ConfigError(f"{suite_path}: GX refused the suite: {exc}") from exc
    return spec, expectations


def classify(expectation: Any, suite_path: Path) -> Rule:
    """How the chunked runner answers `expectation` over a whole batch, or a `ConfigError` if it cannot.

    Row-level (map) expectations are answered per chunk: their failing rows are exact and
    their counts add up. `expect_column_values_to_be_unique` is merged by Kakunin across
    chunks. Anything else (table row count, column mean, compound uniqueness, ...) gives an
    answer per chunk that cannot be combined into the batch's answer, so it is refused
    rather than silently counted as passed.
    """
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    config = expectation.configuration
    kind, kwargs = config.type, config.kwargs
    mostly = kwargs.get("mostly")
    rule = Rule(
        rule_name({"type": kind, "kwargs": kwargs}),
        kind,
        kwargs.get("column"),
        kind in WHOLE_TABLE_RULES,
        float(mostly) if isinstance(mostly, int | float) else 1.0,
    )
    row_level = isinstance(expectation, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation)
    if rule.whole_table or (row_level and getattr(expectation, "map_metric", None) not in _CROSS_ROW_METRICS):
        return rule
    raise ConfigError(
        f"{suite_path}: {kind} cannot be checked chunk by chunk: a large batch is validated in chunks and "
        f"its per-chunk results cannot be merged into one answer for the batch. Kakunin runs row-level "
        f"(column map) expectations and {', '.join(sorted(WHOLE_TABLE_RULES))}; remove it from the suite"
    )


class SuiteRunner:
    """A suite loaded from its JSON file, ready to validate pandas chunks."""

    def __init__(self, suite_path: Path, *, parameters: dict[str, Any]) -> None:
        import great_expectations as gx

        context = gx_context()
        spec, expectations = _load_suite(suite_path)
        self.name: str = spec["name"]
        self.rules = [classify(e, suite_path) for e in expectations]
        self.suite = gx.ExpectationSuite(name=self.name, expectations=expectations, meta=spec.get("meta", {}))
        self.parameters = parameters
        source_name = f"kakunin-{id(self)}"
        source = context.data_sources.add_or_update_pandas(source_name)
        self._definition = source.add_dataframe_asset("chunk").add_batch_definition_whole_dataframe("whole")
        self._template: Any = None

    @property
    def columns(self) -> list[str]:
        return sorted({r.column for r in self.rules if r.column})

    def validate(self, frame: Any) -> dict[str, ChunkCounts]:
        """Per rule, GX's answer for this chunk: failing positions (row-level rules only) and counts."""
        batch = self._definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            self.suite, expectation_parameters=self.parameters, result_format={"result_format": "COMPLETE"}
        )
        if self._template is None:
            self._template = result
        counts: dict[str, ChunkCounts] = {}
        for rule, outcome in zip(self.rules, result.results, strict=True):
            if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                message = outcome.exception_info.get("exception_message")
                raise RuntimeError(f"GX could not evaluate {rule.name}: {message}")
            found = outcome.result
            counts[rule.name] = ChunkCounts(
                positions=[] if rule.whole_table else list(found.get("unexpected_index_list") or []),
                element_count=int(found.get("element_count") or 0),
                missing_count=int(found.get("missing_count") or 0),
            )
        return counts

    def merged_result(self, outcomes: list[RuleOutcome], run_name: str) -> Any:
        """One validation result for the whole batch, with counts only, for Data Docs."""
        if self._template is None:
            return None
        merged = copy.deepcopy(self._template)
        for outcome, result in zip(outcomes, merged.results, strict=True):
            for key in _SENSITIVE_RESULT_KEYS:
                result.result.pop(key, None)
            result.result["element_count"] = outcome.evaluated
            result.result["unexpected_count"] = outcome.unexpected
            result.result["missing_count"] = outcome.missing
            result.result["unexpected_percent"] = outcome.unexpected_percent
            for key in ("missing_percent", "unexpected_percent_total", "unexpected_percent_nonmissing"):
                result.result.pop(key, None)
            result.success = outcome.success
        merged.success = all(o.success for o in outcomes)
        evaluated = len(outcomes)
        successful = sum(o.success for o in outcomes)
        merged.statistics.update(
            evaluated_expectations=evaluated,
            successful_expectations=successful,
            unsuccessful_expectations=evaluated - successful,
            success_percent=100.0 * successful / evaluated if evaluated else 100.0,
        )
        merged.meta["run_id"] = run_name
        return merged


def iter_chunks(conformed: Path, *, columns: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
    parquet = pq.ParquetFile(conformed)
    yield from parquet.iter_batches(batch_size=chunk_rows, columns=[*columns, SOURCE_ROW, PARSE_FAILURES])


# The suite of the `evaluate` running in this process, for the worker processes it forks: they inherit it
# (GX, its context and the loaded suite) instead of importing GX again, which costs seconds.
_FORKED_RUNNERS: dict[int, SuiteRunner] = {}


def _validate_row_group(runner_id: int, conformed: str, index: int) -> dict[str, ChunkCounts]:
    """In a forked worker: GX's answer for one row group (one parse chunk) of the conformed file."""
    runner = _FORKED_RUNNERS[runner_id]
    chunk = pq.ParquetFile(conformed).read_row_group(index, columns=runner.columns)
    return runner.validate(chunk.to_pandas())


@contextmanager
def _row_group_validators(
    runner: SuiteRunner, conformed: Path, *, workers: int, chunk_rows: int
) -> Iterator[dict[int, Future[dict[str, ChunkCounts]]] | None]:
    """Row groups validated by `workers - 1` forked processes while this one validates its share; None
    (validate everything here) with one worker, one row group, or row groups larger than a chunk."""
    parquet = pq.ParquetFile(conformed)
    groups = parquet.num_row_groups
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(groups)]
    if workers < 2 or groups < 2 or max(sizes) > 2 * chunk_rows or "fork" not in get_all_start_methods():
        yield None
        return
    _FORKED_RUNNERS[id(runner)] = runner
    try:
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=get_context("fork")) as pool:
            yield {
                index: pool.submit(_validate_row_group, id(runner), str(conformed), index)
                for index in range(groups)
                if index % workers  # this process takes every `workers`-th group, the first among them (its
            }  # result is the template of the Data Docs)
    finally:
        _FORKED_RUNNERS.pop(id(runner), None)


def evaluate(
    conformed: Path,
    *,
    suite_path: Path,
    received_on: date,
    max_failed_row_ratio: float,
    run_name: str,
    chunk_rows: int = 250_000,
    workers: int = 1,
    unique_partition_rows: int | None = None,
) -> tuple[pa.Table, AccuracySummary, SuiteRunner]:
    """Failing rows (source row, rules failed) and the summary; the batch is rejected above the ratio.

    With `workers` > 1, GX validates the conformed file's row groups (one per parse chunk) in that many
    processes at once; the answer is the same, since every row-level rule is answered per chunk anyway.
    Uniqueness keys are spilled to partitions of about `unique_partition_rows` keys (a chunk's worth by
    default), so memory follows the chunk, not the batch (`kakunin.intake.duplicates`)."""
    runner = SuiteRunner(suite_path, parameters={"received_on": received_on})
    tally = _Tally(unexpected={r.name: 0 for r in runner.rules}, missing={r.name: 0 for r in runner.rules})
    key_columns = sorted({r.column for r in runner.rules if r.whole_table and r.column})
    batch_rows = pq.ParquetFile(conformed).metadata.num_rows
    partitions = partitions_for(batch_rows, unique_partition_rows or chunk_rows)
    with unique_keys(key_columns, partitions=partitions) as keys:
        with _row_group_validators(runner, conformed, workers=workers, chunk_rows=chunk_rows) as elsewhere:
            if elsewhere is None:
                chunks: Iterator[pa.RecordBatch | pa.Table] = iter_chunks(
                    conformed, columns=runner.columns, chunk_rows=chunk_rows
                )
            else:
                parquet = pq.ParquetFile(conformed)
                wanted = [*runner.columns, SOURCE_ROW, PARSE_FAILURES]
                chunks = (parquet.read_row_group(i, columns=wanted) for i in range(parquet.num_row_groups))
            for index, chunk in enumerate(chunks):
                rows = _combined(chunk.column(SOURCE_ROW))
                tally.evaluated += chunk.num_rows
                parse_failures = _combined(chunk.column(PARSE_FAILURES))
                flat = pc.list_flatten(parse_failures)
                if len(flat):
                    tally.add(
                        pc.take(rows, pc.list_parent_indices(parse_failures)),
                        pc.binary_join_element_wise("parse.value", flat, ":"),
                    )
                if elsewhere is not None and index in elsewhere:
                    answers = elsewhere[index].result()
                else:
                    answers = runner.validate(chunk.select(runner.columns).to_pandas())
                for name, counts in answers.items():
                    tally.missing[name] += counts.missing_count
                    tally.add_rule(name, pc.take(rows, pa.array(counts.positions, pa.int64())))
                for column, gathered in keys.items():
                    gathered.add(_combined(chunk.column(column)), rows)
        for rule in runner.rules:  # whole-table rules see every chunk's keys at once, after the workers are gone
            if rule.whole_table and rule.column:
                tally.add_rule(rule.name, keys[rule.column].duplicated_rows())
    failures = _group_failures(tally.rows, tally.rules)
    return failures, _summary(runner, tally, failures, run_name, max_failed_row_ratio), runner


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


@dataclass
class _Tally:
    """(source row, rule) pairs found so far, and per rule how many rows it failed."""

    unexpected: dict[str, int]
    missing: dict[str, int]
    evaluated: int = 0
    rows: list[pa.Array] = field(default_factory=list)
    rules: list[pa.Array] = field(default_factory=list)

    def add(self, rows: pa.Array, rules: pa.Array) -> None:
        self.rows.append(rows)
        self.rules.append(rules)

    def add_rule(self, name: str, rows: pa.Array) -> None:
        if len(rows):
            self.unexpected[name] += len(rows)
            self.add(rows, pa.array([name] * len(rows), pa.string()))


def _summary(
    runner: SuiteRunner, tally: _Tally, failures: pa.Table, run_name: str, max_failed_row_ratio: float
) -> AccuracySummary:
    parse_failed = sum(
        1 for lists in failures.column("failed").to_pylist() if any(r.startswith("parse.value:") for r in lists)
    )
    ratio = failures.num_rows / tally.evaluated if tally.evaluated else 0.0
    outcomes = [_outcome(r, tally) for r in runner.rules]
    return AccuracySummary(
        suite=runner.name,
        validation_run_id=run_name,
        rows=tally.evaluated,
        failed_rows=failures.num_rows,
        parse_failed_rows=parse_failed,
        failed_ratio=ratio,
        max_failed_row_ratio=max_failed_row_ratio,
        rejected=exceeds_ratio(failures.num_rows, tally.evaluated, max_failed_row_ratio),
        rules=outcomes,
    )


def _outcome(rule: Rule, tally: _Tally) -> RuleOutcome:
    """The rule's batch-wide result from the summed counts, decided as GX decides a map expectation:
    passed when no non-missing row failed, or, with `mostly`, when enough of them passed."""
    unexpected, missing = tally.unexpected[rule.name], tally.missing[rule.name]
    considered = tally.evaluated - missing
    passed = unexpected == 0 or (
        considered > 0 and Fraction(considered - unexpected, considered) >= Fraction(repr(rule.mostly))
    )
    return RuleOutcome(
        rule=rule.name,
        type=rule.type,
        column=rule.column,
        evaluated=tally.evaluated,
        unexpected=unexpected,
        missing=missing,
        success=passed,
    )


def _group_failures(rows: list[pa.Array], rules: list[pa.Array]) -> pa.Table:
    if not rows:
        return FAILURES_SCHEMA.empty_table()
    pairs = pa.table({SOURCE_ROW: pa.chunked_array(rows), "rule": pa.chunked_array(rules)})
    grouped = pairs.group_by(SOURCE_ROW, use_threads=False).aggregate([("rule", "distinct")])
    grouped = grouped.rename_columns([SOURCE_ROW, "failed"]).sort_by(SOURCE_ROW)
    return grouped.cast(FAILURES_SCHEMA)
