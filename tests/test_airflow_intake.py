"""kakunin_intake under `airflow dags test`, as a user runs it: one published and two refused batches.

One run (a subprocess, ~1-2 min) is shared by every check: the plugin folder imports no GX,
mapped tasks are labelled by batch, the run stays green while its note lists the refused batches,
the notifier is called, the published batch emits an Asset event, and OpenLineage events (file
transport) carry the real datasets with schema, GX and decision facets.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.storage import LocalStore
from kakunin_dev.samples import _spoil_phones, write_batch
from tests.conftest import RECEIVED_ON, REPO, TODAY

HMAC_KEY = "cd" * 32
AIRFLOW = Path(sys.executable).with_name("airflow")


@dataclass
class IntakeRun:
    store: LocalStore
    output: str
    db: Path
    events: list[dict[str, Any]]
    batches: dict[str, str]  # sample name -> batch reference


def airflow_env(home: Path, store: Path, **extra: str) -> dict[str, str]:
    """The environment of `airflow` commands on `store`, as `make run` sets it (plugins folder included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KAKUNIN"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        KAKUNIN_HOME=str(store),
        KAKUNIN_HMAC_KEY=HMAC_KEY,
        **extra,
    )
    return env


def _land(store: LocalStore, registry: Registry, folder: Path) -> str:
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed
    submission = json.loads(next(store.root.glob(f"landing/*/*{result.batch_id}*/_submission.json")).read_text())
    return f"{submission['dataset']}/{submission['batch_id']}"


@pytest.fixture(scope="module")
def intake_run(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> IntakeRun:
    tmp = tmp_path_factory.mktemp("intake-run")
    store = LocalStore(tmp / "store")
    batches = {
        "good": _land(store, registry, write_batch(tmp / "good", document_id="PRV-2026-700001", **_rows(1))),
        "too_many_bad_rows": _land(
            store,
            registry,
            write_batch(tmp / "bad", document_id="PRV-2026-700002", data_mutation=_spoil_phones, **_rows(2)),
        ),
        "tampered": _land(store, registry, write_batch(tmp / "tampered", document_id="PRV-2026-700003", **_rows(3))),
    }
    with (store.root / "landing" / batches["tampered"] / "data.csv").open("ab") as landed:
        landed.write(b"\r\n")  # changed in landing after it was submitted: the gate refuses it
    lineage_file = tmp / "openlineage.jsonl"
    env = airflow_env(
        tmp / "airflow",
        store.root,
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(lineage_file), "append": True}
        ),
        AIRFLOW__OPENLINEAGE__NAMESPACE="kakunin-test",
    )
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    done = subprocess.run(
        [str(AIRFLOW), "dags", "test", "kakunin_intake"], env=env, capture_output=True, text=True, timeout=900
    )
    output = done.stdout + done.stderr
    (tmp / "dags-test.log").write_text(output, encoding="utf-8")  # for a human when a check fails
    assert done.returncode == 0, output[-4000:]
    events = [json.loads(line) for line in lineage_file.read_text().splitlines() if line.strip()]
    return IntakeRun(store, output, tmp / "airflow" / "airflow.db", events, batches)


def _rows(seed: int) -> dict[str, Any]:
    return {"received_on": RECEIVED_ON, "rows": 40, "seed": 300 + seed}


def _query(run: IntakeRun, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run.db) as db:
        return db.execute(sql).fetchall()


def test_plugins_folder_loads_neither_gx_nor_kakunin_as_plugins(intake_run: IntakeRun) -> None:
    assert "Overwriting declaration" not in intake_run.output
    gate_lines = [line for line in intake_run.output.splitlines() if "kakunin step gate" in line]
    assert gate_lines, "the gate task logs whether GX was loaded"
    assert "great_expectations loaded: False" in gate_lines[0]


def test_mapped_tasks_are_labelled_by_batch(intake_run: IntakeRun) -> None:
    labels = {
        row[0] for row in _query(intake_run, "SELECT rendered_map_index FROM task_instance WHERE task_id='batch.gate'")
    }
    assert labels == set(intake_run.batches.values())


def test_refused_batches_leave_the_run_green_and_are_in_its_note_and_the_notifier(intake_run: IntakeRun) -> None:
    [(state, note)] = _query(
        intake_run,
        "SELECT dr.state, n.content FROM dag_run dr LEFT JOIN dag_run_note n ON n.dag_run_id = dr.id "
        "WHERE dr.dag_id = 'kakunin_intake'",
    )
    assert state == "success"
    refused = {
        intake_run.batches["too_many_bad_rows"]: "accuracy.threshold",
        intake_run.batches["tampered"]: "landing.tampered",
    }
    for batch, code in refused.items():
        assert any(batch in line and code in line for line in note.splitlines()), note
    assert intake_run.batches["good"] not in note
    notified = [line for line in intake_run.output.splitlines() if "kakunin notify (log):" in line]
    for batch, code in refused.items():
        assert any(batch in line and code in line for line in notified), notified


