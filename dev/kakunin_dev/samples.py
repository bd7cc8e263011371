"""Realistic sample batches for `jp_customer_leads` and `jp_entrusted_mailing`, for the demo and the tests.

Two good batches (UTF-8 and cp932, the latter with ①, 髙 and ㈱, which cp932 has
beyond JIS X 0208), one good JSON document, for each provenance reason code one
batch that fails on exactly that code (warnings: carries exactly that warning), one
accepted `kakunin.provenance/v2` batch per legal ground, and the pattern provenance v2 was
written against refused: a private person reselling a list bought from a 名簿業者 on the
deny list (`provider.individual` and `provider.denied`). The deny list the samples need is
the demo's own (`write_demo_expectations`); the shipped one stays empty.
Data rows are made with Faker's ja_JP locale; names, kana and addresses are fake.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from kakunin.codes import ReasonCode
from kakunin.durations import add_months
from kakunin.hashing import sha256_bytes
from kakunin.yaml_io import dump_yaml, json_text
from kakunin_dev.sample_edits import (
    DataMutation,
    Mutation,
    all_of,
    edit_rows,
    legal_obligation,
    set_field,
)
from kakunin_dev.samples_v2 import add_v2_samples

# The names the tests have long imported from here.
_set, _all, _edit_rows, _legal_obligation = set_field, all_of, edit_rows, legal_obligation

JST = timezone(timedelta(hours=9))
DATASET = "jp_customer_leads"
COLUMNS = [
    "customer_no",
    "name_kanji",
    "name_kana",
    "email",
    "phone",
    "postal_code",
    "address",
    "birth_date",
    "consented_at",
    "last_purchase_on",
]
EVIDENCE_FILES = {
    "contract-2026": ("contract", "evidence/contract-2026.pdf", "データ提供契約書"),
    "consent-sample": ("consent_record", "evidence/consent-screens.pdf", "同意画面の記録"),
    "dpa-nyuryoku": ("dpa", "evidence/dpa.pdf", "委託契約書"),
    "dpa-sub": ("dpa", "evidence/dpa-sub.pdf", "再委託承認書"),
    "privacy-notice": ("privacy_notice", "evidence/privacy-notice.pdf", "プライバシーポリシー"),
}


@dataclass(frozen=True)
class Sample:
    """One sample batch: its folder, what it should trigger and in which encoding its data is.

    `expected` is the code the sample is about; `also` the codes that must fire with it
    (the 名簿業者 resale pattern is both `provider.individual` and `provider.denied`).
    """

    name: str
    path: Path
    expected: ReasonCode | None
    encoding: str
    at_intake: bool = False
    also: tuple[ReasonCode, ...] = ()
    as_warning: bool = False  # a code with two severities, here given as a warning (special_care.mismatch)

    @property
    def warns(self) -> bool:
        """The sample is accepted and carries its code as a warning."""
        return self.expected is not None and (self.as_warning or self.expected.severity == "warning")

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        """Every code the sample must fire, the one it is about first."""
        return (self.expected, *self.also) if self.expected else ()


def write_rows(path: Path, *, rows: int, seed: int, encoding: str = "utf-8", beyond_jis: bool = False) -> None:
    """Write `rows` fake leads as CSV; `beyond_jis` puts ①, 髙 and ㈱ into some rows."""
    from faker import Faker  # imported here: Faker is slow to import and only samples need it

    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 - sample data, not security
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n in range(rows):
        last, last_kana, _ = fake.last_name_pair()
        first, first_kana, _ = fake.first_name_pair()
        address = fake.address()
        if beyond_jis and n % 3 == 0:
            last, last_kana = "髙橋", "タカハシ"
            address = f"{address} ㈱サンプルビル①"
        consented = datetime.combine(date(2024, 4, 1) + timedelta(days=rng.randrange(900)), time(), JST)
        consented += timedelta(seconds=rng.randrange(86400))
        last_purchase = (
            "" if rng.random() < 0.2 else (date(2024, 1, 1) + timedelta(days=rng.randrange(1000))).isoformat()
        )
        writer.writerow(
            [
                f"C{1000000 + seed * 10000 + n:07d}",
                f"{last} {first}",
                f"{last_kana}　{first_kana}",
                fake.email(),
                _phone(rng),
                fake.postcode(),
                address,
                fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
                consented.isoformat(),
                last_purchase,
            ]
        )
    path.write_bytes(buffer.getvalue().encode(encoding))


_PHONE_SHAPES = ("0M0-DDDD-DDDD", "0M0DDDDDDDD", "03-DDDD-DDDD", "06-DDDD-DDDD", "045-DDD-DDDD", "0120-DDD-DDD")


def _phone(rng: random.Random) -> str:
    """A Japanese number in one of the usual shapes (Faker's ja_JP also makes impossible ones)."""
    shape = rng.choice(_PHONE_SHAPES)
    return "".join(rng.choice("789") if ch == "M" else rng.choice("0123456789") if ch == "D" else ch for ch in shape)


def _write_evidence(batch: Path, ids: list[str]) -> list[dict[str, Any]]:
    entries = []
    for evidence_id in ids:
        kind, file, title = EVIDENCE_FILES[evidence_id]
        content = f"%PDF-1.4\n% Kakunin sample evidence: {title} ({evidence_id})\n%%EOF\n".encode()
        target = batch / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        entries.append({"id": evidence_id, "kind": kind, "file": file, "sha256": sha256_bytes(content)})
    return entries


def good_document(*, document_id: str, received_on: date) -> dict[str, Any]:
    """A complete, acceptable document, shaped like the spec's example, dated around `received_on`."""
    period = {"from": add_months(received_on, -31), "to": received_on - timedelta(days=20)}
    return {
        "kind": "kakunin.provenance/v1",
        "document_id": document_id,
        "dataset": DATASET,
        "received_on": received_on,
        "submitted_by": "E1024",
        "approved_by": "E2048",
        "provider": {
            "kind": "business",
            "legal_name": "株式会社サンプルデータ",
            "address": "東京都千代田区丸の内1-1-1",
            "representative": "代表取締役 山田太郎",
            "corporate_number": "2010001000005",
            "country": "JP",
        },
        "acquisition": {
            "source": "data_subjects",
            "method": "web_form",
            "description": "自社Webサイトの会員登録フォーム",
            "period": dict(period),
            "evidence": ["contract-2026"],
            "upstream": [],
        },
        "legal_ground": "consent",
        "consent": {
            "mechanism": "web_checkbox",
            "purposes": ["marketing_email", "product_research"],
            "obtained_between": dict(period),
            "evidence": ["consent-sample"],
        },
        "notice": {
            "method": "published",
            "url": "https://example.co.jp/privacy",
            "version_date": period["from"],
            "purposes": ["marketing_email", "product_research"],
        },
        "purposes": ["marketing_email"],
        "data_items": [
            {"column": "customer_no", "category": "identity.customer_number"},
            {"column": "name_kanji", "category": "identity.name"},
            {"column": "name_kana", "category": "identity.name_kana"},
            {"column": "email", "category": "contact.email"},
            {"column": "phone", "category": "contact.phone"},
            {"column": "postal_code", "category": "contact.postal_code"},
            {"column": "address", "category": "contact.address"},
            {"column": "birth_date", "category": "demographic.birth_date"},
        ],
        "special_care": False,
        "contractors": [
            {
                "legal_name": "株式会社データ入力",
                "role": "processor",
                "approved_on": add_months(received_on, -20),
                "security_reviewed_on": add_months(received_on, -8),
                "evidence": ["dpa-nyuryoku"],
                "subcontractors": [
                    {
                        "legal_name": "合同会社入力サポート",
                        "role": "sub-processor",
                        "approved_on": add_months(received_on, -18),
                        "security_reviewed_on": add_months(received_on, -6),
                        "evidence": ["dpa-sub"],
                        "subcontractors": [],
                    }
                ],
            }
        ],
        "retention": {"period": "P3Y", "clock": "received_on", "basis": "契約書第7条"},
        "eu_origin": False,
        "evidence": [],
        "attestations": {
            "no_confidential_markings": True,
            "no_payment_card_data": True,
            "provider_identity_verified": True,
        },
    }


def _remove_file(relative: str) -> Mutation:
    return lambda doc, batch: (batch / relative).unlink()


def _tamper_file(relative: str) -> Mutation:
    return lambda doc, batch: (batch / relative).write_bytes((batch / relative).read_bytes() + b"% edited\n")


def _subcontractor(field: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any], batch: Path) -> None:
        doc["contractors"][0]["subcontractors"][0][field] = value

    return mutate


