"""Strict, safe reading of YAML and JSON documents written by people, and the one JSON writer.

PyYAML's defaults are wrong for documents about people and companies: YAML 1.1 turns
`NO` (Norway) into False, silently keeps the last of two equal keys, and expands
aliases without bound. This loader accepts only `true`/`false` as booleans, rejects
duplicate keys and aliases, and keeps unquoted dates as dates (an impossible one, such as
`2026-13-01`, as its text, for the schema check to report).

Kakunin's JSON (store documents, markers, `--json` output, schemas) is written by
`json_text`, `json_bytes` or `dump_json` here, so there is one spelling: UTF-8 kept as is,
keys in their order. Chain entries, whose bytes are hashed and linked, are written by
`lineage.chain.canonical_json`; lease records (and the bench's stand-in headers) keep
pydantic's compact `model_dump_json`, which these functions do not replace.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    import yaml

MAX_NESTING = 64
_TOO_DEEP = f"the document is nested too deeply (more than {MAX_NESTING} levels of mappings and lists)"


class DocumentSyntaxError(ValueError):
    """The text is not a well-formed YAML or JSON mapping; the message says where."""


# PyYAML is imported, and the loader and dumper made, on first use: most commands (`lineage trace`)
# only write JSON, and importing yaml costs them ~15 ms.
@functools.cache
def _strict_loader() -> tuple[type[yaml.SafeLoader], type[yaml.MarkedYAMLError]]:
    """(the strict loader, the error it raises for what it refuses)."""
    import yaml
    from yaml.nodes import MappingNode, Node, ScalarNode

    class _Refused(yaml.MarkedYAMLError):
        """Valid YAML that Kakunin refuses on purpose (aliases, duplicate keys)."""

    class _StrictLoader(yaml.SafeLoader):
        """SafeLoader with YAML 1.2 booleans, no aliases and no duplicate keys."""

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _Refused(
                    None, None, "YAML aliases (*name) are not allowed; write the value out in full", event.start_mark
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise _Refused(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
            """A date-shaped scalar that is no real day (`2026-13-01`) stays text, so the schema reports it."""
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError:
                return self.construct_scalar(node)

    _StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)
    _use_yaml12_booleans(_StrictLoader)
    return _StrictLoader, _Refused


def _use_yaml12_booleans(loader: type[yaml.SafeLoader]) -> None:
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:bool"]
        for first, entries in loader.yaml_implicit_resolvers.items()
    }
    loader.yaml_implicit_resolvers = resolvers
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )


def parse_mapping(text: str, *, json_only: bool = False) -> dict[str, Any]:
    """Parse a YAML (or JSON) document that must be a mapping at the top level."""
    import yaml

    strict_loader, refused_error = _strict_loader()
    try:
        if json_only:
            data = json.loads(text, object_pairs_hook=_reject_duplicate_json_keys)
        else:
            data = yaml.load(text, Loader=strict_loader)  # noqa: S506 - the strict loader is a SafeLoader
    except json.JSONDecodeError as exc:
        raise DocumentSyntaxError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except RecursionError as exc:
        raise DocumentSyntaxError(_TOO_DEEP) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        refused = isinstance(exc, refused_error)
        prefix = "refused" if refused else "not valid YAML"
        raise DocumentSyntaxError(f"{prefix}: {exc.problem or exc.context}{where}") from exc
    except yaml.YAMLError as exc:
        raise DocumentSyntaxError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        found = "an empty document" if data is None else f"a {type(data).__name__}"
        raise DocumentSyntaxError(f"expected a mapping of fields at the top level, found {found}")
    if nesting_depth(data) > MAX_NESTING:
        raise DocumentSyntaxError(_TOO_DEEP)
    return data


def nesting_depth(data: Any) -> int:
    """How many mappings and lists deep `data` goes, walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING:
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _reject_duplicate_json_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DocumentSyntaxError(f"not valid JSON: duplicate key {key!r}")
        result[key] = value
    return result


@functools.cache
def _plain_dumper() -> type[yaml.SafeDumper]:
    import yaml

    class _PlainDumper(yaml.SafeDumper):
        """SafeDumper that never writes anchors/aliases, which the strict loader refuses."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return _PlainDumper


def dump_yaml(data: Any) -> str:
    """YAML that `parse_mapping` reads back: UTF-8 text kept as is, keys in their order."""
    import yaml

    return yaml.dump(data, Dumper=_plain_dumper(), allow_unicode=True, sort_keys=False, width=120)


def json_text(data: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None) -> str:
    """`data` as JSON text: UTF-8 kept as is, keys in their order, indented by two (`indent=None`: one line).

    `default` turns values JSON has no type for into ones it has (as in `json.dumps`); without
    it such a value is a `TypeError`, which is what a document for the store wants.
    """
    return json.dumps(data, ensure_ascii=False, indent=indent, default=default)


def json_bytes(data: Any) -> bytes:
    """`data` as the indented UTF-8 JSON, ending in a newline, that Kakunin writes documents as."""
    return (json_text(data) + "\n").encode()


def dump_json(model: BaseModel) -> bytes:
    """A record as the indented UTF-8 JSON every Kakunin document in the store is written as."""
    return json_bytes(model.model_dump(mode="json"))
