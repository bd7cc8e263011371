"""Shared fixtures: a fixed 'today', the repository's registry, batch folders and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from kakunin.contracts import Registry, default_expectations_root
from kakunin.storage import LocalStore, ObjectStore, S3Store
from kakunin.storage.config import S3Location
from kakunin_dev.samples import write_batch
from tests.s3server import S3Server
from tests.s3server import start as start_s3_server

# Tests do not time things: no Hypothesis deadlines (a first call may pay for an import).
settings.register_profile("kakunin", deadline=None)
settings.load_profile("kakunin")

TODAY = date(2026, 11, 26)
RECEIVED_ON = date(2026, 11, 20)
REPO = Path(__file__).resolve().parents[1]
DELETE = object()


def edit(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set (or, with DELETE, remove) `a.b.0.c` in a document dict."""
    *parents, last = dotted.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del target[key]
    elif isinstance(target, list) and key == len(target):
        target.append(value)
    else:
        target[key] = value


def edits(**changes: Any) -> Callable[[dict[str, Any], Path], None]:
    """A batch mutation from keyword edits: `edits(approved_by="E1024")`; `__` stands for `.`."""

    def mutate(doc: dict[str, Any], batch: Path) -> None:
        for dotted, value in changes.items():
            edit(doc, dotted.replace("__", "."), value)

    return mutate


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry(default_expectations_root())


@pytest.fixture
def make_batch(tmp_path: Path) -> Callable[..., Path]:
    """Write a good batch (optionally mutated) under tmp_path and return its folder."""
    counter = iter(range(1, 10_000))

    def make(mutation: Callable[[dict[str, Any], Path], object] | None = None, **options: Any) -> Path:
        n = next(counter)
        return write_batch(
            tmp_path / f"batch{n}",
            document_id=options.pop("document_id", f"PRV-2026-{n:06d}"),
            received_on=RECEIVED_ON,
            rows=options.pop("rows", 5),
            seed=n,
            mutation=mutation,
            **options,
        )

    return make


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def kakunin_runner(home: Path, *, base_env: dict[str, str] | None = None, timeout: int = 120) -> Callable[..., Run]:
    """A function that runs the real `kakunin` command in a subprocess on the store at `home`
    (environment: ours, then `base_env`, then the call's `env`)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        full_env = {**os.environ, "KAKUNIN_HOME": str(home), **(base_env or {}), **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "kakunin.cli", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def kakunin(tmp_path: Path) -> Callable[..., Run]:
    """Run the real `kakunin` command in a subprocess with its own store under tmp_path."""
    home = tmp_path / "home"
    run = kakunin_runner(home)
    run.home = home  # type: ignore[attr-defined]
    return run


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Airflow home (SQLite, migrated) for every in-process Airflow test of the session.

    Airflow reads its settings once, at its first import, so every test that imports it in this
    process must share this home: a second home set later is never seen (its database is not the one used).
    """
    home = tmp_path_factory.mktemp("airflow")
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    os.environ.update(settings)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, timeout=300)
    return home


# ── stores on both backends: a folder, and a real S3 endpoint on loopback ──────────────

S3_BUCKET = "kakunin-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Server]:
    """moto's standalone server on a free 127.0.0.1 port (a subprocess, spoken to over HTTP) with a
    versioned bucket with Object Lock enabled (so every S3 test writes locked lineage and audit
    objects); stopped when the module's tests are done."""
    server = start_s3_server()
    try:
        server.make_bucket(S3_BUCKET)
        yield server
    finally:
        server.stop()


def s3_store(server: S3Server) -> S3Store:
    """A store under a fresh prefix of the shared bucket, so tests never see each other's objects."""
    return S3Store(S3Location(S3_BUCKET, prefix=f"t-{uuid.uuid4().hex[:12]}"), client=server.client())


def empty_s3_store(store: S3Store) -> None:
    """Delete every version and delete marker under the store's prefix, where the bucket allows it
    (versions still under Object Lock stay). moto lists (and copies) every version in a bucket on each
    `ListObjectVersions`, so a module whose tests left their objects behind would slow down test by test."""
    client = store.client
    for bucket in store.buckets():
        found: list[dict[str, str]] = []
        pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=f"{store.location.prefix}/")
        for page in pages:
            found += [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
        for start in range(0, len(found), 1000):
            batch = {"Objects": found[start : start + 1000], "Quiet": True}
            client.delete_objects(Bucket=bucket, Delete=batch, BypassGovernanceRetention=True)


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """The test runs once on a `LocalStore` and once on an `S3Store` against the loopback endpoint
    (the module's one moto server; the test's objects are deleted after it)."""
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
        return
    store = s3_store(request.getfixturevalue("s3_endpoint"))
    yield store
    empty_s3_store(store)
