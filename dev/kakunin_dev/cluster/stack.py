"""Starting the cluster's parts on loopback: PostgreSQL, Redis, moto's S3 server and Airflow with two Celery workers.

Each part gets a free port on 127.0.0.1 and a folder under the run's temporary folder; the
Debian packages (`postgresql`, `redis-server`) are installed only when missing. PostgreSQL
refuses to run as root, so as root it runs as the `postgres` system user (else `nobody`).
"""

from __future__ import annotations

import importlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kakunin_dev.cluster.services import ClusterError, Supervisor, apt_install, free_port, redis_answers, run

PG_ROOT = Path("/usr/lib/postgresql")
PG_VERSION = "15"
BUCKET = "kakunin-cluster"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
ADMIN = "admin"


def postgres_bin(log: Path) -> Path:
    """The folder of PostgreSQL's server binaries (version 15 preferred), installing `postgresql` when missing."""
    for _ in range(2):
        found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: (p.parent.parent.name != PG_VERSION, p))
        if found:
            return found[0].parent
        apt_install("postgresql", log=log)
    raise ClusterError(f"no PostgreSQL server binaries under {PG_ROOT} even after installing postgresql")


def _run_as() -> tuple[list[str], str | None]:
    """The prefix that runs a command as an unprivileged user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"], user
    raise ClusterError("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL")


def start_postgres(sup: Supervisor, *, log: Path) -> str:
    """PostgreSQL on a free loopback port with an `airflow` database; returns its SQLAlchemy URL."""
    bindir = postgres_bin(log)
    prefix, user = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="kakunin-cluster-pg-"))
    sup.cleanup.append(folder)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, port = folder / "data", free_port()
    initdb = [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8"]
    run([*initdb, "--locale=C"], log=log, what="initdb")
    argv = [*prefix, str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port)]
    argv += ["-k", str(folder), "-c", "fsync=off", "-c", "max_connections=200"]
    sup.start("postgres", argv, env=os.environ, stop_signal=signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
    isready = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "airflow"]
    sup.wait_for("PostgreSQL", lambda: subprocess.call(isready) == 0, timeout=60)  # noqa: S603
    run(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"],
        log=log,
        what="createdb",
    )
    print(f"cluster: PostgreSQL {bindir.parent.name} on 127.0.0.1:{port} (as {user or 'this user'})", flush=True)
    return f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"


def start_redis(sup: Supervisor, *, folder: Path, log: Path) -> str:
    """Redis on a free loopback port, nothing persisted; returns its URL (the Celery broker)."""
    if shutil.which("redis-server") is None:
        apt_install("redis-server", log=log)
    port = free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    sup.start("redis", [*argv, "--dir", str(folder)], env=os.environ)
    sup.wait_for("Redis", lambda: redis_answers(port), timeout=30, every=0.3)
    print(f"cluster: Redis on 127.0.0.1:{port}", flush=True)
    return f"redis://127.0.0.1:{port}/0"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- loopback URL we built
            return 200 <= int(response.status) < 500
    except OSError:
        return False


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client on the loopback endpoint (boto3 is untyped, hence Any)."""
    boto3 = importlib.import_module("boto3")
    return boto3.client("s3", endpoint_url=endpoint, region_name=S3_KEYS["AWS_DEFAULT_REGION"], **_credentials())


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    }


def start_moto(sup: Supervisor) -> str:
    """moto's standalone S3 server on a free loopback port with a versioned bucket; returns its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    sup.start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=os.environ)
    sup.wait_for("moto's S3 server", lambda: _http_ok(f"{endpoint}/moto-api/"), timeout=60, every=0.5)
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    print(f"cluster: moto S3 server on {endpoint}, bucket {BUCKET} (versioned, Object Lock enabled)", flush=True)
    return endpoint


@dataclass
class Airflow:
    """The Airflow deployment's shared settings: its home, API port, admin password and environment."""

    home: Path
    api_port: int
    password: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def airflow_env(*, home: Path, repo: Path, db: str, broker: str, api_port: int, store_env: dict[str, str]) -> Airflow:
    """The environment every Airflow component shares: CeleryExecutor, PostgreSQL, Redis, loopback API."""
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({ADMIN: password}) + "\n", encoding="utf-8")
    result_backend = "db+" + db  # the driver named: SQLAlchemy 2.1 would pick psycopg 3 for plain postgresql
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "KAKUNIN_"))},
        "PATH": f"{repo / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(repo / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the runs the harness triggers
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        **store_env,
    }
    return Airflow(home=home, api_port=api_port, password=password, env=env)


def start_airflow(sup: Supervisor, airflow: Airflow, *, workers: list[str], concurrency: int) -> None:
    """`db migrate`, then the api-server, scheduler, dag-processor and one Celery worker per hostname."""
    bin_airflow = str(Path(airflow.env["PATH"].split(":")[0]) / "airflow")
    print("cluster: airflow db migrate (PostgreSQL) ...", flush=True)
    run([bin_airflow, "db", "migrate"], log=sup.logs / "db-migrate.log", env=airflow.env, what="airflow db migrate")
    port = str(airflow.api_port)
    sup.start("api-server", [bin_airflow, "api-server", "-H", "127.0.0.1", "-p", port], env=airflow.env)
    sup.start("scheduler", [bin_airflow, "scheduler"], env=airflow.env)
    sup.start("dag-processor", [bin_airflow, "dag-processor"], env=airflow.env)
    for name in workers:
        env = {
            **airflow.env,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "kakunin_dev.cluster.hostname.worker_hostname",
            "KAKUNIN_CLUSTER_HOSTNAME": name,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        }
        argv = [bin_airflow, "celery", "worker", "--celery-hostname", f"{name}@127.0.0.1"]
        sup.start(f"worker-{name}", [*argv, "--concurrency", str(concurrency), "--without-mingle"], env=env)
        print(f"cluster: Celery worker started, hostname {name}", flush=True)
    sup.wait_for("Airflow's API server", lambda: _http_ok(f"{airflow.api}/api/v2/monitor/health"), timeout=240)
    print(f"cluster: Airflow API on {airflow.api} (CeleryExecutor, {len(workers)} workers)", flush=True)
