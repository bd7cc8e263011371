"""`TODO` placeholders left in free text: each is a finding saying "fill in <path>".

`kakunin provenance upgrade` and `draft` write `TODO` where only a person can decide. In
a field with allowed values or a date the model refuses it (a `schema` finding); in free
text it parses, and this check reports it under the code of the block it stands in, so
staff see it where they would look for that block's problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum

from pydantic import BaseModel

from kakunin.codes import ReasonCode as R
from kakunin.provenance.checks.base import CheckContext
from kakunin.provenance.fields import is_todo
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument

# (path prefix, code), first match wins; a path no prefix owns is `schema`.
_OWNERS: tuple[tuple[str, R], ...] = (
    ("approved_by", R.FOUR_EYES),
    ("submitted_by", R.FOUR_EYES),
    ("dataset", R.DATASET_UNKNOWN),
    ("provider.", R.PROVIDER_IDENTITY),
    ("acquisition.upstream", R.ACQUISITION_CHAIN),
    ("acquisition.", R.ACQUISITION_UNDOCUMENTED),
    ("consent.", R.LEGAL_GROUND_CONSENT),
    ("opt_out.", R.LEGAL_GROUND_OPT_OUT),
    ("entrustment.", R.GROUND_ENTRUSTMENT),
    ("joint_use.", R.GROUND_JOINT_USE),
    ("succession.", R.GROUND_SUCCESSION),
    ("legal_obligation.", R.GROUND_LEGAL_OBLIGATION),
    ("notice.", R.NOTICE_MISSING),
    ("purposes[", R.PURPOSE_UNREGISTERED),
    ("data_items[", R.DATA_ITEMS_UNDECLARED),
    ("contractors[", R.CONTRACTOR_UNAPPROVED),
    ("retention.", R.RETENTION_INVALID),
    ("gdpr.purposes_at_transfer", R.GDPR_PURPOSE_AT_TRANSFER),
    ("gdpr.", R.GDPR_MISSING),
)
_EVIDENCE_HASH = re.compile(r"^evidence\[\d+\]\.sha256$")


def todo_code(path: str) -> R:
    """The reason code a `TODO` at `path` is reported under."""
    if _EVIDENCE_HASH.match(path):
        return R.EVIDENCE_HASH_MISMATCH
    if path.startswith("evidence["):
        return R.EVIDENCE_MISSING
    return next((code for prefix, code in _OWNERS if path.startswith(prefix)), R.SCHEMA)


def todo_message(path: str, value: str) -> str:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return f"fill in {path}: it still says {shown!r}, left for a person to decide (provenance upgrade / draft)"


def _texts(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every plain text in a model, at any depth (enum values are not text here)."""
    if isinstance(value, Enum):
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _texts(getattr(value, name), f"{path}.{field.alias or name}" if path else field.alias or name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts(item, f"{path}[{i}]")


def check_todo(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    for path, text in _texts(doc, ""):
        if is_todo(text):
            yield Finding.of(todo_code(path), path, todo_message(path, text))
