"""The hostname a Celery worker of the cluster test reports to Airflow (`[core] hostname_callable`).

Why: both workers run on this one machine, so the fully qualified name would be the same for
both; each worker gets its own name in `KAKUNIN_CLUSTER_HOSTNAME`, as two machines would have.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """`KAKUNIN_CLUSTER_HOSTNAME`, else this machine's fully qualified name."""
    return os.environ.get("KAKUNIN_CLUSTER_HOSTNAME") or socket.getfqdn()