def _opt_out(doc: dict[str, Any], batch: Path) -> None:
    doc["legal_ground"] = "opt_out"
    del doc["consent"]
    content = b"%PDF-1.4\n% Kakunin sample evidence: PPC filing\n%%EOF\n"
    (batch / "evidence/ppc-filing.pdf").write_bytes(content)
    doc["evidence"].append(
        {
            "id": "ppc-filing",
            "kind": "ppc_filing",
            "file": "evidence/ppc-filing.pdf",
            "sha256": sha256_bytes(content),
        }
    )
    doc["opt_out"] = {"published_on": add_months(doc["received_on"], -30), "evidence": ["ppc-filing"]}


def _another_purpose(purpose: str) -> Mutation:
    def mutate(doc: dict[str, Any], batch: Path) -> None:
        for block in (doc, doc["consent"], doc["notice"]):
            block["purposes"] = [*block["purposes"], purpose]

    return mutate


def mutations(received_on: date) -> dict[ReasonCode, Mutation]:
    """For each reason code of the provenance gate, the change that triggers exactly it."""
    r = ReasonCode
    return {
        r.SCHEMA: set_field("favourite_colour", "blue"),
        r.DATASET_UNKNOWN: set_field("dataset", "jp_customer_leeds"),
        r.FOUR_EYES: set_field("approved_by", "E1024"),
        r.PROVIDER_IDENTITY: set_field("provider.corporate_number", "3010001000005"),
        r.ACQUISITION_UNDOCUMENTED: set_field("acquisition.evidence", []),
        r.ACQUISITION_CHAIN: all_of(
            set_field("acquisition.source", "another_business"), set_field("acquisition.method", "purchase")
        ),
        r.LEGAL_GROUND_CONSENT: set_field("consent.evidence", ["contract-2026"]),
        r.LEGAL_GROUND_OPT_OUT: _opt_out,
        r.SPECIAL_CARE_CONSENT: all_of(set_field("special_care", True), legal_obligation),
        r.PURPOSE_UNREGISTERED: _another_purpose("telemarketing"),
        r.PURPOSE_NOT_PERMITTED: _another_purpose("credit_screening"),
        r.PURPOSE_BEYOND_CONSENT: all_of(
            set_field("purposes", ["marketing_email", "marketing_post"]),
            set_field("notice.purposes", ["marketing_email", "marketing_post"]),
        ),
        r.NOTICE_MISSING: set_field("notice.url", None),
        r.DATA_ITEMS_UNDECLARED: lambda doc, batch: doc["data_items"].pop(4),
        r.CONTRACTOR_UNAPPROVED: _subcontractor("approved_on", None),
        r.CONTRACTOR_REVIEW_STALE: _subcontractor("security_reviewed_on", add_months(received_on, -14)),
        r.EVIDENCE_MISSING: _remove_file("evidence/dpa.pdf"),
        r.EVIDENCE_HASH_MISMATCH: _tamper_file("evidence/consent-screens.pdf"),
        r.EVIDENCE_UNSAFE_PATH: lambda doc, batch: doc["evidence"][2].update(file="../evidence/dpa.pdf"),
        r.RETENTION_INVALID: set_field("retention.period", "P7Y"),
        r.DATES_INCONSISTENT: set_field("acquisition.period.to", received_on + timedelta(days=3)),
        r.ATTESTATION_RED_FLAG: set_field("attestations.no_payment_card_data", False),
        r.GDPR_MISSING: set_field("eu_origin", True),
        r.GROUND_REVIEW: legal_obligation,
    }


