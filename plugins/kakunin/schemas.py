"""JSON Schemas of Kakunin's documents, generated from the models into `lineage/`.

`python -m kakunin.schemas` rewrites them; `--check` exits 1 when a file is stale, which
a test also asserts, so the published formats never drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel

from kakunin.approvals import Approval, IntakePolicy
from kakunin.audit.formats import ReviewReport, SignOff
from kakunin.audit.pack_formats import EvidencePack
from kakunin.batches import Rejection, Submission
from kakunin.contracts import DatasetContract, PurposeRegister
from kakunin.exports.formats import ExportReceipt
from kakunin.exports.schedule import ScheduledExports
from kakunin.lineage.checkpoint import Checkpoint
from kakunin.lineage.corrections import Correction, CorrectionLink
from kakunin.lineage.formats import (
    MANIFEST_SCHEMA,
    AuditEntry,
    Certificate,
    CertificateLink,
    ChainLink,
    Commit,
    ErasureRequest,
    Hold,
    HoldRelease,
    ManifestHeader,
    StoredReceipt,
)
from kakunin.provenance.findings import Verdict
from kakunin.provenance.model import ProvenanceDocument
from kakunin.subjects.formats import RequestClosing, StopResumed, StopUse, SubjectRequest, Suppression
from kakunin.subjects.identifiers import INDEX_SCHEMA
from kakunin.yaml_io import json_text

SCHEMAS: dict[str, type[BaseModel]] = {
    "provenance-document.v2.schema.json": ProvenanceDocument,
    "provenance-verdict.schema.json": Verdict,
    "dataset-contract.schema.json": DatasetContract,
    "purposes.schema.json": PurposeRegister,
    "submission.schema.json": Submission,
    "rejection.schema.json": Rejection,
    "manifest-header.schema.json": ManifestHeader,
    "manifest-chain-link.schema.json": ChainLink,
    "receipt.schema.json": StoredReceipt,  # v1 and v2 receipts
    "audit-entry.schema.json": AuditEntry,
    "curated-commit.schema.json": Commit,
    "purge-certificate.schema.json": Certificate,
    "certificate-chain-link.schema.json": CertificateLink,
    "legal-hold.schema.json": Hold,
    "legal-hold-release.schema.json": HoldRelease,
    "erasure-request.schema.json": ErasureRequest,
    "checkpoint.schema.json": Checkpoint,
    "correction.schema.json": Correction,
    "correction-chain-link.schema.json": CorrectionLink,
    "subject-request.schema.json": SubjectRequest,
    "subject-request-closing.schema.json": RequestClosing,
    "suppression.schema.json": Suppression,
    "stop-use.schema.json": StopUse,
    "stop-resumed.schema.json": StopResumed,
    "evidence-pack.schema.json": EvidencePack,
    "audit-review.schema.json": ReviewReport,
    "audit-sign-off.schema.json": SignOff,
    "export-receipt.schema.json": ExportReceipt,
    "scheduled-exports.schema.json": ScheduledExports,
    "approval.schema.json": Approval,
    "intake-policy.schema.json": IntakePolicy,
}
PARQUET_COLUMNS = "manifest-parquet.columns.json"
INDEX_COLUMNS = "subject-index.columns.json"


def render_parquet_columns(schema: pa.Schema = MANIFEST_SCHEMA, file: str = "manifest.parquet") -> str:
    """A Parquet file's columns and Arrow types, for readers without Kakunin."""
    columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
    return json_text({"file": file, "columns": columns}) + "\n"


def _rendered() -> dict[str, str]:
    return {
        **{name: render(model) for name, model in SCHEMAS.items()},
        PARQUET_COLUMNS: render_parquet_columns(),
        INDEX_COLUMNS: render_parquet_columns(INDEX_SCHEMA, "subjects/index/<dataset>/<batch_id>.parquet"),
    }


def lineage_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "lineage"


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json_text(schema) + "\n"


def stale_files(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from what the models generate."""
    return [
        name
        for name, text in _rendered().items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str]) -> int:
    directory = lineage_dir()
    if "--check" in argv:
        stale = stale_files(directory)
        for name in stale:
            print(f"stale: lineage/{name} (run `make schemas`)", file=sys.stderr)
        return 1 if stale else 0
    directory.mkdir(exist_ok=True)
    for name, text in _rendered().items():
        (directory / name).write_text(text, encoding="utf-8")
        print(f"wrote lineage/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
