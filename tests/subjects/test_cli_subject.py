"""`kakunin subject …` end to end: the real command on a store where one person came from two providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kakunin import clock
from kakunin.contracts import IdentifierKind
from kakunin.layout import AUDIT_CHAIN
from kakunin.storage import ObjectStore
from kakunin.subjects.find import MATCHED_BY_ERASURE, find_records
from kakunin.subjects.formats import IdentifierDigest, Suppression
from kakunin.subjects.register import write_suppression
from kakunin_dev.people import HANAKO, Person, plant
from tests.conftest import Run, kakunin_runner
from tests.subjects.conftest import KEY, TwoProviders

FIRST_PROVIDER = "株式会社サンプルデータ"
SECOND_PROVIDER_NAME = "株式会社架空リサーチ"
# Made up, like HANAKO: a person only an EU-origin batch carries.
ERIKA = Person(
    name_kanji="欧州 絵里香",
    name_kana="オウシュウ エリカ",
    email="erika.oushu@example.invalid",
    phone="090-3333-4444",
    birth_date="1990-02-03",
)
EU_ORIGIN = {
    "eu_origin": True,
    "gdpr": {
        "lawful_basis": "consent",
        "art14_notice": {"provided_on": "2026-11-10", "evidence": ["consent-sample"]},
        "purposes_at_transfer": ["marketing_email"],
    },
}

Kakunin = Callable[..., Run]


@pytest.fixture
def kakunin_on(two_providers: TwoProviders) -> Kakunin:
    """The real `kakunin` command on the two-providers store, with the test intake's HMAC key."""
    root: Path = two_providers.store.root  # type: ignore[attr-defined]
    return kakunin_runner(root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})


def found(run: Run) -> list[dict[str, Any]]:
    assert run.code == 0, run.stderr
    records: list[dict[str, Any]] = json.loads(run.stdout)["records"]
    return records


def hanako_ids(two: TwoProviders, records: list[dict[str, Any]]) -> dict[str, str]:
    return {r["batch_id"]: r["record_id"] for r in records}


def test_find_by_email_returns_both_providers_records(kakunin_on: Kakunin, two_providers: TwoProviders) -> None:
    records = found(kakunin_on("subject", "find", "--email", "HANAKO.kakuu@example.invalid ", "--json"))
    assert sorted(r["batch_id"] for r in records) == sorted(
        [two_providers.first.batch_id, two_providers.second.batch_id]
    )
    assert {r["provider"] for r in records} == {FIRST_PROVIDER, SECOND_PROVIDER_NAME}
    assert all(r["state"] == "live" and r["matched_by"] == ["email"] for r in records)
    assert all(r["purposes"] and r["received_on"] == "2026-11-20" for r in records)
    text = kakunin_on("subject", "find", "--email", HANAKO.email)
    assert text.code == 0, text.stderr
    assert FIRST_PROVIDER in text.stdout
    assert SECOND_PROVIDER_NAME in text.stdout
    assert "2 record(s)" in text.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--phone", "+81 90-1111-2222"], id="phone-international"),
        pytest.param(["--name", "かくう　はなこ", "--birth-date", HANAKO.birth_date], id="name-hiragana"),
        pytest.param(["--name", "架空花子", "--birth-date", HANAKO.birth_date], id="name-kanji"),
    ],
)
def test_other_identifiers_find_the_same_records(
    kakunin_on: Kakunin, two_providers: TwoProviders, args: list[str]
) -> None:
    by_email = {r["record_id"] for r in found(kakunin_on("subject", "find", "--email", HANAKO.email, "--json"))}
    records = found(kakunin_on("subject", "find", *args, "--json"))
    assert {r["record_id"] for r in records} == by_email
    assert len(by_email) == 2