def write_batch(
    batch: Path,
    *,
    document_id: str,
    received_on: date,
    rows: int,
    seed: int,
    encoding: str = "utf-8",
    beyond_jis: bool = False,
    mutation: Mutation | None = None,
    data_mutation: DataMutation | None = None,
    as_json: bool = False,
) -> Path:
    """Write one batch folder (document, data.csv, evidence) and return it."""
    if batch.exists():
        shutil.rmtree(batch)
    batch.mkdir(parents=True)
    write_rows(batch / "data.csv", rows=rows, seed=seed, encoding=encoding, beyond_jis=beyond_jis)
    if data_mutation is not None:
        data_mutation(batch / "data.csv")
    doc = good_document(document_id=document_id, received_on=received_on)
    doc["evidence"] = _write_evidence(batch, list(EVIDENCE_FILES))
    if mutation is not None:
        mutation(doc, batch)
    if as_json:
        text = json_text(doc, default=str)
        (batch / "provenance.json").write_text(text + "\n", encoding="utf-8")
    else:
        (batch / "provenance.yaml").write_text(dump_yaml(doc), encoding="utf-8")
    return batch


SAMPLE_COUNT = 48  # the batches below; `progress` counts them as written, then as submitted (twice as many)


def write_samples(
    root: Path, *, today: date, rows: int = 40, progress: Callable[[int, int, str], None] | None = None
) -> list[Sample]:
    """Write every sample batch under `root`; documents are dated a few days before `today`.

    `progress(done, 2 * SAMPLE_COUNT, label)` hears of each batch written (the caller
    counts the second half, submitting them).
    """
    received_on = today - timedelta(days=6)
    year = received_on.year
    samples: list[Sample] = []

    def add(
        name: str,
        expected: ReasonCode | None,
        encoding: str = "utf-8",
        *,
        at_intake: bool = False,
        also: tuple[ReasonCode, ...] = (),
        as_warning: bool = False,
        **options: Any,
    ) -> None:
        number = len(samples) + 1
        path = write_batch(
            root / f"{number:02d}_{name}",
            document_id=f"PRV-{year}-{900000 + number:06d}",
            received_on=received_on,
            rows=options.pop("rows", rows),
            seed=number,
            encoding=encoding,
            **options,
        )
        sample = Sample(
            name=f"{number:02d}_{name}",
            path=path,
            expected=expected,
            encoding=encoding,
            at_intake=at_intake,
            also=also,
            as_warning=as_warning,
        )
        samples.append(sample)
        if progress is not None:
            progress(len(samples), 2 * SAMPLE_COUNT, f"wrote {sample.name}")

    add("good_utf8", None)
    add("good_cp932", None, "cp932", beyond_jis=True, mutation=set_field("retention.period", "P1Y"))
    add("good_json", None, as_json=True, mutation=set_field("retention.period", "P1Y"))
    for code, mutation in mutations(received_on).items():
        add(code.value.replace(".", "_"), code, mutation=mutation)
    add(
        "few_bad_rows",
        None,
        at_intake=True,
        rows=max(rows, 600),
        data_mutation=spoil_a_few_rows,
        mutation=set_field("retention.clock", "column:last_purchase_on"),
    )
    add("too_many_bad_rows", ReasonCode.ACCURACY_THRESHOLD, at_intake=True, data_mutation=_spoil_phones)
    add("missing_column", ReasonCode.PARSE_SCHEMA, at_intake=True, data_mutation=_drop_column("phone"))
    add("mixed_encoding", ReasonCode.PARSE_ENCODING, at_intake=True, rows=max(rows, 10), data_mutation=_mix_in_cp932)
    add_v2_samples(add, received_on)
    return samples


