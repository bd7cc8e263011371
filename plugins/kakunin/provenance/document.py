"""Reading a provenance document from a batch folder and judging it.

This is the edge around the pure checks: it finds the document, reads it with a size
limit, turns syntax and shape problems into `schema` findings, inspects evidence files,
and hands the rest to `checks.check_document`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kakunin.codes import ReasonCode
from kakunin.contracts import Registry, format_location
from kakunin.errors import InputError
from kakunin.hashing import sha256_bytes
from kakunin.provenance.checks import CheckContext, check_document
from kakunin.provenance.checks.todo import todo_message
from kakunin.provenance.evidence import inspect_evidence
from kakunin.provenance.fields import is_todo
from kakunin.provenance.findings import Finding, Verdict, decide
from kakunin.provenance.model import DOCUMENT_ID_PATTERN, KINDS, ProvenanceDocument
from kakunin.yaml_io import DocumentSyntaxError, parse_mapping

DOCUMENT_NAMES = ("provenance.yaml", "provenance.yml", "provenance.json")
MAX_DOCUMENT_BYTES = 1 << 20
_PRUNE_ROUNDS = 8


@dataclass
class ParsedDocument:
    """A document as read: its bytes' hash, the model if its shape is valid, and schema findings."""

    path: Path | None
    sha256: str | None
    document: ProvenanceDocument | None
    findings: list[Finding] = field(default_factory=list)
    raw_document_id: str | None = None
    pruned_paths: set[str] = field(default_factory=set)


def locate_document(path: Path) -> tuple[Path, Path | None]:
    """(batch folder, document file or None) for a folder or a document path.

    A linked document is refused like a linked data file: a link could point anywhere,
    and what is judged must be what is copied.
    """
    if path.is_symlink() and not path.is_dir():
        raise InputError(f"{path}: the provenance document must be a regular file, not a link")
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        return path.parent, path
    if not path.is_dir():
        raise InputError(f"{path}: not a file or folder")
    found = [path / name for name in DOCUMENT_NAMES if (path / name).is_file() or (path / name).is_symlink()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"{path}: more than one provenance document ({names}); keep exactly one")
    if found and (found[0].is_symlink() or not found[0].is_file()):
        raise InputError(f"{found[0]}: the provenance document must be a regular file, not a link or a folder")
    return path, (found[0] if found else None)


def read_document(doc_path: Path | None) -> ParsedDocument:
    """Read and shape-check a document; never raises for bad content, only for unreadable files."""
    if doc_path is None:
        return _schema_only(
            None, None, "", f"no provenance document in the batch folder ({' or '.join(DOCUMENT_NAMES)})"
        )
    try:
        with doc_path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{doc_path}: cannot be read: {exc.strerror}") from exc
    sha256 = sha256_bytes(raw) if len(raw) <= MAX_DOCUMENT_BYTES else None
    if len(raw) > MAX_DOCUMENT_BYTES:
        size = doc_path.stat().st_size
        return _schema_only(
            doc_path,
            None,
            "",
            f"the document is {size:,} bytes; a provenance document is at most {MAX_DOCUMENT_BYTES:,}",
        )
    if b"\x00" in raw:
        return _schema_only(doc_path, sha256, "", "the document is a binary file, not YAML or JSON text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _schema_only(
            doc_path, sha256, "", f"the document is not UTF-8 text (byte {exc.start}); save it as UTF-8 and retry"
        )
    try:
        data = parse_mapping(text, json_only=doc_path.suffix.lower() == ".json")
    except DocumentSyntaxError as exc:
        return _schema_only(doc_path, sha256, "", str(exc))
    return validate_mapping(data, path=doc_path, sha256=sha256)


