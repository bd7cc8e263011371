"""Made-up data subjects to plant in sample batches, and a second provider to send them.

The data-subject scenarios (one person under two providers' customer numbers, the same
person re-sent after erasure, a batch that copies another provider's people) are built by
planting these people into the rows a sample batch already has: the other rows stay.
All names, numbers and addresses are invented.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kakunin_dev.sample_edits import DataMutation, Mutation


@dataclass(frozen=True)
class Person:
    """One made-up person, with their identifiers as a provider's file would carry them."""

    name_kanji: str
    name_kana: str
    email: str
    phone: str
    birth_date: str  # YYYY-MM-DD


# The person of the demo and the tests: each provider writes her differently (spaces, case, phone form), as
# each passes the accuracy suite; `kakunin subject find` takes other forms still (+81, hiragana, full width).
HANAKO = Person(
    name_kanji="架空 花子",
    name_kana="カクウ　ハナコ",
    email="hanako.kakuu@example.invalid",
    phone="090-1111-2222",
    birth_date="1985-04-12",
)
HANAKO_AS_SECOND_PROVIDER_WRITES = Person(
    name_kanji="架空花子",
    name_kana="カクウ ハナコ",
    email="Hanako.Kakuu@Example.invalid",
    phone="09011112222",
    birth_date="1985-04-12",
)

SECOND_PROVIDER: dict[str, Any] = {
    "kind": "business",
    "legal_name": "株式会社架空リサーチ",
    "address": "大阪府大阪市北区梅田1-1-1",
    "representative": "代表取締役 架空一郎",
    "corporate_number": "1011101012345",
    "country": "JP",
}


def from_provider(provider: dict[str, Any]) -> Mutation:
    """A document mutation: the batch comes from `provider` (the `provider` block replaced whole)."""

    def mutate(doc: dict[str, Any], _batch: Path) -> None:
        doc["provider"] = dict(provider)

    return mutate


def plant(people: list[tuple[Person, str]], *, start_row: int = 0) -> DataMutation:
    """A data mutation: rows `start_row`, `start_row + 1`, … become these people, each under its customer number."""

    def mutate(path: Path) -> None:
        raw = path.read_bytes()
        encoding = "utf-8"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            encoding = "cp932"
            text = raw.decode(encoding)
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = rows[0]
        for offset, (person, customer_no) in enumerate(people):
            row = rows[1 + start_row + offset]
            values = {
                "customer_no": customer_no,
                "name_kanji": person.name_kanji,
                "name_kana": person.name_kana,
                "email": person.email,
                "phone": person.phone,
                "birth_date": person.birth_date,
            }
            for column, value in values.items():
                row[header.index(column)] = value
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        path.write_bytes(buffer.getvalue().encode(encoding))

    return mutate


def copy_rows(source: Path, count: int) -> DataMutation:
    """A data mutation: the first `count` data rows are those of another batch's `data.csv` (a leaked copy)."""

    def mutate(path: Path) -> None:
        taken = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8"), newline="")))[1 : 1 + count]
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        rows[1 : 1 + count] = taken
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        path.write_bytes(buffer.getvalue().encode("utf-8"))

    return mutate


DEMO_BATCHES = ("first", "second", "resent")  # `make run`'s data-subject scene, in the order it submits them


def write_person_batches(root: Path, *, today: date, rows: int = 20) -> dict[str, Path]:
    """The three batches of `make run`'s data-subject scene, under `root`:

    - `first`: provider A (the samples' provider) sends 花子 as C9000001 among others;
    - `second`: provider B (株式会社架空リサーチ) sends her as C9100077, written its own way;
    - `resent`: provider A sends her again (after she asked to be erased) with new others.
    """
    from kakunin_dev.samples import write_batch

    received_on = today - timedelta(days=1)
    plans: dict[str, tuple[int, Mutation | None, DataMutation]] = {
        "first": (91, None, plant([(HANAKO, "C9000001")])),
        "second": (
            92,
            from_provider(SECOND_PROVIDER),
            plant([(HANAKO_AS_SECOND_PROVIDER_WRITES, "C9100077")], start_row=4),
        ),
        "resent": (93, None, plant([(HANAKO, "C9000001")], start_row=7)),
    }
    return {
        name: write_batch(
            root / name,
            document_id=f"PRV-2026-{910000 + seed:06d}",
            received_on=received_on,
            rows=rows,
            seed=seed,
            mutation=mutation,
            data_mutation=data_mutation,
        )
        for name, (seed, mutation, data_mutation) in plans.items()
    }