def test_the_published_batch_emits_an_asset_event_for_its_curated_dataset(intake_run: IntakeRun) -> None:
    rows = _query(intake_run, "SELECT a.uri, a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id")
    good = intake_run.batches["good"]
    dataset, batch_id = good.split("/")
    assert [(uri, name) for uri, name, _ in rows] == [
        (f"file://{(intake_run.store.root / 'curated' / dataset).resolve()}", f"kakunin_curated_{dataset}")
    ]
    extra = json.loads(rows[0][2])
    assert (extra["batch_id"], extra["received"], extra["published"]) == (batch_id, 40, 40)


def _step_events(run: IntakeRun, step: str, batch: str) -> list[dict[str, Any]]:
    """The COMPLETE/FAIL events of one step on one batch (the mapped task's label is the batch)."""
    return [
        event
        for event in run.events
        if event["eventType"] in ("COMPLETE", "FAIL")
        and event["job"]["name"] == f"kakunin_intake.batch.{step}"
        and event["run"]["facets"]["airflow"]["taskInstance"].get("rendered_map_index") == batch
    ]


def _names(run: IntakeRun, datasets: list[dict[str, Any]]) -> list[str]:
    """`namespace:key` of each dataset, its name made relative to the store."""
    root = run.store.root.resolve()
    return [f"{d['namespace']}:{Path(d['name']).relative_to(root).as_posix()}" for d in datasets]


def test_openlineage_events_carry_the_steps_datasets_and_facets(intake_run: IntakeRun) -> None:
    good = intake_run.batches["good"]
    dataset = good.split("/")[0]
    [gate] = _step_events(intake_run, "gate", good)
    assert _names(intake_run, gate["inputs"]) == [f"file:landing/{good}/data.csv"]
    assert _names(intake_run, gate["outputs"]) == ["file:provenance/PRV-2026-700001"]
    decision = gate["run"]["facets"]["kakunin_decision"]
    assert (decision["decision"], decision["document_id"]) == ("accepted", "PRV-2026-700001")
    assert decision["legal_ground"], "the legal ground of the acquisition"
    assert decision["purposes"], "the purposes the data may be used for"
    [accuracy] = _step_events(intake_run, "accuracy", good)
    checked = accuracy["inputs"][0]
    assert _names(intake_run, [checked]) == [f"file:work/{good}/conformed.parquet"]
    assertions = checked["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert len(assertions) == 9
    assert all(a["success"] for a in assertions)
    assert "name_kanji" in {f["name"] for f in checked["facets"]["schema"]["fields"]}
    [publish] = _step_events(intake_run, "publish", good)
    assert _names(intake_run, publish["outputs"]) == [f"file:curated/{dataset}"]
    assert "record_id" in {f["name"] for f in publish["outputs"][0]["facets"]["schema"]["fields"]}
    [lineage] = _step_events(intake_run, "lineage", good)
    assert _names(intake_run, lineage["outputs"]) == [f"file:lineage/manifests/{good}/manifest.json"]

    bad = intake_run.batches["too_many_bad_rows"]
    [refused] = _step_events(intake_run, "accuracy", bad)
    assert _names(intake_run, refused["outputs"]) == [f"file:quarantine/{bad}"]
    assert refused["run"]["facets"]["kakunin_decision"]["reason_codes"] == ["accuracy.threshold"]
    failed = refused["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert failed
    assert not any(a["success"] for a in failed)
    tampered = intake_run.batches["tampered"]
    [gate_refused] = _step_events(intake_run, "gate", tampered)
    assert gate_refused["run"]["facets"]["kakunin_decision"]["reason_codes"] == ["landing.tampered"]
    assert _names(intake_run, gate_refused["outputs"]) == [f"file:quarantine/{tampered}"]
    [assign] = _step_events(intake_run, "assign", good)
    assert _names(intake_run, assign["outputs"]) == [f"file:curated/{dataset}"], "no failing rows: no quarantine"


def test_openlineage_events_carry_no_personal_data(intake_run: IntakeRun) -> None:
    """Neither the provider's name nor any published person's name or phone number is in an event."""
    import pyarrow.parquet as pq
    import yaml

    text = json.dumps(intake_run.events, ensure_ascii=False)
    document = yaml.safe_load((intake_run.store.root / "provenance/PRV-2026-700001/provenance.yaml").read_text())
    curated = pq.read_table(sorted((intake_run.store.root / "curated").rglob("part-*.parquet")))
    personal = [document["provider"]["legal_name"]]
    personal += curated.column("name_kanji").to_pylist() + curated.column("phone").to_pylist()
    assert len(personal) == 81
    assert [value for value in personal if value and value in text] == []
