"""The OpenLineage side of a step: `kakunin.intake.lineage_facts` turned into datasets and facets.

Every step task reports its input and output datasets (namespace `file`, the object's path in
a local store), a `schema` facet on Parquet datasets, the standard `dataQualityAssertions` input
facet on the accuracy step's input, and a `kakunin_decision` run facet on the gate (and on the
step that refused a batch). Where events go is configured for the provider, e.g. Marquez:

    AIRFLOW__OPENLINEAGE__NAMESPACE=kakunin
    AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "http", "url": "http://localhost:5000", "endpoint": "api/v1/lineage"}'

or a file, one JSON event per line (what tests/test_airflow_intake.py reads):

    AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "file", "log_file_path": "var/openlineage.jsonl", "append": true}'
"""

from __future__ import annotations

from typing import Any

import attrs
from airflow.providers.openlineage.extractors import OperatorLineage
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import RunFacet, data_quality_assertions_dataset, schema_dataset

from kakunin.intake.lineage_facts import DatasetFacts, StepFacts

DECISION_FACET = "kakunin_decision"


@attrs.define
class KakuninDecisionRunFacet(RunFacet):
    """The provenance decision of a batch: document id, legal ground, purposes, reason codes (no personal data)."""

    batch: str
    decision: str
    document_id: str | None = None
    legal_ground: str | None = None
    purposes: list[str] = attrs.field(factory=list)
    acquisition: dict[str, str] = attrs.field(factory=dict)
    stage: str | None = None
    reason_codes: list[str] = attrs.field(factory=list)


def _facets(facts: DatasetFacts) -> dict[str, Any]:
    if not facts.schema:
        return {}
    fields = [schema_dataset.SchemaDatasetFacetFields(name=name, type=kind) for name, kind in facts.schema]
    return {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}


def _input(facts: DatasetFacts) -> InputDataset:
    input_facets: dict[str, Any] = {}
    if facts.assertions:
        assertions = [
            data_quality_assertions_dataset.Assertion(assertion=a.assertion, success=a.success, column=a.column)
            for a in facts.assertions
        ]
        input_facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=assertions
        )
    return InputDataset(facts.namespace, facts.name, inputFacets=input_facets, facets=_facets(facts))


def operator_lineage(facts: StepFacts) -> OperatorLineage:
    """OpenLineage's view of one step: its datasets, their schema and GX facets, and the decision run facet."""
    run_facets: dict[str, Any] = {}
    if facts.decision is not None:
        run_facets[DECISION_FACET] = KakuninDecisionRunFacet(**facts.decision)
    return OperatorLineage(
        inputs=[_input(f) for f in facts.inputs],
        outputs=[OutputDataset(f.namespace, f.name, facets=_facets(f)) for f in facts.outputs],
        run_facets=run_facets,
    )
