"""`kakunin erasure request` by email, phone or name: every dataset, every provider, then the suppression list.

Run through the real command on the two-providers store (花子 under provider A's C9000001
and provider B's C9100077): what a privacy desk sees, what the store keeps, what it never keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kakunin import clock
from kakunin.contracts import IdentifierKind
from kakunin.intake.run import BatchResult
from kakunin.layout import ERASURE_REQUESTS, BatchRef, folder_prefix
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.formats import AuditEntry, ErasureRequest
from kakunin.retention.erasure import pending_requests
from kakunin.storage import ObjectStore
from kakunin.subjects.formats import Regime
from kakunin.subjects.identifiers import Identifier, subject_key
from kakunin.subjects.register import DuePolicy, request_statuses, suppressions
from kakunin_dev.people import HANAKO, plant
from tests.conftest import Run, kakunin_runner
from tests.subjects.conftest import KEY, TwoProviders

HANAKO_IDS = {"C9000001", "C9100077"}
CLEAR = (b"hanako.kakuu@example.invalid", b"Hanako.Kakuu", b"09011112222", b"090-1111-2222", "花子".encode())


@pytest.fixture
def cli(two_providers: TwoProviders) -> Callable[..., Run]:
    """The real `kakunin` on the two-providers store, with the HMAC key its intake used."""
    return kakunin_runner(root(two_providers.store), base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})


def root(store: ObjectStore) -> Path:
    return Path(store.root)  # type: ignore[attr-defined]


def live_customers(store: ObjectStore) -> dict[str, str]:
    """customer_no → record_id of every record in the curated zone."""
    found: dict[str, str] = {}
    for path in (root(store) / "curated").rglob("part-*.parquet"):
        table = pq.read_table(path, columns=["customer_no", "record_id"])
        found.update(zip(table.column("customer_no").to_pylist(), table.column("record_id").to_pylist(), strict=True))
    return found


def files(store: ObjectStore) -> dict[str, bytes]:
    return {str(p.relative_to(root(store))): p.read_bytes() for p in root(store).rglob("*") if p.is_file()}


def digest(kind: IdentifierKind, value: str) -> str:
    return Identifier(kind, value).digest(subject_key(KEY))


def test_erasure_by_phone_purges_the_person_from_both_providers_in_one_certificate(
    two_providers: TwoProviders, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    hanako = {c: r for c, r in live_customers(store).items() if c in HANAKO_IDS}
    assert hanako.keys() == HANAKO_IDS

    done = cli("erasure", "request", "--phone", "+81 90 1111 2222", "--reason", "REQ-1", "--now")

    assert done.code == 0, done.stderr
    request_id = done.stdout.split(":")[0]
    assert done.stdout.startswith(
        f"{request_id}: 2 record(s) of this person in 1 dataset(s) (2 batch(es), 2 provider(s))\n"
    )
    assert f"erasure requests carried out: {request_id}" in done.stdout
    assert HANAKO_IDS.isdisjoint(live_customers(store))
    assert len(live_customers(store)) == 40  # the 20 other people of each batch stay
    (certificate,) = [c for c in closed_certificates(store) if request_id in c.erasure_requests]
    assert {b.batch_id for b in certificate.batches} == {two_providers.first.batch_id, two_providers.second.batch_id}
    assert cli("lineage", "verify").code == 0
    trace = cli("lineage", "trace", hanako["C9100077"], "--json").json()
    assert trace["status"] == "purged"
    assert f"erasure request {request_id}" in trace["status_text"]

    (status,) = request_statuses(store, today=clock.today())
    assert (status.request.request_id, status.request.request.value, status.state) == (request_id, "erase", "closed")
    assert (status.request.due_on - status.request.received_on).days == 14  # no record came under a gdpr block

    (suppression,) = suppressions(store)
    listed = {(d.kind, d.digest) for d in suppression.digests}
    assert (IdentifierKind.PHONE, digest(IdentifierKind.PHONE, HANAKO.phone)) in listed
    assert (IdentifierKind.EMAIL, digest(IdentifierKind.EMAIL, HANAKO.email)) in listed  # widened from her records
    assert {kind for kind, _ in listed} == {IdentifierKind.EMAIL, IdentifierKind.PHONE, IdentifierKind.NAME}

    for name, data in files(store).items():
        if not name.startswith(("curated/", "landing/")):
            for clear in CLEAR:
                assert clear not in data, (name, clear)
    entries = [
        AuditEntry.model_validate_json(data)
        for name, data in files(store).items()
        if name.startswith("audit/") and b'"erasure-request"' in data
    ]
    (entry,) = entries
    assert sorted(entry.record_ids or []) == sorted(hanako.values())
    assert entry.detail is not None
    assert entry.detail["request_id"] == request_id
    assert entry.detail["datasets"] == "jp_customer_leads"


def test_without_now_the_records_stay_until_the_next_retention_run(
    two_providers: TwoProviders, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    asked = cli("erasure", "request", "--email", " HANAKO.Kakuu@example.INVALID ", "--reason", "REQ-2", "--json")

    assert asked.code == 0, asked.stderr
    answer = asked.json()
    request_id = answer["request"]["request_id"]
    assert (answer["records"], answer["datasets"], answer["batches"], answer["providers"]) == (
        2,
        ["jp_customer_leads"],
        2,
        2,
    )
    assert answer["certificates"] is None
    assert answer["request"]["dataset"] is None
    assert answer["request"]["identifiers"] == [{"kind": "email", "digest": digest(IdentifierKind.EMAIL, HANAKO.email)}]
    assert len(answer["request"]["record_ids"]) == 2
    assert live_customers(store).keys() >= HANAKO_IDS  # nothing purged yet
    (status,) = request_statuses(store, today=clock.today())
    assert status.state == "open"

    run = cli("retention", "run")

    assert run.code == 0, run.stderr
    assert f"erasure requests carried out: {request_id}" in run.stdout
    assert HANAKO_IDS.isdisjoint(live_customers(store))
    assert pending_requests(store) == []
    assert cli("lineage", "verify").code == 0


def test_an_identifier_nobody_has_reaches_nothing_but_is_recorded_and_suppressed(
    two_providers: TwoProviders, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    before = live_customers(store)

    done = cli("erasure", "request", "--email", "nobody@example.invalid", "--reason", "REQ-3")

    assert done.code == 0, done.stderr
    request_id = done.stdout.split(":")[0]
    assert done.stdout.startswith(
        f"{request_id}: 0 record(s) of this person in 0 dataset(s) (0 batch(es), 0 provider(s))"
    )
    assert live_customers(store) == before
    (request,) = [
        ErasureRequest.model_validate_json(data)
        for name, data in files(store).items()
        if name.startswith(folder_prefix(ERASURE_REQUESTS))
    ]
    assert (request.request_id, request.record_ids) == (request_id, [])
    (suppression,) = suppressions(store)
    assert [(d.kind, d.digest) for d in suppression.digests] == [
        (IdentifierKind.EMAIL, digest(IdentifierKind.EMAIL, "nobody@example.invalid"))
    ]


def test_one_dataset_named_limits_the_request_to_it(two_providers: TwoProviders, cli: Callable[..., Run]) -> None:
    done = cli("erasure", "request", "--dataset", "jp_entrusted_mailing", "--phone", HANAKO.phone, "--reason", "R")

    assert done.code == 0, done.stderr
    assert ": 0 record(s) of this person in 0 dataset(s)" in done.stdout
    (request,) = pending_requests(two_providers.store)
    assert request.dataset == "jp_entrusted_mailing"


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (("--name", "架空花子"), "", "--name finds a person only with --birth-date"),
        (("--email", "hanako.kakuu.example.invalid"), "", "the email given is not one anybody can be found by"),
        (("--email", "-", "--phone", "-"), "a@b.jp\n090\n", "only one option can read standard input"),
        (("--name", "架空花子", "--birth-date", "1985-13-40"), "", "--birth-date"),
        ((), "", "say who"),
        (("--subject-key", "C9000001"), "", "--subject-key is a provider's customer number: it needs --dataset"),
        (("--phone", "12"), "", "the phone given is not one anybody can be found by"),
    ],
    ids=["name-without-birth-date", "email-without-at", "two-stdin", "bad-birth-date", "nobody", "key-alone", "short"],
)
def test_bad_input_is_refused_with_a_message_and_writes_nothing(
    two_providers: TwoProviders, args: tuple[str, ...], stdin: str, says: str
) -> None:
    import os
    import subprocess
    import sys

    before = files(two_providers.store)
    env = {**os.environ, "KAKUNIN_HOME": str(root(two_providers.store)), "KAKUNIN_HMAC_KEY": KEY.hex()}
    done = subprocess.run(
        [sys.executable, "-m", "kakunin.cli", "erasure", "request", *args, "--reason", "R", "--now"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )

    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert files(two_providers.store) == before


def eu_origin(doc: dict[str, Any], _batch: Path) -> None:
    """The batch's data left the EU: the document carries its `gdpr` block (the person may invoke GDPR Art. 17)."""
    notice = {"provided_on": doc["received_on"] - timedelta(days=10), "evidence": ["consent-sample"]}
    doc["eu_origin"] = True
    doc["gdpr"] = {"lawful_basis": "consent", "art14_notice": notice, "purposes_at_transfer": list(doc["purposes"])}


