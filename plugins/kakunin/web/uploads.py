"""A batch sent through the browser or the API, staged as the batch folder `provenance submit` takes.

What a browser sends is a document, a data file and evidence files, each with a name the
client chose. Those names are shown, never used as paths: the server names the document and
the data file itself (`provenance.yaml|json`, `data.csv|parquet`, by their content), and puts
each evidence file where the document's `evidence[].file` says, matched by the SHA-256 the
server computes (else by its base name, so the gate can report the hash that differs). The
document's paths are checked by the gate's own rule (`normalise_evidence_path`) first.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pydantic import BaseModel, Field

from kakunin.batches import DATA_FILES, SubmitResult, submit_batch
from kakunin.contracts import Registry
from kakunin.errors import InputError
from kakunin.hashing import sha256_file
from kakunin.provenance.document import DOCUMENT_NAMES, MAX_DOCUMENT_BYTES
from kakunin.provenance.evidence import normalise_evidence_path
from kakunin.provenance.findings import Finding
from kakunin.scratch import scratch_dir
from kakunin.storage import ObjectStore

RESERVED = frozenset({*DOCUMENT_NAMES, *DATA_FILES})  # an evidence path may not take a batch's own names
MAX_EVIDENCE_PATH = 200
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Upload:
    """One file as the client sent it: the name it gave (for display only) and its bytes as a stream."""

    filename: str
    stream: BinaryIO


class UploadResult(BaseModel):
    """What `POST /kakunin/api/batches` answers: the gate's decision and findings (as `provenance check
    --json`), the landed batch's id (null when refused), and what happened to each evidence upload."""

    batch_id: str | None = Field(description="the landed batch; null when the gate refused it")
    decision: str = Field(description="accepted | rejected")
    findings: list[Finding]
    rejection_id: str | None = Field(default=None, description="the recorded rejection of a refused batch")
    dataset: str | None = None
    document_id: str | None = None
    evidence_not_used: list[str] = Field(
        default_factory=list, description="evidence uploads the document does not name (shown by their names)"
    )

    @classmethod
    def of(cls, result: SubmitResult, *, unused: list[str]) -> UploadResult:
        verdict = result.verdict
        return cls(
            batch_id=result.batch_id if result.landed else None,
            decision=verdict.decision,
            findings=verdict.findings,
            rejection_id=None if result.landed else result.batch_id,
            dataset=verdict.dataset,
            document_id=verdict.document_id,
            evidence_not_used=unused,
        )


def display_name(filename: str | None) -> str:
    """A client's file name fit to show: no path, no control characters, at most 120 characters."""
    raw = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in unicodedata.normalize("NFC", raw) if unicodedata.category(c)[0] != "C")
    return cleaned.strip()[:120] or "(unnamed)"


def _copy(upload: Upload, target: Path, *, limit: int | None = None) -> int:
    """Copy an upload to `target` (a name the server chose); its size."""
    upload.stream.seek(0)
    with target.open("xb") as out:
        shutil.copyfileobj(upload.stream, out, 1 << 20)
    size = target.stat().st_size
    if limit is not None and size > limit:
        raise InputError(f"{display_name(upload.filename)}: the document is over {limit // 1024} KiB")
    return size


def _document_name(head: bytes) -> str:
    return "provenance.json" if head.lstrip()[:1] in (b"{", b"[") else "provenance.yaml"


def _data_name(head: bytes) -> str:
    return "data.parquet" if head.startswith(PARQUET_MAGIC) else "data.csv"


def _head(upload: Upload) -> bytes:
    upload.stream.seek(0)
    head = upload.stream.read(64)
    upload.stream.seek(0)
    return head


def _evidence_entries(document: Path) -> list[tuple[str, str | None]]:
    """(normalised file, sha256) of each evidence entry a readable document names; [] otherwise (the gate says why)."""
    from kakunin.yaml_io import DocumentSyntaxError, parse_mapping

    try:
        mapping = parse_mapping(document.read_text(encoding="utf-8"))
    except (DocumentSyntaxError, UnicodeDecodeError, ValueError):
        return []
    entries = mapping.get("evidence")
    found: list[tuple[str, str | None]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            continue
        normalised = normalise_evidence_path(entry["file"])
        if normalised is None or normalised in RESERVED or len(normalised) > MAX_EVIDENCE_PATH:
            continue  # the gate reports an unsafe path; nothing is written there
        sha = entry.get("sha256")
        found.append((normalised, sha.strip().lower() if isinstance(sha, str) else None))
    return found


def _place_evidence(
    folder: Path, spool: Path, uploads: list[Upload], entries: list[tuple[str, str | None]]
) -> list[str]:
    """Put each evidence upload where the document names it; the names of the uploads left unused."""
    staged: list[tuple[Upload, Path, str]] = []
    for n, upload in enumerate(uploads):
        spooled = spool / f"evidence-{n}"
        _copy(upload, spooled)
        staged.append((upload, spooled, sha256_file(spooled)))
    used: set[int] = set()
    for file, sha in entries:
        target = folder / PurePosixPath(file)
        if target.exists():
            continue
        by_hash = [i for i, (_, _, digest) in enumerate(staged) if digest == sha and i not in used]
        by_name = [
            i
            for i, (upload, _, _) in enumerate(staged)
            if display_name(upload.filename) == PurePosixPath(file).name and i not in used
        ]
        if not by_hash and not by_name:
            continue  # the gate reports evidence.missing
        chosen = (by_hash or by_name)[0]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged[chosen][1], target)
        except OSError:
            continue  # a path through another file (`data.csv/x`, `a` then `a/b`): the gate reports it missing
        used.add(chosen)
    return [display_name(upload.filename) for i, (upload, _, _) in enumerate(staged) if i not in used]


@contextmanager
def staged_batch(
    *, document: Upload, data: Upload, evidence: list[Upload], max_evidence: int
) -> Iterator[tuple[Path, list[str]]]:
    """A temporary batch folder built from the uploads, and the evidence uploads it did not use; removed after."""
    if len(evidence) > max_evidence:
        raise InputError(f"{len(evidence)} evidence files: at most {max_evidence} (KAKUNIN_WEB_MAX_EVIDENCE_FILES)")
    if not _head(data):
        raise InputError(f"{display_name(data.filename)}: the data file is empty")
    if not _head(document):
        raise InputError(f"{display_name(document.filename)}: the provenance document is empty")
    with scratch_dir("upload") as tmp:
        folder, spool = Path(tmp) / "batch", Path(tmp) / "spool"
        folder.mkdir()
        spool.mkdir()
        doc_path = folder / _document_name(_head(document))
        _copy(document, doc_path, limit=MAX_DOCUMENT_BYTES)
        _copy(data, folder / _data_name(_head(data)))
        unused = _place_evidence(folder, spool, evidence, _evidence_entries(doc_path))
        yield folder, unused


def submit_upload(
    *,
    document: Upload,
    data: Upload,
    evidence: list[Upload],
    store: ObjectStore,
    registry: Registry,
    today: date,
    now: datetime,
    max_evidence: int,
) -> UploadResult:
    """Check the uploaded batch and land it if accepted (`submit_batch`, as `provenance submit` does).

    Call it inside the user's `acting` block: the submission and its audit entry name them.
    """
    with staged_batch(document=document, data=data, evidence=evidence, max_evidence=max_evidence) as (folder, unused):
        return UploadResult.of(
            submit_batch(folder, store=store, registry=registry, today=today, now=now), unused=unused
        )


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def evidence_file_name(index: int, filename: str) -> str:
    """The server's name for the `index`-th evidence file of a document the step-by-step form writes:
    `evidence/E<n>-<ascii name>`, so a client's name never becomes a path as given."""
    shown = PurePosixPath(display_name(filename))
    suffix = _SAFE.sub("", shown.suffix.lstrip("."))[:10]
    stem = _SAFE.sub("-", shown.stem if suffix else shown.name).strip("-.")[:60] or "file"
    return f"evidence/E{index}-{stem}{'.' + suffix if suffix else ''}"
