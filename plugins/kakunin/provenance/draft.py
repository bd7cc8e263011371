"""A starting v2 document for a batch folder: the facts a machine can know, `TODO` for the rest.

Staff used to type every evidence file's SHA-256 by hand; a draft lists every file under
`evidence/` with its hash (and its size, as a comment: the document has no size field),
takes `data_items` from the dataset contract's personal columns, and leaves `TODO` where a
person must decide, which the gate refuses with "fill in <path>". The `document_id` is a
`TODO` too: ids are numbered from the company's register, and a made-up one would look
assigned when it is not.

`list_evidence_files` is the edge (it reads the folder and refuses links); `draft_document`
and `draft_text` are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from kakunin.contracts import DatasetContract
from kakunin.errors import InputError
from kakunin.hashing import sha256_file
from kakunin.provenance.evidence import normalise_evidence_path
from kakunin.provenance.fields import TODO
from kakunin.provenance.model import KIND_V2, EvidenceKind
from kakunin.provenance.upgrade import add_v2_needs
from kakunin.yaml_io import dump_yaml

__all__ = ["EvidenceFile", "draft_document", "draft_text", "evidence_id_for", "guess_kind", "list_evidence_files"]

EVIDENCE_FOLDER = "evidence"
MAX_EVIDENCE_FILES = 1000

# (words in the file name, kind); the first match wins, so 委託契約書 is a dpa, not a contract.
_KIND_WORDS: tuple[tuple[tuple[str, ...], EvidenceKind], ...] = (
    (("dpa", "委託"), EvidenceKind.DPA),
    (("ppc", "opt-out", "optout", "opt_out", "オプトアウト", "届出"), EvidenceKind.PPC_FILING),
    (("consent", "同意"), EvidenceKind.CONSENT_RECORD),
    (("privacy", "notice", "プライバシー", "個人情報保護方針", "公表"), EvidenceKind.PRIVACY_NOTICE),
    (("security", "セキュリティ", "安全管理"), EvidenceKind.SECURITY_REVIEW),
    (("transfer", "越境", "外国"), EvidenceKind.FOREIGN_TRANSFER),
    (("contract", "agreement", "契約"), EvidenceKind.CONTRACT),
)


@dataclass(frozen=True)
class EvidenceFile:
    """A file under `evidence/`: its path relative to the batch folder, its SHA-256 and size."""

    file: str
    sha256: str
    size: int


def list_evidence_files(batch_dir: Path) -> list[EvidenceFile]:
    """Every file under `batch_dir/evidence/`, hashed, in path order; `InputError` for a link or an unsafe name.

    A link is refused, not followed: the gate refuses evidence behind a link, and a draft
    must not hash a file outside the folder. Hidden files (`.DS_Store`) are left out.
    """
    folder = batch_dir / EVIDENCE_FOLDER
    if folder.is_symlink():
        raise InputError(f"{folder}: is a link; put the evidence files themselves in the batch folder")
    if not folder.is_dir():
        return []
    found: list[EvidenceFile] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(batch_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.is_symlink():
            raise InputError(f"{relative}: is a link; copy the file itself into {EVIDENCE_FOLDER}/ (links are refused)")
        if path.is_dir():
            continue
        if not path.is_file():
            raise InputError(f"{relative}: is not a regular file")
        if normalise_evidence_path(relative) != relative:
            raise InputError(f"{relative}: a file name the gate cannot accept (backslash or drive letter); rename it")
        if len(found) >= MAX_EVIDENCE_FILES:
            raise InputError(f"{folder}: more than {MAX_EVIDENCE_FILES} files; is this the right folder?")
        try:
            found.append(EvidenceFile(file=relative, sha256=sha256_file(path), size=path.stat().st_size))
        except OSError as exc:
            raise InputError(f"{relative}: cannot be read: {exc.strerror}") from exc
    return found


def evidence_id_for(file: str, taken: set[str]) -> str:
    """An evidence id from the file name (`evidence/contract 2026.pdf` → `contract-2026`), unique among `taken`.

    Ids allow only ASCII letters, digits, `.`, `_` and `-`; a name with none of those
    (`同意画面.pdf`) gets `evidence-<n>`.
    """
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file).stem).strip("-._")[:100]
    if not base:
        n = len(taken) + 1
        while f"evidence-{n}" in taken:
            n += 1
        return f"evidence-{n}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def guess_kind(file: str) -> EvidenceKind | None:
    """The evidence kind when the file name says it plainly (`consent-screens.pdf`), else None."""
    name = Path(file).name.lower()
    return next((kind for words, kind in _KIND_WORDS if any(w in name for w in words)), None)


def draft_document(
    *,
    evidence: list[EvidenceFile],
    dataset: str | None,
    contract: DatasetContract | None,
    received_on: date,
    ground: str | None = None,
) -> dict[str, Any]:
    """The starting document: known facts filled in, `TODO` wherever a person must decide."""
    purposes: Any = TODO
    if contract is not None and len(contract.allowed_purposes) == 1:
        purposes = list(contract.allowed_purposes)  # the only purpose the dataset allows
    data_items: Any = _todo("pass --dataset to fill these in from the contract")
    special_care: Any = _todo("true if 要配慮個人情報 is present")
    if contract is not None:
        data_items = [{"column": c.name, "category": c.category} for c in contract.personal_columns]
        special_care = bool(contract.special_care_columns)
    taken: set[str] = set()
    entries = []
    for item in evidence:
        evidence_id = evidence_id_for(item.file, taken)
        taken.add(evidence_id)
        kind = guess_kind(item.file)
        entries.append(
            {"id": evidence_id, "kind": kind.value if kind else TODO, "file": item.file, "sha256": item.sha256}
        )
    document: dict[str, Any] = {
        "kind": KIND_V2,
        "document_id": _todo("PRV-YYYY-NNNNNN, the next number in your register"),
        "dataset": dataset or TODO,
        "received_on": received_on,
        "submitted_by": _todo("your staff id"),
        "approved_by": _todo("a second employee's staff id"),
        "provider": {
            "kind": _todo("business | public_body"),
            "legal_name": TODO,
            "address": TODO,
            "representative": TODO,
            "corporate_number": _todo("13 digits, or delete this line"),
            "country": _todo("JP, or the ISO 3166 code of its country"),
        },
        "acquisition": {
            "source": _todo("data_subjects | another_business | public_source"),
            "method": _todo("web_form | paper_form | event | referral | purchase | public_registry | other"),
            "description": TODO,
            "period": {"from": _todo("YYYY-MM-DD"), "to": _todo("YYYY-MM-DD")},
            "received_by": _todo("with another_business: consent, opt_out, ...; else delete"),
            "evidence": _todo("[evidence ids]"),
            "upstream": _todo("[] unless another_business: earlier holders, the collector last"),
        },
        "legal_ground": ground or _todo("consent | opt_out | entrustment | business_succession | joint_use | ..."),
    }
    if ground == "consent":
        document["consent"] = {
            "mechanism": _todo("web_checkbox | signed_form | verbal_recorded | other"),
            "purposes": _todo("[purpose ids] consented to"),
            "obtained_between": {"from": _todo("YYYY-MM-DD"), "to": _todo("YYYY-MM-DD")},
            "evidence": _todo("[ids] of kind consent_record"),
        }
    document, _ = add_v2_needs(document)
    if ground != "entrustment":  # entrusted data: the client's notice covers it (entrustment.scope)
        document["notice"] = {
            "method": _todo("published | notified"),
            "url": _todo("https://..., when published"),
            "version_date": _todo("YYYY-MM-DD"),
            "purposes": _todo("[purpose ids]"),
        }
    document |= {
        "purposes": purposes,
        "data_items": data_items,
        "special_care": special_care,
        "contractors": _todo("[] if nobody else handled the data"),
        "retention": {"period": _todo("ISO 8601, e.g. P3Y"), "clock": "received_on", "basis": TODO},
        "eu_origin": _todo("true | false"),
        "evidence": entries,
        "attestations": {
            "no_confidential_markings": _todo("true once checked"),
            "no_payment_card_data": _todo("true once checked"),
            "provider_identity_verified": _todo("true once checked"),
        },
    }
    return document


def _todo(hint: str) -> str:
    return f"{TODO}: {hint}"


def draft_text(document: dict[str, Any], *, sizes: dict[str, int], source: str) -> str:
    """The draft as YAML, each evidence entry on one line with its size as a comment."""
    head = (
        f"# Draft provenance document for {source}, written by `kakunin provenance draft`.\n"
        "# Replace every TODO (the gate refuses each with 'fill in <path>'); see docs/provenance-guide.md.\n"
    )
    keys = list(document)
    split = keys.index("evidence") if "evidence" in keys else len(keys)
    before = dump_yaml({k: document[k] for k in keys[:split]})
    after = {k: document[k] for k in keys[split + 1 :]}
    entries = document.get("evidence", [])
    lines = ["evidence:" + ("" if entries else " []  # no files under evidence/")]
    for entry in entries:
        flow = yaml.safe_dump(entry, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000)
        size = sizes.get(entry["file"])
        comment = f"  # {size:,} bytes" if size is not None else ""
        lines.append(f"  - {flow.strip()}{comment}")
    return head + before + "\n".join(lines) + "\n" + (dump_yaml(after) if after else "")