def test_a_record_from_eu_origin_data_puts_the_request_under_gdpr_too(
    two_providers: TwoProviders, publish: Callable[..., tuple[BatchRef, BatchResult]], cli: Callable[..., Run]
) -> None:
    _, outcome = publish("eu", seed=13, mutation=eu_origin, data_mutation=plant([(HANAKO, "C9200001")]))
    assert outcome.decision == "published", outcome

    asked = cli("erasure", "request", "--name", "カクウ ハナコ", "--birth-date", HANAKO.birth_date, "--reason", "R")

    assert asked.code == 0, asked.stderr
    assert ": 3 record(s) of this person in 1 dataset(s) (3 batch(es), 2 provider(s))" in asked.stdout
    (status,) = request_statuses(two_providers.store, today=clock.today())
    assert status.request.regimes == [Regime.APPI, Regime.GDPR]
    # Two records came from Japanese providers: the earliest deadline of the regimes applies, APPI's 14 days.
    assert (status.request.due_on - status.request.received_on).days == 14
    assert DuePolicy().due_on(status.request.received_on, {Regime.GDPR}) > status.request.due_on  # EU only: a month


def test_a_held_record_stays_and_keeps_every_request_for_it_open(
    two_providers: TwoProviders, cli: Callable[..., Run]
) -> None:
    store = two_providers.store
    held_id = live_customers(store)["C9000001"]
    placed = cli("hold", "add", "--dataset", "jp_customer_leads", "--record", held_id, "--reason", "litigation")
    assert placed.code == 0, placed.stderr
    first = cli("erasure", "request", "--email", HANAKO.email, "--reason", "REQ-4")  # she asks twice
    assert first.code == 0, first.stderr

    done = cli("erasure", "request", "--phone", HANAKO.phone, "--reason", "REQ-5", "--now")

    assert done.code == 0, done.stderr
    assert "retained by" in done.stdout
    assert live_customers(store).keys() & HANAKO_IDS == {"C9000001"}
    assert sorted(r.request_id for r in pending_requests(store)) == sorted(
        run.stdout.split(":")[0] for run in (first, done)
    )
    assert [s.state for s in request_statuses(store, today=clock.today())] == ["open", "open"]
