"""Rewriting a kakunin.provenance/v1 document as v2, leaving `TODO` where only a person can decide.

v2 asks for facts v1 never recorded (how the provider received the data, who collected
it, what the opt-out filing covers, the block of each ground). Those cannot be guessed, so
the upgrade writes a `TODO` placeholder for each; the gate refuses every placeholder with
"fill in <path>", so an upgraded document fails exactly where staff still have work to do.
What the upgrade does know it fills in: the `kind`, a contractor's `country` (JP unless
said, as the spec defines it), and the party of an entrustment or a succession, which is
the provider itself (the 委託元 or the predecessor handed us the data).

Everything here is a pure function over the parsed mapping; the caller reads and writes
files. Key order and Japanese text survive (the mapping keeps its order and is written
with `allow_unicode`); comments do not.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kakunin.provenance.fields import TODO, is_todo
from kakunin.provenance.model import KIND_V1, KIND_V2

__all__ = ["Upgrade", "add_v2_needs", "todo_paths", "upgrade_mapping"]

_GROUND_BLOCKS = ("entrustment", "joint_use", "succession", "legal_obligation")
_BLOCK_ORDER = ("legal_ground", "consent", "opt_out", *_GROUND_BLOCKS)


def _todo(hint: str) -> str:
    return f"{TODO}: {hint}"


@dataclass(frozen=True)
class Upgrade:
    """The v2 document, whether the input already was v2, and the paths a person must fill in."""

    document: dict[str, Any]
    already_v2: bool
    todos: list[str] = field(default_factory=list)
    filled_from_provider: list[str] = field(default_factory=list)


def upgrade_mapping(data: dict[str, Any]) -> Upgrade:
    """The v2 form of a v1 document (a v2 one is returned unchanged); `ValueError` for any other kind."""
    kind = data.get("kind")
    if kind == KIND_V2:
        return Upgrade(document=data, already_v2=True, todos=todo_paths(data))
    if kind != KIND_V1:
        raise ValueError(f"kind must be {KIND_V1!r} (or {KIND_V2!r}, already upgraded); found {kind!r}")
    document = copy.deepcopy(data)
    document["kind"] = KIND_V2
    document, filled = add_v2_needs(document)
    return Upgrade(document=document, already_v2=False, todos=todo_paths(document), filled_from_provider=filled)


def add_v2_needs(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Add every v2 field the document's ground and source need, `TODO` where unknown.

    Returns the new mapping and the paths filled from the provider block. Fields already
    present are kept as they are: this only adds.
    """
    document = dict(document)
    acquisition = document.get("acquisition")
    if isinstance(acquisition, dict) and acquisition.get("source") == "another_business":
        document["acquisition"] = _with_chain(acquisition)
    ground = document.get("legal_ground")
    filled: list[str] = []
    block = _ground_block(ground, document.get("provider"))
    if block is not None:
        name, template, filled = block
        existing = document.get(name)
        if isinstance(existing, dict):
            document[name] = merge_missing(existing, template)
            filled = [p for p in filled if p.split(".")[1] not in existing]
        elif existing is None:
            document = insert_after(document, name, template, _BLOCK_ORDER)
        else:
            filled = []
    if isinstance(document.get("contractors"), list):
        document["contractors"] = [_with_country(c) for c in document["contractors"]]
    if document.get("eu_origin") is True:
        gdpr = document.get("gdpr")
        template = _gdpr_template()
        if isinstance(gdpr, dict):
            document["gdpr"] = merge_missing(gdpr, template)
        elif gdpr is None:
            document = insert_after(document, "gdpr", template, ("eu_origin",))
    return document, filled


def _with_chain(acquisition: dict[str, Any]) -> dict[str, Any]:
    """`received_by`, and a collector at the end of `upstream` when the chain does not end in one."""
    acquisition = dict(acquisition)
    if "received_by" not in acquisition:
        acquisition = insert_after(
            acquisition, "received_by", _todo("how the provider got it: consent, opt_out, ..."), ("source", "method")
        )
    upstream = acquisition.get("upstream")
    if upstream is None:
        upstream = []
        acquisition = insert_after(acquisition, "upstream", upstream, tuple(acquisition))
    if not isinstance(upstream, list):
        return acquisition
    upstream = list(upstream)
    last = upstream[-1] if upstream else None
    if isinstance(last, dict) and last.get("legal_ground") == "collected":
        upstream[-1] = merge_missing(last, _collector_template())
    else:
        upstream.append(_collector_template())
    acquisition["upstream"] = upstream
    return acquisition


