"""What each intake step read and wrote, for OpenLineage: datasets, their schema and GX results, the decision.

Plain data read back from the store right after a step ran, so a lineage backend
(Marquez, DataHub) sees the real landing file, the curated dataset, the manifest or the
quarantine folder instead of jobs without data. The Airflow side (dags/kakunin_airflow)
turns these into OpenLineage facets; this module never imports Airflow or openlineage.

No personal data: dataset names are store keys, the schema is column names and types, the
GX result is per-rule counts and the decision names the document id, the legal ground, the
purposes and reason codes (never the provider's name or address).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from kakunin.batches import Rejection
from kakunin.intake.work import ACCURACY, CONFORMED, FAILED_ROWS, GATE
from kakunin.layout import CURATED, BatchRef, provenance_prefix
from kakunin.lineage.formats import Commit
from kakunin.storage import ObjectStore, load

FAILED_RULES_COLUMN = "failed"  # the quarantine's failed_rows.parquet: the rules each row failed


@dataclass(frozen=True)
class Assertion:
    """One GX expectation's outcome over the batch (OpenLineage DataQualityAssertions)."""

    assertion: str
    success: bool
    column: str | None = None


@dataclass(frozen=True)
class DatasetFacts:
    namespace: str
    name: str
    schema: list[tuple[str, str]] = field(default_factory=list)  # (column, Arrow type)
    assertions: list[Assertion] = field(default_factory=list)


@dataclass(frozen=True)
class StepFacts:
    inputs: list[DatasetFacts]
    outputs: list[DatasetFacts]
    decision: dict[str, Any] | None = None  # the provenance/rejection decision, for a run facet


def dataset_location(store: ObjectStore, key: str) -> tuple[str, str]:
    """OpenLineage (namespace, name) of a store key: `file` and the absolute path for a local store,
    `s3://<bucket>` and the object key on S3."""
    return store.dataset_location(key)


def curated_key(dataset: str) -> str:
    """The curated dataset's folder: one table per dataset, which every published batch adds to."""
    return f"{CURATED}/{dataset}"


def curated_uri(store: ObjectStore, dataset: str) -> str:
    """The curated dataset as a URI (the Airflow Asset of the dataset): `file:///…/curated/<dataset>`
    or `s3://<bucket>/<prefix>/curated/<dataset>`."""
    namespace, name = dataset_location(store, curated_key(dataset))
    return f"file://{name}" if namespace == "file" else f"{namespace}/{name}"


def step_facts(store: ObjectStore, ref: BatchRef, step: str) -> StepFacts:
    """The inputs, outputs and decision of `step` on `ref`, as the store shows them after the step ran."""

    def at(key: str, **extra: Any) -> DatasetFacts:
        return DatasetFacts(*dataset_location(store, key), **extra)

    rejection = load(store, ref.rejection, Rejection) if store.exists(ref.rejection) else None
    landing = at(ref.landing(_data_file(store, ref) or ""))
    conformed = at(ref.work(CONFORMED), schema=_schema(store, ref.work(CONFORMED)))
    quarantine = at(ref.quarantine())
    curated = at(curated_key(ref.dataset), schema=_curated_schema(store, ref))
    if step == "gate":
        document = _decision(store, ref, rejection)
        kept = quarantine if rejection else at(provenance_prefix(str(document.get("document_id"))))
        return StepFacts([landing], [kept], document)
    if rejection is not None and step in ("parse", "accuracy") and rejection.stage == _STAGE[step]:
        source = conformed if step == "accuracy" else landing
        if step == "accuracy":
            source = DatasetFacts(source.namespace, source.name, source.schema, _failed_assertions(store, ref))
        return StepFacts([source], [quarantine], _decision(store, ref, rejection))
    if rejection is not None:
        return StepFacts([], [])  # rejected at an earlier step: this one did nothing
    if step == "parse":
        return StepFacts([landing], [conformed])
    if step == "accuracy":
        checked = DatasetFacts(conformed.namespace, conformed.name, conformed.schema, _assertions(store, ref))
        return StepFacts([checked], [])
    if step == "assign":  # the passing rows staged for the curated dataset, the failing ones to quarantine
        failing = [quarantine] if store.exists(ref.quarantine(FAILED_ROWS)) else []
        return StepFacts([conformed], [curated, *failing])
    if step == "publish":
        return StepFacts([], [curated])
    return StepFacts([curated], [at(ref.manifest_header)])  # lineage


_STAGE = {"parse": "parse", "accuracy": "accuracy"}


def _data_file(store: ObjectStore, ref: BatchRef) -> str | None:
    if not store.exists(ref.work(GATE)):
        return None
    return str(json.loads(store.get_bytes(ref.work(GATE)))["data_file"])


def _schema(store: ObjectStore, key: str) -> list[tuple[str, str]]:
    """Column names and types of a Parquet object, read from its footer only (no rows)."""
    if not store.exists(key):
        return []
    with store.reading(key) as path:
        schema = pq.read_schema(path)
    return [(name, str(schema.field(name).type)) for name in schema.names]


def _curated_schema(store: ObjectStore, ref: BatchRef) -> list[tuple[str, str]]:
    if not store.exists(ref.commit):
        return []
    files = load(store, ref.commit, Commit).files
    return _schema(store, files[0].key) if files else []


def _assertions(store: ObjectStore, ref: BatchRef) -> list[Assertion]:
    """Every rule of the suite with its outcome, from the accuracy step's summary (counts only)."""
    if not store.exists(ref.work(ACCURACY)):
        return []
    rules = json.loads(store.get_bytes(ref.work(ACCURACY)))["rules"]
    return [Assertion(assertion=r["type"], success=bool(r["success"]), column=r.get("column")) for r in rules]


def _failed_assertions(store: ObjectStore, ref: BatchRef) -> list[Assertion]:
    """A batch rejected at accuracy keeps only its failing rows: the rules they failed, each a failed assertion."""
    key = ref.quarantine(FAILED_ROWS)
    if not store.exists(key):
        return []
    with store.open_input(key) as handle:
        failed = pq.read_table(handle, columns=[FAILED_RULES_COLUMN]).column(FAILED_RULES_COLUMN).to_pylist()
    rules = Counter(rule for row in failed for rule in row or [])
    return [Assertion(assertion=rule, success=False) for rule in sorted(rules)]


def _decision(store: ObjectStore, ref: BatchRef, rejection: Rejection | None) -> dict[str, Any]:
    """The provenance decision: document id, legal ground, purposes, acquisition and reason codes."""
    decision: dict[str, Any] = {"batch": str(ref), "decision": "rejected" if rejection else "accepted"}
    if rejection is not None:
        decision.update(
            stage=rejection.stage,
            document_id=rejection.document_id,
            reason_codes=sorted({f.code.value for f in rejection.findings}),
        )
    if store.exists(ref.work(GATE)):
        document = json.loads(store.get_bytes(ref.work(GATE)))["document"]
        decision.update(
            document_id=document["document_id"],
            legal_ground=document["legal_ground"],
            purposes=list(document["purposes"]),
            acquisition={"source": document["acquisition"]["source"], "method": document["acquisition"]["method"]},
            reason_codes=decision.get("reason_codes", []),
        )
    return decision
