"""Trace reads only the manifests whose footer statistics can hold the id, and still finds every record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin.errors import UnknownRecord
from kakunin.layout import MANIFESTS
from kakunin.lineage import lookup
from kakunin.lineage.trace import trace, trace_json
from kakunin.storage import LocalStore
from kakunin_dev.bench import build_lineage_store, lineage_batches


def _manifests(home: Path) -> list[Path]:
    return sorted((home / MANIFESTS).rglob("manifest.parquet"))


def _all_ids(path: Path) -> list[str]:
    return [str(i) for i in pq.read_table(path, columns=["record_id"]).column("record_id").to_pylist()]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Three linked manifests of 600 rows, each batch's ids of its own millisecond, as intake stamps them."""
    build_lineage_store(tmp_path, batches=lineage_batches(1800, batch_rows=600))
    return tmp_path


def test_trace_finds_a_record_in_each_manifest(home: Path) -> None:
    store = LocalStore(home)
    for number, manifest in enumerate(_manifests(home), start=1):
        ids = _all_ids(manifest)
        for record_id in (ids[0], ids[-1], min(ids), max(ids)):
            story = trace(store, record_id)
            assert story.batch_id == f"20260101T000000{number:06d}Z-00000000"
            assert story.status.startswith("live in curated/bench/")
            row = pq.read_table(manifest).to_pylist()[ids.index(record_id)]
            assert story.source_row == row["source_row"]


def test_an_id_between_two_manifests_ranges_is_in_no_manifest(home: Path) -> None:
    first, second = (_all_ids(m) for m in _manifests(home)[:2])
    between = max(first)[:13] + "-7fff-bfff-ffffffffffff"  # the first batch's millisecond, above its every id
    assert max(first) < between < min(second)
    with pytest.raises(UnknownRecord):
        trace(LocalStore(home), between)


def test_a_manifest_without_footer_statistics_is_still_searched(home: Path) -> None:
    manifest = _manifests(home)[1]
    table = pq.read_table(manifest)
    pq.write_table(table, manifest, write_statistics=False, row_group_size=200)
    assert pq.ParquetFile(manifest).metadata.row_group(0).column(0).statistics is None
    record_id = _all_ids(manifest)[450]  # in the third row group of three
    answer = trace_json(trace(LocalStore(home), record_id))
    assert answer["record_id"] == record_id
    assert answer["source_row"] == table.to_pylist()[450]["source_row"]
    assert answer["status"] == "live"


def test_a_trace_decodes_one_row_group_of_the_manifest_and_one_of_the_curated_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids counted by source row make each row group's footer range narrow: one group is read, not all."""
    monkeypatch.setattr(lookup, "LOOKUP_ROW_GROUP_ROWS", 100)
    build_lineage_store(tmp_path, batches=lineage_batches(1200, batch_rows=600))
    manifest = _manifests(tmp_path)[1]
    assert pq.ParquetFile(manifest).metadata.num_row_groups == 6
    record_id = _all_ids(manifest)[350]
    read: list[int] = []
    real = pq.ParquetFile.read_row_group

    def counted(self: pq.ParquetFile, i: int, *args: object, **kwargs: object) -> object:
        read.append(i)
        return real(self, i, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counted)
    answer = trace_json(trace(LocalStore(tmp_path), record_id))
    assert (answer["record_id"], answer["status"], answer["source_row"]) == (record_id, "live", 352)
    assert read == [3, 3], "the fourth row group of the manifest, then of the curated file"


def _equal_positions(ids: pa.ChunkedArray, text: str) -> list[int]:
    """Arrow's own answer: what `lookup.positions_of` must give."""
    return [int(i) for i in pc.indices_nonzero(pc.equal(ids, pa.array([text], ids.type)[0])).to_pylist()]


UUID_A = "019abef0-4df8-7000-8002-fe5193c7bcac"
UUID_B = "019abef0-4df8-7000-8002-fe5193c7bcad"


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param(pa.chunked_array([[UUID_A, UUID_B, UUID_A], [UUID_B, UUID_A]]), id="fixed-width-two-chunks"),
        pytest.param(pa.chunked_array([pa.array([UUID_B, UUID_A, UUID_B, UUID_A]).slice(1, 3)]), id="sliced-chunk"),
        pytest.param(pa.chunked_array([[UUID_A, None, UUID_B, UUID_A]]), id="with-nulls"),
        pytest.param(pa.chunked_array([[UUID_A, UUID_A + "x", UUID_A[:-1], "", UUID_A]]), id="other-widths"),
        pytest.param(pa.chunked_array([[UUID_B, UUID_A]], pa.large_string()), id="large-string"),
        pytest.param(pa.chunked_array([pa.array([UUID_A, UUID_B, UUID_A]).dictionary_encode()]), id="dictionary"),
        pytest.param(pa.chunked_array([], pa.string()), id="no-chunks"),
    ],
)
def test_an_id_is_found_at_the_positions_arrow_finds_it(ids: pa.ChunkedArray) -> None:
    for text in (UUID_A, UUID_B, UUID_A[:-1], ""):
        assert lookup.positions_of(ids, text) == _equal_positions(ids, text)


def test_a_trace_process_loads_neither_pandas_duckdb_gx_airflow_arrow_compute_nor_yaml(home: Path) -> None:
    """A keyless trace needs none of them (each costs a noticeable part of the command's start-up)."""
    record_id = _all_ids(_manifests(home)[1])[10]
    probe = (
        "import sys; from kakunin.cli import main\n"
        f"try:\n    main(['lineage', 'trace', {record_id!r}, '--json'])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "KAKUNIN_HMAC_KEY"} | {"KAKUNIN_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    answer, loaded = done.stdout, set(done.stdout.splitlines()[-1].split())
    assert f'"record_id": "{record_id}"' in answer
    assert '"status": "live"' in answer
    heavy = {"pandas", "duckdb", "great_expectations", "airflow", "pyarrow.compute", "pyarrow.dataset", "yaml"}
    assert not loaded & heavy