def test_find_reads_an_identifier_from_stdin_and_unions_several(two_providers: TwoProviders) -> None:
    root: Path = two_providers.store.root  # type: ignore[attr-defined]
    env = {**os.environ, "KAKUNIN_HOME": str(root), "KAKUNIN_HMAC_KEY": KEY.hex()}
    done = subprocess.run(
        [sys.executable, "-m", "kakunin.cli", "subject", "find", "--email", "-", "--phone", "0901111 2222", "--json"],
        input=HANAKO.email + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    records = found(Run(done.returncode, done.stdout, done.stderr))
    assert len(records) == 2
    assert all(r["matched_by"] == ["email", "phone"] for r in records)


def test_an_unknown_person_has_no_records_and_bad_input_is_refused(kakunin_on: Kakunin) -> None:
    none = kakunin_on("subject", "find", "--email", "nobody@example.invalid")
    assert (none.code, none.stdout) == (0, "no records of this person\n")
    alone = kakunin_on("subject", "find", "--name", "架空花子")
    assert alone.code == 2
    assert alone.stderr.startswith("error: ")
    assert "--birth-date" in alone.stderr
    nothing = kakunin_on("subject", "find")
    assert nothing.code == 2
    assert "say who" in nothing.stderr
    keyless = kakunin_on("subject", "find", "--email", HANAKO.email, env={"KAKUNIN_HMAC_KEY": ""})
    assert keyless.code == 2
    assert "KAKUNIN_HMAC_KEY" in keyless.stderr
    assert "Traceback" not in keyless.stderr


def test_disclose_writes_the_records_and_both_receipts(kakunin_on: Kakunin, tmp_path: Path) -> None:
    out = tmp_path / "開示"
    run = kakunin_on("subject", "disclose", "--email", HANAKO.email, "--out", str(out))
    assert run.code == 0, run.stderr
    document = json.loads((out / "disclosure.json").read_text(encoding="utf-8"))
    html = (out / "disclosure.html").read_text(encoding="utf-8")
    assert len(document["records"]) == 2
    assert {r["receipt"]["provider"]["legal_name"] for r in document["receipts"]} == {
        FIRST_PROVIDER,
        SECOND_PROVIDER_NAME,
    }
    for provider in (FIRST_PROVIDER, SECOND_PROVIDER_NAME):
        assert provider in html
    emails = {r["data"]["email"] for r in document["records"]}
    assert {e.lower() for e in emails} == {HANAKO.email}  # the data as held, as each provider wrote it
    for record in document["records"]:
        assert record["record_id"] in html
        assert record["data"]["record_id"] == record["record_id"]
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html
    requests = json.loads(kakunin_on("subject", "requests", "--json").stdout)["requests"]
    assert [(r["request"], r["state"], r["records"]) for r in requests] == [("disclose", "closed", 2)]


def test_disclose_refuses_a_folder_that_is_not_empty(kakunin_on: Kakunin, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    run = kakunin_on("subject", "disclose", "--email", HANAKO.email, "--out", str(out))
    assert run.code == 2
    assert run.stderr.startswith("error: ")
    assert "not an empty folder" in run.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert json.loads(kakunin_on("subject", "requests", "--json").stdout)["requests"] == []


def test_disclosing_to_a_person_of_whom_nothing_is_held_says_so(kakunin_on: Kakunin, tmp_path: Path) -> None:
    out = tmp_path / "none"
    run = kakunin_on("subject", "disclose", "--email", "nobody@example.invalid", "--out", str(out))
    assert run.code == 0, run.stderr
    document = json.loads((out / "disclosure.json").read_text(encoding="utf-8"))
    assert document["records"] == []
    assert "hold no personal data" in document["summary"]
    assert "hold no personal data" in (out / "disclosure.html").read_text(encoding="utf-8")


def test_stop_use_shows_in_find_trace_and_disclose_until_resumed(kakunin_on: Kakunin, tmp_path: Path) -> None:
    stop = kakunin_on("subject", "stop-use", "--phone", HANAKO.phone, "--reason", "本人からの利用停止請求", "--json")
    assert stop.code == 0, stop.stderr
    stopped = json.loads(stop.stdout)
    records = found(kakunin_on("subject", "find", "--email", HANAKO.email, "--json"))
    assert sorted(stopped["records"]) == sorted(r["record_id"] for r in records)
    assert {(r["state"], r["stop_id"]) for r in records} == {("stopped", stopped["stop_id"])}
    trace = kakunin_on("lineage", "trace", records[0]["record_id"], "--json")
    assert trace.code == 0, trace.stderr
    assert json.loads(trace.stdout)["stopped_by"] == stopped["stop_id"]
    text = kakunin_on("lineage", "trace", records[0]["record_id"])
    assert f"use stopped (利用停止) by stop {stopped['stop_id']}" in text.stdout
    kakunin_on("subject", "disclose", "--email", HANAKO.email, "--out", str(tmp_path / "d"))
    document = json.loads((tmp_path / "d" / "disclosure.json").read_text(encoding="utf-8"))
    assert {r["state"] for r in document["records"]} == {"stopped"}

    resumed = kakunin_on("subject", "resume", stopped["stop_id"], "--reason", "請求の取下げ")
    assert resumed.code == 0, resumed.stderr
    assert {r["state"] for r in found(kakunin_on("subject", "find", "--email", HANAKO.email, "--json"))} == {"live"}
    trace = json.loads(kakunin_on("lineage", "trace", records[0]["record_id"], "--json").stdout)
    assert trace["stopped_by"] is None
    assert trace["status"] == "live"
    again = kakunin_on("subject", "resume", stopped["stop_id"], "--reason", "twice")
    assert again.code == 2
    assert "already lifted" in again.stderr
    unknown = kakunin_on("subject", "resume", "STOP-nope", "--reason", "x")
    assert unknown.code == 2
    assert "no stop" in unknown.stderr


def test_requests_have_deadlines_and_actions_answer_them(kakunin_on: Kakunin) -> None:
    received = clock.today() - timedelta(days=20)
    old = kakunin_on(
        "subject", "request", "stop-use", "--email", HANAKO.email, "--reference", "LTR-1", "--received-on",
        received.isoformat(), "--json",
    )  # fmt: skip
    assert old.code == 0, old.stderr
    request = json.loads(old.stdout)
    assert request["due_on"] == (received + timedelta(days=14)).isoformat()
    assert len(request["record_ids"]) == 2
    assert request["regimes"] == ["appi"]
    fresh = json.loads(kakunin_on("subject", "request", "disclose", "--phone", HANAKO.phone, "--reference", "T-2",
                                  "--json").stdout)  # fmt: skip
    overdue = json.loads(kakunin_on("subject", "requests", "--overdue", "--json").stdout)["requests"]
    assert [r["request_id"] for r in overdue] == [request["request_id"]]
    listed = kakunin_on("subject", "requests")
    assert "OVERDUE" in listed.stdout
    assert request["request_id"] in listed.stdout

    wrong = kakunin_on(
        "subject", "stop-use", "--email", HANAKO.email, "--reason", "r", "--request", fresh["request_id"]
    )
    assert wrong.code == 2
    assert "asks for disclose, not stop-use" in wrong.stderr
    done = kakunin_on(
        "subject", "stop-use", "--email", HANAKO.email, "--reason", "r", "--request", request["request_id"]
    )
    assert done.code == 0, done.stderr
    statuses = {r["request_id"]: r for r in json.loads(kakunin_on("subject", "requests", "--json").stdout)["requests"]}
    assert statuses[request["request_id"]]["state"] == "closed"
    assert statuses[request["request_id"]]["closed_late"] is True
    assert statuses[fresh["request_id"]]["state"] == "open"
    twice = kakunin_on(
        "subject", "stop-use", "--email", HANAKO.email, "--reason", "r", "--request", request["request_id"]
    )
    assert twice.code == 2
    assert "already closed" in twice.stderr
    assert kakunin_on("subject", "requests", "--overdue").stdout == "no requests in the register\n"


def test_a_request_reaching_only_eu_origin_records_gets_gdpr_month(
    kakunin_on: Kakunin, publish: Callable[..., Any]
) -> None:
    def eu(doc: dict[str, Any], _batch: Path) -> None:
        doc.update(EU_ORIGIN)

    _, outcome = publish("eu", seed=13, mutation=eu, data_mutation=plant([(ERIKA, "C9200001"), (HANAKO, "C9200002")]))
    assert outcome.decision == "published", outcome
    on = date(2026, 11, 20)
    args = ["--reference", "EU-1", "--received-on", on.isoformat(), "--json"]
    erika = json.loads(kakunin_on("subject", "request", "erase", "--email", ERIKA.email, *args).stdout)
    assert (erika["regimes"], erika["due_on"]) == (["gdpr"], "2026-12-20")
    hanako = json.loads(kakunin_on("subject", "request", "erase", "--email", HANAKO.email, *args).stdout)
    assert len(hanako["record_ids"]) == 3
    assert (hanako["regimes"], hanako["due_on"]) == (["appi", "gdpr"], "2026-12-04")


def test_the_store_and_audit_log_hold_no_identifier_in_clear(
    kakunin_on: Kakunin, two_providers: TwoProviders, tmp_path: Path
) -> None:
    kakunin_on("subject", "find", "--email", HANAKO.email)
    kakunin_on("subject", "request", "correct", "--name", "かくうはなこ", "--birth-date", HANAKO.birth_date,
               "--reference", "R-9")  # fmt: skip
    kakunin_on("subject", "stop-use", "--phone", HANAKO.phone, "--reason", "請求")
    kakunin_on("subject", "disclose", "--email", HANAKO.email, "--out", str(tmp_path / "out"))
    store: ObjectStore = two_providers.store
    actions = [json.loads(store.get_bytes(k))["action"] for k in store.list_keys(AUDIT_CHAIN + "/")]
    for action in ("subject-find", "subject-request", "stop-use", "subject-disclose"):
        assert action in actions
    verify = kakunin_on("lineage", "verify")  # the audit entries are sealed like every other
    assert verify.code == 0, verify.stdout + verify.stderr
    root: Path = store.root  # type: ignore[attr-defined]
    clear = [
        HANAKO.email.encode(),
        b"09011112222",
        b"090-1111-2222",
        "はなこ".encode(),
        "ハナコ".encode(),
        b"1985-04-12",
    ]
    for path in root.rglob("*"):
        if path.is_file() and not {"curated", "landing"} & set(path.parts):
            data = path.read_bytes()
            assert not [c for c in clear if c in data], path


def test_a_record_an_erasure_purged_is_never_shown_live(kakunin_on: Kakunin, two_providers: TwoProviders) -> None:
    erase = kakunin_on(
        "erasure", "request", "--dataset", "jp_customer_leads", "--subject-key", "C9000001", "--reason", "E-1", "--now",
        "--json",
    )  # fmt: skip
    assert erase.code == 0, erase.stderr
    request_id = json.loads(erase.stdout)["request"]["request_id"]
    records = {r["batch_id"]: r for r in found(kakunin_on("subject", "find", "--email", HANAKO.email, "--json"))}
    assert records[two_providers.second.batch_id]["state"] == "live"
    first = records.get(two_providers.first.batch_id)  # gone from the index once a purge rewrites it
    if first is not None:
        assert first["state"] == "purged"
        assert first["purged_by"]
    # Once the index has dropped the purged rows, the suppression list (the person's digests under the
    # request id) and the certificate's record list still find it: a digest the index never held, here.
    given = IdentifierDigest(kind=IdentifierKind.EMAIL, digest="f" * 64)
    write_suppression(
        two_providers.store, Suppression(request_id=request_id, digests=[given], recorded_at=datetime.now(UTC))
    )
    (purged,) = find_records(two_providers.store, {given.digest})
    assert (purged.batch_id, purged.state.value, purged.matched_by) == (
        two_providers.first.batch_id,
        "purged",
        [MATCHED_BY_ERASURE],
    )
    assert purged.purged_by


def test_an_erasure_request_naming_the_person_brings_back_a_record_the_index_no_longer_has(
    two_providers: TwoProviders,
) -> None:
    from kakunin.layout import erasure_request_key
    from kakunin.subjects.register import read_index

    store = two_providers.store
    rows = read_index(store, dataset=two_providers.first.dataset).to_pylist()
    record_id = next(r["record_id"] for r in rows if r["batch_id"] == two_providers.first.batch_id)
    given = "f" * 64  # a digest the index does not hold: as if a purge had rewritten it
    doc = {"request_id": "ER-1", "identifiers": [{"kind": "email", "digest": given}], "record_ids": [record_id]}
    store.put_bytes(erasure_request_key("ER-1"), json.dumps(doc).encode())
    (record,) = find_records(store, {given})
    assert (record.record_id, record.batch_id, record.matched_by) == (
        record_id,
        two_providers.first.batch_id,
        [MATCHED_BY_ERASURE],
    )
    assert record.provider == FIRST_PROVIDER