def validate_mapping(data: dict[str, Any], *, path: Path | None = None, sha256: str | None = None) -> ParsedDocument:
    """Shape-check a parsed mapping; on schema errors, salvage what can be checked anyway.

    Every schema error is reported. The offending fields are then dropped and the rest
    validated again, so the person also sees the other findings; findings at dropped
    fields are suppressed later, since they only echo the schema error.
    """
    raw_id = data.get("document_id")
    document_id = raw_id if isinstance(raw_id, str) and re.fullmatch(DOCUMENT_ID_PATTERN, raw_id) else None
    if data.get("kind") not in KINDS:
        found = data.get("kind")
        expected = " or ".join(repr(k) for k in KINDS)
        message = (
            f"kind must be {expected}; found {found!r}"
            if found is not None
            else f"kind is missing; expected {expected}"
        )
        return ParsedDocument(path, sha256, None, [_schema("kind", message)], document_id)
    try:
        return ParsedDocument(path, sha256, ProvenanceDocument.model_validate(data), [], document_id)
    except ValidationError as exc:
        findings = [_schema(format_location(err["loc"]), _describe(err)) for err in exc.errors()]
    work = copy.deepcopy(data)
    pruned: set[str] = set()
    for _ in range(_PRUNE_ROUNDS):
        try:
            document = ProvenanceDocument.model_validate(work)
        except ValidationError as exc:
            if not _prune(work, exc, pruned):
                break
            continue
        return ParsedDocument(path, sha256, document, findings, document_id, pruned)
    return ParsedDocument(path, sha256, None, findings, document_id, pruned)


def _prune(data: dict[str, Any], exc: ValidationError, pruned: set[str]) -> bool:
    """Drop the fields behind each error; False when an error cannot be pruned away."""
    progressed = False
    for err in exc.errors():
        loc = list(err["loc"])
        if err["type"] == "missing":
            loc = loc[:-1]  # a required field is missing: drop the object that needs it
        if len(loc) == 0 or isinstance(loc[-1], int):
            return False  # a top-level requirement, or a list item: nothing sensible to drop
        container: Any = data
        for part in loc[:-1]:
            try:
                container = container[part]
            except (KeyError, IndexError, TypeError):
                container = None
                break
        if isinstance(container, dict) and loc[-1] in container:
            del container[loc[-1]]
            pruned.add(format_location(tuple(loc)))
            progressed = True
    return progressed


def _schema(path: str, message: str) -> Finding:
    return Finding.of(ReasonCode.SCHEMA, path, message)


def _schema_only(path: Path | None, sha256: str | None, where: str, message: str) -> ParsedDocument:
    return ParsedDocument(path, sha256, None, [_schema(where, message)])


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field (not part of kakunin.provenance/v1 or /v2)",
}


def _describe(err: Any) -> str:
    """A person-readable message for a pydantic error; values are quoted only for code-like fields.

    A `TODO` placeholder in a field with allowed values, a pattern or a date says "fill in <path>".
    """
    value = err.get("input")
    if is_todo(value):
        return f"{todo_message(format_location(err['loc']), value)}; {_plain(err)}"
    if err["type"] in _MESSAGES:
        return str(_MESSAGES[err["type"]])
    message = _plain(err)
    if (
        err["type"] in {"enum", "literal_error", "string_pattern_mismatch"}
        and isinstance(value, str)
        and len(value) <= 64
    ):
        return f"{message}; found {value!r}"
    return message


def _plain(err: Any) -> str:
    return str(_MESSAGES.get(err["type"], str(err["msg"]).removeprefix("Value error, ")))


def _suppressed(finding: Finding, pruned: set[str]) -> bool:
    return any(finding.path == p or finding.path.startswith((p + ".", p + "[")) for p in pruned)


def check_path(path: Path, *, registry: Registry, today: date) -> Verdict:
    """Judge the batch folder or document at `path`; raises `InputError` only if it cannot be read."""
    batch_dir, doc_path = locate_document(path)
    parsed = read_document(doc_path)
    return judge(parsed, batch_dir=batch_dir, registry=registry, today=today)


def judge(parsed: ParsedDocument, *, batch_dir: Path, registry: Registry, today: date) -> Verdict:
    """The verdict for a parsed document whose evidence lives in `batch_dir`."""
    findings = list(parsed.findings)
    document = parsed.document
    if document is not None:
        context = CheckContext(
            contract=registry.contract(document.dataset),
            registered_purposes=registry.purposes.ids,
            today=today,
            evidence_states=inspect_evidence(batch_dir, document.evidence),
            denied=tuple(registry.denied.denied),
        )
        findings += [f for f in check_document(document, context) if not _suppressed(f, parsed.pruned_paths)]
    return Verdict(
        document_id=document.document_id if document else parsed.raw_document_id,
        decision=decide(findings),
        findings=findings,
        dataset=document.dataset if document else None,
        document_sha256=parsed.sha256,
    )