def _collector_template() -> dict[str, Any]:
    return {
        "legal_name": _todo("the business that collected it from the people"),
        "address": TODO,
        "legal_ground": "collected",
        "collection_method": _todo("web_form | paper_form | event | referral | public_registry"),
        "evidence": _todo("[ids] of kind consent_record or privacy_notice"),
    }


def _party_from(provider: Any, path: str) -> tuple[dict[str, Any], list[str]]:
    """The provider's name and address as the client or predecessor; TODO where the provider has none."""
    party: dict[str, Any] = {}
    filled = []
    for key in ("legal_name", "address"):
        value = provider.get(key) if isinstance(provider, dict) else None
        if isinstance(value, str) and value.strip() and not is_todo(value):
            party[key] = value
            filled.append(f"{path}.{key}")
        else:
            party[key] = TODO
    return party, filled


def _ground_block(ground: Any, provider: Any) -> tuple[str, dict[str, Any], list[str]] | None:
    """(block name, template, paths filled from the provider) for a ground v2 gives a block, else None."""
    if ground == "opt_out":
        return (
            "opt_out",
            {
                "ppc_filing_id": TODO,
                "published_on": _todo("YYYY-MM-DD, on or before received_on"),
                "items": _todo("[categories] as filed with the PPC"),
                "evidence": _todo("[ids] of kind ppc_filing"),
            },
            [],
        )
    if ground == "entrustment":
        client, filled = _party_from(provider, "entrustment.client")
        template = {
            "client": client,
            "scope": _todo("委託の範囲"),
            "return_by": _todo("YYYY-MM-DD"),
            "evidence": _todo("[ids] of kind contract"),
        }
        return "entrustment", template, filled
    if ground == "business_succession":
        predecessor, filled = _party_from(provider, "succession.predecessor")
        template = {
            "predecessor": predecessor,
            "effective_on": _todo("YYYY-MM-DD"),
            "purposes": _todo("[purpose ids] the predecessor specified"),
            "evidence": _todo("[ids] of kind contract"),
        }
        return "succession", template, filled
    if ground == "joint_use":
        template = {
            "responsible": {"legal_name": TODO, "address": TODO, "representative": TODO},
            "users": _todo("共同して利用する者の範囲"),
            "items": _todo("[categories] notified as jointly used"),
            "purposes": _todo("[purpose ids] notified for the joint use"),
            "notified_on": _todo("YYYY-MM-DD"),
            "evidence": _todo("[ids] of kind privacy_notice"),
        }
        return "joint_use", template, []
    if ground == "legal_obligation":
        return "legal_obligation", {"law": _todo("根拠法令"), "evidence": _todo("[ids]")}, []
    return None


def _gdpr_template() -> dict[str, Any]:
    return {
        "lawful_basis": TODO,
        "art14_notice": {"provided_on": _todo("YYYY-MM-DD"), "evidence": _todo("[ids]")},
        "purposes_at_transfer": _todo("[purpose ids] specified when the data left the EU"),
    }


def _with_country(contractor: Any) -> Any:
    """A contractor (and its sub-contractors, at any depth) with `country` written out: JP unless said."""
    if not isinstance(contractor, dict):
        return contractor
    result = (
        contractor if "country" in contractor else insert_after(contractor, "country", "JP", ("legal_name", "role"))
    )
    if isinstance(result.get("subcontractors"), list):
        result = {**result, "subcontractors": [_with_country(c) for c in result["subcontractors"]]}
    return result


def insert_after(mapping: dict[str, Any], key: str, value: Any, after: tuple[str, ...]) -> dict[str, Any]:
    """A copy of `mapping` with `key` placed after the last of `after` it has (at the end when none)."""
    anchor = next((k for k in reversed(after) if k in mapping), None)
    if anchor is None:
        return {**mapping, key: value}
    result: dict[str, Any] = {}
    for existing, existing_value in mapping.items():
        result[existing] = existing_value
        if existing == anchor:
            result[key] = value
    return result


def merge_missing(existing: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """`existing` with each key of `template` it lacks, placed after the template key before it."""
    result = dict(existing)
    keys = list(template)
    for i, key in enumerate(keys):
        if key not in result:
            result = insert_after(result, key, template[key], tuple(keys[:i]))
    return result


def todo_paths(data: Any, path: str = "") -> list[str]:
    """Every path (`acquisition.upstream[1].legal_name`) whose value is a `TODO` placeholder."""
    return list(_walk_todos(data, path))


def _walk_todos(data: Any, path: str) -> Iterator[str]:
    if is_todo(data):
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _walk_todos(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _walk_todos(item, f"{path}[{i}]")