def spoil_a_few_rows(path: Path) -> None:
    """Five failing data rows (of 600 or more): one for each kind of accuracy or parse failure.

    Row 10: postal code without its hyphen; row 20: birth date 1980-13-45 (parse.value);
    rows 30 and 31: the same customer number (both fail uniqueness); row 40: name_kana in hiragana.
    """

    def edit(rows: list[list[str]]) -> None:
        column = {name: i for i, name in enumerate(rows[0])}
        rows[10][column["postal_code"]] = rows[10][column["postal_code"]].replace("-", "")
        rows[20][column["birth_date"]] = "1980-13-45"
        rows[31][column["customer_no"]] = rows[30][column["customer_no"]]
        rows[40][column["name_kana"]] = "たなか　はなこ"

    edit_rows(path, edit)


def _spoil_phones(path: Path) -> None:
    def edit(rows: list[list[str]]) -> None:
        column = rows[0].index("phone")
        for row in rows[1:6]:
            row[column] = "12345"

    edit_rows(path, edit)


def _drop_column(name: str) -> DataMutation:
    def mutate(path: Path) -> None:
        def edit(rows: list[list[str]]) -> None:
            index = rows[0].index(name)
            for row in rows:
                del row[index]

        edit_rows(path, edit)

    return mutate


def _mix_in_cp932(path: Path) -> None:
    """A UTF-8 file with three lines saved in cp932, as happens when files are concatenated."""
    lines = path.read_bytes().split(b"\r\n")
    for i in (5, 6, 7):
        lines[i] = lines[i].decode("utf-8").encode("cp932")
    path.write_bytes(b"\r\n".join(lines))
