"""The house rules that keep Kakunin usable: a core free of Airflow, a fast CLI, current schemas."""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import pytest

import kakunin
from kakunin.schemas import (
    INDEX_COLUMNS,
    PARQUET_COLUMNS,
    SCHEMAS,
    lineage_dir,
    render,
    render_parquet_columns,
    stale_files,
)
from kakunin.subjects.identifiers import INDEX_SCHEMA

# Modules allowed to touch Airflow. This list may only shrink.
AIRFLOW_ALLOWED: set[str] = set()

# Every module is found from the files, not from an import walk: `pkgutil` does not descend
# into a folder without `__init__.py`, and that is how a whole package once went unchecked.
PACKAGE_ROOT = Path(kakunin.__file__).parent
PY_FILES = sorted(p for p in PACKAGE_ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = [_module_of(p) for p in PY_FILES]

# Imports each module named on the command line in turn, in one process, and reports which
# imported, whether Airflow was loaded by the end, and every top-level module loaded. Clean is
# the common case and one process answers it; only when Airflow shows up is each module
# imported alone to name the culprits.
_PROBE = """
import importlib, json, sys

report = {"checked": [], "failed": {}}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        report["failed"][name] = repr(exc)
    else:
        report["checked"].append(name)
report["airflow"] = "airflow" in sys.modules
report["loaded"] = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps(report))
"""


def _loaded_after_import(module: str) -> set[str]:
    probe = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.fixture(scope="module")
def import_report() -> dict[str, Any]:
    """Which modules imported, which failed, and which pull in Airflow when imported alone."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *MODULES], capture_output=True, text=True, check=True)
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    loads_airflow = report.pop("airflow")
    report["airflow"] = [m for m in report["checked"] if "airflow" in _loaded_after_import(m)] if loads_airflow else []
    return report


@pytest.mark.parametrize("module", [m for m in MODULES if m not in AIRFLOW_ALLOWED])
def test_core_modules_do_not_import_airflow(module: str, import_report: dict[str, Any]) -> None:
    assert module in import_report["checked"], import_report["failed"].get(module, "not imported")
    assert module not in import_report["airflow"]


def test_every_module_file_was_checked(import_report: dict[str, Any]) -> None:
    assert import_report["failed"] == {}
    assert len(import_report["checked"]) == len(PY_FILES)
    assert sorted(import_report["checked"]) == sorted(MODULES)


def test_every_package_has_an_init() -> None:
    folders = {p.parent for p in PY_FILES}
    assert sorted(str(f.relative_to(PACKAGE_ROOT)) for f in folders if not (f / "__init__.py").is_file()) == []


def test_an_import_walk_finds_every_module_file() -> None:
    walked = {m.name for m in pkgutil.walk_packages(kakunin.__path__, "kakunin.")} | {"kakunin"}
    assert len(walked) >= len(PY_FILES)
    assert walked == set(MODULES)


# Dev-only code: the demo's samples, the bench and Faker live in kakunin_dev (dev/), which the
# runtime package may import only inside a function that needs it (the demo seed).
DEV_ONLY = {"kakunin_dev", "faker"}


def test_the_runtime_package_imports_no_dev_only_code(import_report: dict[str, Any]) -> None:
    assert set(import_report["loaded"]) & DEV_ONLY == set()


def test_faker_is_not_a_runtime_dependency() -> None:
    runtime = {re.split(r"[^A-Za-z0-9_.-]", r, maxsplit=1)[0].lower() for r in requires("kakunin") or []}
    assert "apache-airflow" in runtime
    assert runtime & {"faker", "kakunin-dev", "kakunin_dev"} == set()


def test_the_cli_loads_neither_airflow_nor_great_expectations() -> None:
    """Every command's module (the CLI loads them lazily; all of them here) and the modules they import."""
    from kakunin.cli import ATTACHED, COMMANDS

    targets = [path for path, _summary in COMMANDS.values()] + [
        t for extra in ATTACHED.values() for t in extra.values()
    ]
    modules = sorted({target.partition(":")[0] for target in targets})
    probe = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "kakunin" in loaded
    assert not loaded & {"airflow", "great_expectations", "pandas", "faker"}


def test_the_module_list_is_real() -> None:
    assert {"kakunin.cli", "kakunin.provenance.checks", "kakunin.storage.local", "kakunin.intake.steps"} <= set(MODULES)


# Where `hashlib` and `json.dumps` may appear in the core. These lists may only shrink.
_ALLOWED_CALLS = {
    "hashlib": {"hashing.py", "lineage/digests.py", "intake/accuracy.py"},  # SHA-256; the HMAC; a cache key
    "json.dumps": {"yaml_io.py", "lineage/chain.py"},  # the JSON writer; the canonical chain-entry writer
}


@pytest.mark.parametrize("name", sorted(_ALLOWED_CALLS))
def test_one_sha256_helper_and_one_json_writer(name: str) -> None:
    found = {str(p.relative_to(PACKAGE_ROOT)) for p in PY_FILES if name in p.read_text(encoding="utf-8")}
    assert found <= _ALLOWED_CALLS[name]


def test_json_schemas_in_lineage_are_current() -> None:
    assert stale_files(lineage_dir()) == []


def test_a_changed_model_makes_its_schema_stale(tmp_path: Path) -> None:
    for name, model in SCHEMAS.items():
        (tmp_path / name).write_text(render(model), encoding="utf-8")
    (tmp_path / PARQUET_COLUMNS).write_text(render_parquet_columns(), encoding="utf-8")
    (tmp_path / INDEX_COLUMNS).write_text(
        render_parquet_columns(INDEX_SCHEMA, "subjects/index/<dataset>/<batch_id>.parquet"), encoding="utf-8"
    )
    assert stale_files(tmp_path) == []
    target = tmp_path / "provenance-document.v2.schema.json"
    target.write_text(target.read_text(encoding="utf-8").replace('"document_id"', '"doc_id"'), encoding="utf-8")
    assert stale_files(tmp_path) == ["provenance-document.v2.schema.json"]
