"""`python -m kakunin_dev.cluster` (`make cluster-test`): Kakunin's DAGs on a real multi-worker Airflow.

On loopback only: PostgreSQL, Redis, Airflow 3 with the CeleryExecutor (api-server, scheduler,
dag-processor, two Celery workers with their own hostnames) and, with `--store s3`, moto's S3
server. Sample batches are submitted with `kakunin demo seed`; `kakunin_intake` is triggered
through the REST API; the run must succeed with task instances on both workers, every batch
must end as its sample should, and `kakunin lineage verify` must pass; then `kakunin_retention`
runs with an as-of two years ahead and must purge (on S3: leaving no version of a purged object).
Everything started is stopped at the end, also on failure or Ctrl-C. Logs: var/cluster/logs/.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from kakunin_dev.cluster import checks
from kakunin_dev.cluster.api import AirflowApi
from kakunin_dev.cluster.services import ClusterError, Supervisor, free_port
from kakunin_dev.cluster.stack import (
    ADMIN,
    BUCKET,
    S3_KEYS,
    airflow_env,
    s3_client,
    start_airflow,
    start_moto,
    start_postgres,
    start_redis,
)

S3_PREFIX = "kakunin"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kakunin_dev.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["local", "s3"], default="local", help="the store the run uses")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (each its own hostname)")
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds a DAG run may take")
    parser.add_argument("--logs", type=Path, default=Path("var/cluster/logs"), help="where service logs go")
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers must be at least 2: the test is that tasks run on more than one worker")
    return args


def _kakunin(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `kakunin` CLI next to this Python (as a user would), output captured."""
    command = [str(Path(sys.executable).with_name("kakunin")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if check and done.returncode != 0:
        raise ClusterError(f"kakunin {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done


def _store_env(args: argparse.Namespace, sup: Supervisor, root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The Kakunin settings the CLI and the workers share, and the CLI's extra ones (its AWS environment)."""
    home = root / "kakunin"
    home.mkdir()
    env = {"KAKUNIN_HOME": str(home), "KAKUNIN_HMAC_KEY": os.urandom(32).hex()}
    keygen = _kakunin({**os.environ, **env}, "lineage", "keygen", "--public-key-out", str(root / "public-key"))
    env["KAKUNIN_SIGNING_KEY"] = keygen.stdout.strip()
    if args.store == "local":
        print(f"cluster: store: local folder {home} (shared by both workers)", flush=True)
        return env, {}
    endpoint = start_moto(sup)
    env["KAKUNIN_STORAGE"] = f"s3://{BUCKET}/{S3_PREFIX}"
    connection = {
        "conn_type": "aws",
        "login": S3_KEYS["AWS_ACCESS_KEY_ID"],
        "password": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        "extra": {"endpoint_url": endpoint, "region_name": S3_KEYS["AWS_DEFAULT_REGION"]},
    }
    env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(connection)  # the workers' only way to S3: the connection
    print(f"cluster: store: {env['KAKUNIN_STORAGE']} on {endpoint} (workers: the aws_default connection)", flush=True)
    return env, {**S3_KEYS, "AWS_ENDPOINT_URL": endpoint}


def _store_keys(env: dict[str, str]) -> set[str]:
    """Every object key in the store now (the samples folder excluded: it is the submitters' side)."""
    if "KAKUNIN_STORAGE" not in env:
        home = Path(env["KAKUNIN_HOME"])
        return {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()} - {
            p.relative_to(home).as_posix() for p in (home / "samples").rglob("*")
        }
    client = s3_client(env["AWS_ENDPOINT_URL"])
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{S3_PREFIX}/"):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def _versions_left(env: dict[str, str], keys: set[str]) -> list[str]:
    """On S3, each purged key that still has a version or a delete marker."""
    if "KAKUNIN_STORAGE" not in env:
        return []
    client, left = s3_client(env["AWS_ENDPOINT_URL"]), []
    for key in sorted(keys):
        found = client.list_object_versions(Bucket=BUCKET, Prefix=key)
        entries = [v for v in found.get("Versions", []) + found.get("DeleteMarkers", []) if v["Key"] == key]
        if entries:
            left.append(f"{key} ({len(entries)} version(s)/marker(s))")
    return left


def _require(problems: list[str], what: str) -> None:
    if problems:
        raise ClusterError(f"{what}:\n  " + "\n  ".join(problems))
    print(f"cluster: ok: {what}", flush=True)


def _run_dag(api: AirflowApi, sup: Supervisor, dag_id: str, conf: dict[str, Any], timeout: float) -> list[Any]:
    run_id = api.trigger(dag_id, conf)
    print(f"cluster: triggered {dag_id} through the REST API: run {run_id} {conf or ''}", flush=True)
    state = api.wait_for_run(sup, dag_id, run_id, timeout=timeout)
    task_instances = api.task_instances(dag_id, run_id)
    print(f"cluster: {dag_id} {run_id}: {state}, {len(task_instances)} task instance(s)", flush=True)
    if state != "success":
        raise ClusterError(f"{dag_id} ended {state}: " + "; ".join(checks.failed_tasks(task_instances)))
    return task_instances


def _cluster_test(args: argparse.Namespace, sup: Supervisor, root: Path, repo: Path) -> None:
    store_env, cli_extra = _store_env(args, sup, root)
    cli_env = {**os.environ, **store_env, **cli_extra}
    db = start_postgres(sup, log=sup.logs / "postgres-setup.log")
    broker = start_redis(sup, folder=root, log=sup.logs / "redis-setup.log")
    (root / "airflow").mkdir()
    airflow = airflow_env(
        home=root / "airflow", repo=repo, db=db, broker=broker, api_port=free_port(), store_env=store_env
    )
    workers = [f"kakunin-worker-{n}" for n in range(1, args.workers + 1)]
    start_airflow(sup, airflow, workers=workers, concurrency=args.concurrency)
    print(f"cluster: worker hostnames: {', '.join(workers)}", flush=True)

    seeded = json.loads(_kakunin(cli_env, "demo", "seed", "--json").stdout)
    expected = checks.expected_outcomes(seeded["samples"])
    print(f"cluster: submitted {len(seeded['samples'])} sample batches, {seeded['landed']} landed", flush=True)

    api = AirflowApi(airflow.api, username=ADMIN, password=airflow.password)
    for dag_id in ("kakunin_intake", "kakunin_retention"):
        sup.wait_for(f"the DAG processor to parse {dag_id}", partial(api.dag_parsed, dag_id), timeout=240, every=2)
        api.unpause(dag_id)

    intake = _run_dag(api, sup, "kakunin_intake", {}, args.timeout)
    print(f"cluster: task instances per worker hostname: {dict(checks.hosts_of(intake))}", flush=True)
    _require(checks.worker_problems(workers, intake), "task instances ran on every worker")
    batches = json.loads(_kakunin(cli_env, "batches", "--json").stdout)
    _require(checks.batch_problems(expected, batches), f"all {len(batches)} batches ended as their samples should")
    _require([] if _kakunin(cli_env, "lineage", "verify").returncode == 0 else ["not intact"], "lineage verify")

    from kakunin.clock import today
    from kakunin.durations import add_months

    before = _store_keys(cli_env)
    as_of = add_months(today(), 24).isoformat()
    _run_dag(api, sup, "kakunin_retention", {"as_of": as_of, "allow_future": True}, args.timeout)
    purged = before - _store_keys(cli_env)
    _require([] if purged else ["no object was removed"], f"retention as of {as_of} purged {len(purged)} object(s)")
    _require(_versions_left(cli_env, purged), "no version of a purged object remains")
    verify = _kakunin(cli_env, "lineage", "verify", check=False)
    _require([] if verify.returncode == 0 else [verify.stdout[-800:]], "lineage verify after retention")


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the cluster test; 0 when every check passed, 1 when one failed (the reason printed), 130 on Ctrl-C."""
    args = _parse(argv)
    repo = Path.cwd()
    if not (repo / "dags" / "kakunin_intake.py").is_file():
        print("cluster: run this from the repository root (no dags/kakunin_intake.py here)", file=sys.stderr)
        return 2
    started = time.monotonic()
    shutil.rmtree(args.logs, ignore_errors=True)
    args.logs.mkdir(parents=True)
    root = Path(tempfile.mkdtemp(prefix="kakunin-cluster-"))
    sup = Supervisor(args.logs.resolve())
    sup.cleanup.append(root)
    atexit.register(sup.stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    code = 1
    try:
        _cluster_test(args, sup, root, repo)
        code = 0
    except ClusterError as exc:
        print(f"cluster-test: FAILED: {exc}\n(service logs: {args.logs}/)", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("cluster-test: interrupted", file=sys.stderr, flush=True)
        code = 130
    finally:
        print("cluster: stopping every service it started ...", flush=True)
        sup.stop_all()
    outcome = {0: "passed", 130: "interrupted"}.get(code, "FAILED")
    print(f"cluster-test: {outcome} in {time.monotonic() - started:.0f} s (store: {args.store})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
