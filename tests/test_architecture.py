"""The house rules that keep Kakunin usable: a core free of Airflow, a fast CLI, current schemas."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import kakunin
from kakunin.schemas import PARQUET_COLUMNS, SCHEMAS, lineage_dir, render, render_parquet_columns, stale_files

# Modules allowed to touch Airflow. This list may only shrink.
AIRFLOW_ALLOWED: set[str] = set()
MODULES = sorted(m.name for m in pkgutil.walk_packages(kakunin.__path__, "kakunin."))


def _loaded_after_import(module: str) -> set[str]:
    probe = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("module", [m for m in MODULES if m not in AIRFLOW_ALLOWED])
def test_core_modules_do_not_import_airflow(module: str) -> None:
    assert "airflow" not in _loaded_after_import(module)


def test_the_cli_loads_neither_airflow_nor_great_expectations() -> None:
    loaded = _loaded_after_import("kakunin.cli")
    assert not loaded & {"airflow", "great_expectations", "pandas", "faker"}


def test_the_module_list_is_real() -> None:
    assert {"kakunin.cli", "kakunin.provenance.checks", "kakunin.storage.local"} <= set(MODULES)


def test_json_schemas_in_lineage_are_current() -> None:
    assert stale_files(lineage_dir()) == []


def test_a_changed_model_makes_its_schema_stale(tmp_path: Path) -> None:
    for name, model in SCHEMAS.items():
        (tmp_path / name).write_text(render(model), encoding="utf-8")
    (tmp_path / PARQUET_COLUMNS).write_text(render_parquet_columns(), encoding="utf-8")
    assert stale_files(tmp_path) == []
    target = tmp_path / "provenance-document.v1.schema.json"
    target.write_text(target.read_text(encoding="utf-8").replace('"document_id"', '"doc_id"'), encoding="utf-8")
    assert stale_files(tmp_path) == ["provenance-document.v1.schema.json"]
