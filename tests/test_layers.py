"""Which way imports go, and where store keys are spelled: the structure the auditor's trust rests on.

The lineage formats are a published contract and the auditor's checks (`lineage.verify`,
`lineage.trace`) must not trust the code that wrote the records, so `kakunin.lineage`
sits at the bottom and imports none of the writers. Store keys are built and parsed in
`kakunin.layout` alone, so writers and readers cannot drift apart.
Imports are read from the source (every `import`, also inside functions, except under
`if TYPE_CHECKING:`), so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kakunin

PACKAGE_ROOT = Path(kakunin.__file__).parent
PY_FILES = sorted(p for p in PACKAGE_ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str) -> set[str]:
    """Every kakunin module `tree` imports at run time (relative imports resolved)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from kakunin import audit`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name == "kakunin" or name.startswith("kakunin.")}


IMPORTS = {_module_of(p): _imports(ast.parse(p.read_text(encoding="utf-8")), _module_of(p)) for p in PY_FILES}
MODULES = set(IMPORTS)


def _real(names: set[str]) -> set[str]:
    """The imported names that are modules (drops `kakunin.layout.BatchRef`, keeps `kakunin.layout`)."""
    return {name for name in names if name in MODULES}


def _within(name: str, packages: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_import_reader_sees_what_it_must() -> None:
    """The reader is the test's eyes: it must find lazy imports and skip type-only ones."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from kakunin.layout import BatchRef\n"
        "if TYPE_CHECKING:\n    from kakunin.contracts import DatasetContract\n"
        "def f():\n    from kakunin.intake import steps\n    import kakunin.retention.purge\n"
    )
    found = _real(_imports(ast.parse(source), "kakunin.lineage.example"))
    assert found == {"kakunin.layout", "kakunin.intake", "kakunin.intake.steps", "kakunin.retention.purge"}
    assert len(IMPORTS) == len(PY_FILES) >= 50


LINEAGE = sorted(m for m in MODULES if m.startswith("kakunin.lineage"))


@pytest.mark.parametrize("module", LINEAGE)
def test_lineage_imports_none_of_the_writers(module: str) -> None:
    writers = {"kakunin.intake", "kakunin.retention", "kakunin.provenance", "kakunin.batches", "kakunin.cli"}
    assert sorted(m for m in _real(IMPORTS[module]) if _within(m, writers)) == []


# What an auditor's check may rest on: the formats, the chains, the digests, the store and its
# layout, and small utilities. `leftovers` reads the store layout only (see its own test below).
AUDITOR_MAY_IMPORT = {
    "kakunin",
    "kakunin.lineage",
    "kakunin.lineage.formats",
    "kakunin.lineage.chain",
    "kakunin.lineage.digests",
    "kakunin.lineage.checkpoint",  # signed checkpoints: the chain tails' anchors
    "kakunin.lineage.signing",
    "kakunin.lineage.problems",
    "kakunin.lineage.record_digests",
    "kakunin.lineage.subject_index_check",  # the subject index against the lineage; keyed, the identifier digests
    "kakunin.lineage.decisions",
    "kakunin.lineage.seal",
    "kakunin.lineage.corrections",  # corrections (訂正): the format and how the checks follow it
    "kakunin.lineage.export_check",  # held exports against their receipts, certificates and corrections
    "kakunin.lineage.columns",  # a few columns of a stored Parquet file, without pyarrow.dataset (reads only)
    "kakunin.lineage.rowkeys",  # exact id/digest set comparisons, sped up by integer row keys (no I/O)
    "kakunin.lineage.fixed_width",  # fixed-width text columns (ids, digests) read in place as bytes (no I/O)
    "kakunin.lineage.lookup",  # a record found by the record_id statistics in Parquet footers (reads only)
    "kakunin.duck",  # DuckDB as an in-memory kernel (the HMAC over a column): handed tables, never files
    "kakunin.exports",
    "kakunin.exports.formats",  # the export receipt and manifest schema
    "kakunin.storage",
    "kakunin.storage.base",
    "kakunin.layout",
    "kakunin.errors",
    "kakunin.hashing",
    "kakunin.leftovers",
}


@pytest.mark.parametrize(
    "module",
    ["kakunin.lineage.verify", "kakunin.lineage.trace", "kakunin.lineage.checkpoint", "kakunin.lineage.signing"],
)
def test_the_auditors_checks_rest_only_on_the_formats_chain_digests_storage_and_layout(module: str) -> None:
    assert sorted(_real(IMPORTS[module]) - AUDITOR_MAY_IMPORT) == []


def test_leftovers_reads_the_layout_only() -> None:
    allowed = {"kakunin", "kakunin.layout", "kakunin.storage", "kakunin.leases", "kakunin.errors"}
    assert sorted(_real(IMPORTS["kakunin.leftovers"]) - allowed) == []


def test_layout_is_a_leaf() -> None:
    assert sorted(_real(IMPORTS["kakunin.layout"])) == ["kakunin.errors"]


def test_no_module_imports_the_step_runner_but_the_cli_runner() -> None:
    """`intake.steps` is the top of intake: its parts must not reach back up to it (no cycle)."""
    importers = sorted(m for m, names in IMPORTS.items() if "kakunin.intake.steps" in names)
    assert importers == ["kakunin.intake.run"]


# ── store keys are spelled in kakunin.layout only ───────────────────────────────────

ZONES = ("landing/", "work/", "quarantine/", "curated/", "lineage/", "audit/", "journal/", "locks/", "provenance/")
ZONES += ("reports/",)


def _key_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals (and f-strings' leading text) that start like a store key, docstrings left out."""
    skipped = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    skipped |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            text = str(node.values[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            text = node.value
        else:
            continue
        if text.startswith(ZONES):
            found.append((node.lineno, text))
    return found


def test_the_key_finder_finds_a_hand_spelled_key() -> None:
    tree = ast.parse('"""curated/ in a docstring is fine."""\nkey = f"curated/{d}/x"\nother = "lineage/chain"\n')
    assert [text for _, text in _key_literals(tree)] == ["curated/", "lineage/chain"]


def test_no_module_but_layout_spells_a_store_key() -> None:
    spelled = {
        str(path.relative_to(PACKAGE_ROOT)): _key_literals(ast.parse(path.read_text(encoding="utf-8")))
        for path in PY_FILES
        if path.name != "layout.py"
    }
    assert {path: found for path, found in spelled.items() if found} == {}
