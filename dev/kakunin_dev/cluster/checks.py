"""What the cluster test checks, as pure functions over what the CLI and the API returned.

Each returns a list of problems (empty: the check passed), worded for the person reading the log.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def expected_outcomes(samples: list[dict[str, Any]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per document-id suffix (`9000NN`), the state and reason codes each sample batch should end with.

    From `kakunin demo seed --json`: a sample refused at the gate stays rejected with its codes (the
    名簿業者 resale fires two); one that landed without gate codes but with an expected code is rejected
    by intake with it; every other landed sample (warnings only, or clean) is published.
    """
    outcomes: dict[str, tuple[str, tuple[str, ...]]] = {}
    for sample in samples:
        number = int(str(sample["sample"]).split("_", 1)[0])
        expected = sample["expected"]
        codes = tuple(sample.get("expected_codes") or ([expected] if expected else []))
        if sample["landed_as"] is None or (codes and not sample["codes"]):
            outcomes[f"{900000 + number:06d}"] = ("rejected", codes)
        else:
            outcomes[f"{900000 + number:06d}"] = ("published", ())
    return outcomes


def batch_problems(expected: dict[str, tuple[str, tuple[str, ...]]], batches: list[dict[str, Any]]) -> list[str]:
    """Each batch whose state or reason codes differ from what its sample should give, and any batch missing."""
    problems: list[str] = []
    seen: set[str] = set()
    for batch in batches:
        suffix = str(batch["document_id"]).rsplit("-", 1)[-1]
        seen.add(suffix)
        if suffix not in expected:
            problems.append(f"batch {batch['batch_id']} ({batch['document_id']}) is not one the harness submitted")
            continue
        state, codes = expected[suffix]
        if batch["state"] != state or not set(codes) <= set(batch["reason_codes"]):
            wanted = f"{state} with {', '.join(codes)}" if codes else state
            problems.append(
                f"batch {batch['batch_id']} ({batch['document_id']}): expected {wanted}, "
                f"found {batch['state']} {batch['reason_codes']}"
            )
    problems += [f"no batch for document {suffix}" for suffix in sorted(set(expected) - seen)]
    return problems


def hosts_of(task_instances: list[dict[str, Any]]) -> Counter[str]:
    """How many task instances each worker hostname ran."""
    return Counter(str(ti["hostname"]) for ti in task_instances if ti.get("hostname"))


def worker_problems(workers: list[str], task_instances: list[dict[str, Any]]) -> list[str]:
    """A problem for each worker that ran no task instance, and for task instances run elsewhere."""
    hosts = hosts_of(task_instances)
    problems = [
        f"worker {name} ran no task instance (hostnames seen: {dict(hosts)})" for name in workers if not hosts[name]
    ]
    strangers = sorted(set(hosts) - set(workers))
    if strangers:
        problems.append(f"task instances ran on hosts that are not the cluster's workers: {strangers}")
    return problems


def failed_tasks(task_instances: list[dict[str, Any]]) -> list[str]:
    """The task instances that did not end in success or skipped, as `task_id[map_index]: state`."""
    return [
        f"{ti['task_id']}[{ti.get('map_index', -1)}]: {ti.get('state')}"
        for ti in task_instances
        if ti.get("state") not in {"success", "skipped"}
    ]
