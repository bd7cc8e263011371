"""`kakunin provenance dispose`: how a rejected batch's copies outside the store were returned or deleted.

And what a rejection keeps: whom we refused (the provider's name and corporate number)
beside the findings and the document id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakunin.batches import Rejection
from kakunin.disposal import MAX_NOTE
from tests.conftest import edits

MakeBatch = Callable[..., Path]
Kakunin = Callable[..., Any]
AS_OF = ("--as-of", "2026-11-26")
HMAC = {"KAKUNIN_HMAC_KEY": "cd" * 32}


def _audit(home: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((home / "audit/log").glob("*.json"))]


def _rejected(make_batch: MakeBatch, kakunin: Kakunin) -> str:
    run = kakunin("provenance", "submit", str(make_batch(edits(attestations__no_payment_card_data=False))), *AS_OF)
    assert run.code == 1, run.stderr
    [batch] = [b for b in kakunin("batches", "--json").json() if b["state"] == "rejected"]
    return str(batch["batch_id"])


def test_dispose_records_one_audit_entry_shown_by_batches_and_refuses_a_second(
    make_batch: MakeBatch, kakunin: Kakunin
) -> None:
    batch_id = _rejected(make_batch, kakunin)
    before = _audit(kakunin.home)  # type: ignore[attr-defined]

    run = kakunin(
        "provenance", "dispose", batch_id, "--method", "returned", "--by", "E1024", "--note", "書留で返却", "--json"
    )

    assert run.code == 0, run.stderr
    assert run.json()["batch_id"] == batch_id
    assert run.json()["method"] == "returned"
    after = _audit(kakunin.home)  # type: ignore[attr-defined]
    assert len(after) == len(before) + 1
    entry = after[-1]
    assert (entry["action"], entry["batch_id"], entry["dataset"]) == ("dispose", batch_id, "jp_customer_leads")
    assert entry["detail"] == {"method": "returned", "by": "E1024", "note": "書留で返却"}
    [listed] = kakunin("batches", "--json").json()
    assert listed["disposal"]["method"] == "returned"
    assert listed["disposal"]["by"] == "E1024"
    assert listed["disposal"]["at"] == entry["at"]
    text = kakunin("batches").stdout
    assert "rejected (provenance); returned by E1024 at " in text

    again = kakunin("provenance", "dispose", batch_id, "--method", "deleted", "--by", "E2048", "--note", "消去")
    assert again.code == 1
    assert "already disposed of: returned by E1024" in again.stderr
    assert len(_audit(kakunin.home)) == len(after)  # type: ignore[attr-defined]
    assert kakunin("lineage", "verify").code == 0  # the new action does not upset the log's verification


def test_a_published_or_pending_batch_is_not_disposed_of(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    [pending] = kakunin("batches", "--json").json()
    args = ("--method", "deleted", "--by", "E1024", "--note", "消去済み")
    refused = kakunin("provenance", "dispose", pending["batch_id"], *args, "--json")
    assert refused.code == 1
    assert refused.json()["error"]["code"] == "not_disposable"
    assert "is pending, not rejected" in refused.json()["error"]["message"]

    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    [published] = kakunin("batches", "--json").json()
    assert published["state"] == "published"
    refused = kakunin("provenance", "dispose", published["batch_id"], *args)
    assert refused.code == 1
    assert "is published, not rejected" in refused.stderr
    assert not any(e["action"] == "dispose" for e in _audit(kakunin.home))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--method", "burned"), "Invalid value for '--method'", id="method"),
        pytest.param(("--by", "E 1024"), "--by must be a staff id", id="by"),
        pytest.param(("--note", "x" * (MAX_NOTE + 1)), f"at most {MAX_NOTE}", id="long-note"),
        pytest.param(("--note", "line one\nline two"), "one line", id="two-lines"),
        pytest.param(("--note", "  "), "--note must say what was done", id="empty-note"),
        pytest.param(("--batch", "x"), "No such option", id="unknown-option"),
    ],
)
def test_bad_arguments_exit_2_without_a_traceback(
    make_batch: MakeBatch, kakunin: Kakunin, args: tuple[str, ...], message: str
) -> None:
    given = dict(zip(args[::2], args[1::2], strict=True))
    base = {"--method": "deleted", "--by": "E1024", "--note": "消去済み"}
    full = [x for k, v in {**base, **given}.items() for x in (k, v)]
    run = kakunin("provenance", "dispose", "20261126T000000000000Z-0000abcd", *full)
    assert run.code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unknown_batch_exits_2(kakunin: Kakunin) -> None:
    run = kakunin("provenance", "dispose", "nope", "--method", "deleted", "--by", "E1", "--note", "x", "--json")
    assert run.code == 2
    assert run.json()["error"]["code"] == "not_found"


def test_the_note_help_warns_against_personal_data(kakunin: Kakunin) -> None:
    run = kakunin("provenance", "dispose", "--help")
    assert run.code == 0
    assert "must not hold personal data" in " ".join(run.stdout.split())


def test_a_rejection_keeps_whom_we_refused(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    _rejected(make_batch, kakunin)
    [path] = (kakunin.home / "quarantine").rglob("rejection.json")  # type: ignore[attr-defined]
    rejection = Rejection.model_validate_json(path.read_bytes())
    assert rejection.provider is not None
    assert (rejection.provider.legal_name, rejection.provider.corporate_number) == (
        "株式会社サンプルデータ",
        "2010001000005",
    )
    assert rejection.document_id is not None
    assert rejection.findings


def test_an_old_rejection_without_a_provider_still_loads() -> None:
    old = {
        "batch_id": "20261126T000000000000Z-0000abcd",
        "dataset": "jp_customer_leads",
        "document_id": None,
        "document_sha256": None,
        "stage": "provenance",
        "rejected_at": "2026-11-26T00:00:00Z",
        "findings": [],
    }
    assert Rejection.model_validate(old).provider is None


def test_an_intake_rejection_keeps_the_provider_and_can_be_disposed_of(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    def not_utf8(data: Path) -> None:
        data.write_bytes(data.read_bytes() + b"\xff\xfe\x00 broken tail\r\n")

    assert kakunin("provenance", "submit", str(make_batch(data_mutation=not_utf8)), *AS_OF).code == 0
    kakunin("intake", "run", *AS_OF, env=HMAC)
    [batch] = kakunin("batches", "--json").json()
    assert (batch["state"], batch["stage"]) == ("rejected", "parse")
    [path] = (kakunin.home / "quarantine").rglob("rejection.json")  # type: ignore[attr-defined]
    provider = Rejection.model_validate_json(path.read_bytes()).provider
    assert provider is not None
    assert provider.legal_name == "株式会社サンプルデータ"
    run = kakunin("provenance", "dispose", batch["batch_id"], "--method", "deleted", "--by", "E1024", "--note", "消去")
    assert run.code == 0, run.stderr
    assert kakunin("batches", "--json").json()[0]["disposal"]["method"] == "deleted"
