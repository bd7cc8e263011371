"""Dataset contracts, the purpose register and the deny list: what a dataset is, what it
may be used for, and whom the company must not receive data from.

All live as YAML under `expectations/` so they are reviewed like code. Loading
validates them fully; a broken file is a `ConfigError` naming the file and the field.
"""

from __future__ import annotations

import os
import re
from datetime import date
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from kakunin.durations import DurationError, IsoDuration, parse_duration
from kakunin.errors import ConfigError
from kakunin.layout import IDENTIFIER
from kakunin.uniqueness import repeated
from kakunin.yaml_io import DocumentSyntaxError, parse_mapping

M = TypeVar("M", bound=BaseModel)
_MAX_CONFIG_BYTES = 1 << 20
DENY_LIST_FILE = "providers-denied.yaml"
SPECIAL_CARE_PREFIX = "special_care."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Purpose(_Strict):
    """One registered purpose of use (APPI Art. 17), with the wording notices publish."""

    id: Annotated[str, Field(pattern=IDENTIFIER, description="Stable id used in documents and lineage.")]
    title_en: Annotated[str, Field(min_length=1)]
    title_ja: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    notice_text: Annotated[str, Field(description="Text published in the privacy notice.")] = ""


class PurposeRegister(_Strict):
    """`expectations/purposes.yaml`: every purpose any dataset may be used for."""

    purposes: Annotated[list[Purpose], Field(min_length=1)]

    @field_validator("purposes")
    @classmethod
    def _ids_are_unique(cls, purposes: list[Purpose]) -> list[Purpose]:
        ids = [p.id for p in purposes]
        duplicates = repeated(ids)
        if duplicates:
            raise ValueError(f"purpose ids must be unique; repeated: {', '.join(duplicates)}")
        return purposes

    @cached_property
    def ids(self) -> frozenset[str]:
        return frozenset(p.id for p in self.purposes)


class DeniedProvider(_Strict):
    """A business the company must not receive personal data from (e.g. a 名簿業者 selling stolen lists)."""

    legal_name: Annotated[str, Field(min_length=1, description="Matched after normalise_company_name.")]
    corporate_number: Annotated[
        str | None,
        Field(pattern=r"^\d{13}$", description="法人番号; when both sides have one, matched on it exactly."),
    ] = None
    reason: Annotated[str, Field(min_length=1)]
    listed_on: date

    @field_validator("corporate_number", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class DenyList(_Strict):
    """`expectations/providers-denied.yaml`: the deny list; an empty list is valid, a missing key is not."""

    denied: Annotated[list[DeniedProvider], BeforeValidator(lambda v: [] if v is None else v)]


class ColumnType(StrEnum):
    """Column types a contract can declare; `timestamp` values must carry a UTC offset."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"


class Column(_Strict):
    """One column of the dataset's file, in file order."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    type: ColumnType
    nullable: bool = True
    personal: Annotated[bool, Field(description="Holds personal information (APPI Art. 2(1)).")] = False
    category: Annotated[str | None, Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$")] = None
    timezone: Annotated[
        str,
        Field(
            pattern=r"^(UTC|[+-](0\d|1[0-4]):[0-5]\d)$",
            description="For timestamp columns: the offset values are published in (the instant is kept).",
        ),
    ] = "UTC"

    @model_validator(mode="after")
    def _personal_columns_have_a_category(self) -> Column:
        if self.personal and not self.category:
            raise ValueError(f"column {self.name!r} is personal and needs a category (e.g. contact.email)")
        if self.special_care and not self.personal:
            raise ValueError(f"column {self.name!r} has a special_care category, so it must be personal: true")
        return self

    @property
    def special_care(self) -> bool:
        """A `special_care.*` category: 要配慮個人情報 (APPI Art. 2(3)), e.g. special_care.health."""
        return self.category is not None and self.category.startswith(SPECIAL_CARE_PREFIX)


class IdentifierKind(StrEnum):
    """What a data subject can be found by (`kakunin subject find`): each is digested with a key, never stored."""

    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"  # with the birth date: a name alone names too many people


class IdentifierSource(_Strict):
    """One column that feeds an identifier of the subject index: `{kind: email, column: email}`, or for a name
    `{kind: name, column: name_kana, birth_date: birth_date}` (a name counts only with the birth date)."""

    kind: IdentifierKind
    column: Annotated[str, Field(pattern=IDENTIFIER)]
    birth_date: Annotated[str | None, Field(pattern=IDENTIFIER)] = None

    @model_validator(mode="after")
    def _name_needs_a_birth_date(self) -> IdentifierSource:
        if self.kind is IdentifierKind.NAME and self.birth_date is None:
            raise ValueError(f"identifier {self.column!r}: a name identifies a person only with `birth_date:`")
        if self.kind is not IdentifierKind.NAME and self.birth_date is not None:
            raise ValueError(f"identifier {self.column!r}: only a name identifier takes `birth_date:`")
        return self


class FileFormat(_Strict):
    """How the batch's data file is laid out."""

    type: Annotated[str, Field(pattern=r"^(csv|parquet)$")] = "csv"
    header: bool = True
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","


class DatasetContract(_Strict):
    """`expectations/<dataset>/contract.yaml`: the shape, purposes and limits of one dataset."""

    dataset: Annotated[str, Field(pattern=IDENTIFIER)]
    title: Annotated[str, Field(min_length=1)]
    description: str = ""
    format: FileFormat = FileFormat()
    encodings: Annotated[list[str], Field(min_length=1)] = ["utf-8"]
    columns: Annotated[list[Column], Field(min_length=1)]
    subject_key: Annotated[list[str], Field(min_length=1)]
    identifiers: Annotated[
        list[IdentifierSource],
        Field(description="Columns that feed the subject index (subjects/), so one person is found across datasets."),
    ] = []
    max_overlap_ratio: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="Above this share of rows already held from another provider, a batch is refused "
            "(intake.overlap): it may be a leaked copy.",
        ),
    ] = 0.2
    allowed_purposes: Annotated[list[str], Field(min_length=1)]
    export_columns: Annotated[
        dict[str, list[str]],
        Field(
            description="Per allowed purpose, the columns an export for it may release (APPI Art. 18: no more "
            "than the purpose needs). A purpose without a list cannot be exported.",
        ),
    ] = {}
    max_retention: str
    quarantine_retention: str = "P30D"
    max_failed_row_ratio: Annotated[float, Field(ge=0, le=1)]
    suite: str | None = None

    @field_validator("encodings")
    @classmethod
    def _encodings_are_supported(cls, encodings: list[str]) -> list[str]:
        supported = {"utf-8", "cp932"}
        unknown = [e for e in encodings if e not in supported]
        if unknown:
            raise ValueError(f"unsupported encodings {unknown}; supported: {sorted(supported)}")
        return encodings

    @field_validator("max_retention", "quarantine_retention")
    @classmethod
    def _is_a_positive_duration(cls, value: str) -> str:
        try:
            duration = parse_duration(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        if duration.is_zero:
            raise ValueError(f"{value!r} is zero; it must be a positive period")
        return value

    @model_validator(mode="after")
    def _columns_are_consistent(self) -> DatasetContract:
        names = [c.name for c in self.columns]
        if twice := repeated(names):
            raise ValueError(f"column names must be unique; repeated: {', '.join(twice)}")
        missing = [k for k in self.subject_key if k not in names]
        if missing:
            raise ValueError(f"subject_key names columns the contract does not have: {', '.join(missing)}")
        for source in self.identifiers:
            self._check_identifier(source)
        for purpose, columns in self.export_columns.items():
            if purpose not in self.allowed_purposes:
                raise ValueError(f"export_columns: {purpose!r} is not one of allowed_purposes")
            if not columns:
                raise ValueError(f"export_columns: {purpose!r} lists no column")
            if unknown := [c for c in columns if c not in names]:
                raise ValueError(f"export_columns: {purpose!r} names columns the contract does not have: {unknown}")
            if twice := repeated(columns):
                raise ValueError(f"export_columns: {purpose!r} repeats {', '.join(twice)}")
        return self

    def _check_identifier(self, source: IdentifierSource) -> None:
        by_name = {c.name: c for c in self.columns}
        column = by_name.get(source.column)
        if column is None or column.type is not ColumnType.STRING:
            raise ValueError(f"identifiers: {source.column!r} must be a string column of the contract")
        if source.birth_date is not None:
            birth = by_name.get(source.birth_date)
            if birth is None or birth.type is not ColumnType.DATE:
                raise ValueError(f"identifiers: birth_date {source.birth_date!r} must be a date column of the contract")

    @cached_property
    def columns_by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @cached_property
    def personal_columns(self) -> list[Column]:
        return [c for c in self.columns if c.personal]

    @cached_property
    def special_care_columns(self) -> list[Column]:
        return [c for c in self.columns if c.special_care]

    @cached_property
    def max_retention_duration(self) -> IsoDuration:
        return parse_duration(self.max_retention)

    def retention_exceeds_max(self, period: IsoDuration, *, start: date) -> bool:
        """Whether `period` from `start` ends later than the contract's maximum would."""
        return period.add_to(start) > self.max_retention_duration.add_to(start)


class Registry:
    """The contracts and purposes under one `expectations/` folder, loaded on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._contracts: dict[str, DatasetContract | None] = {}
        self._purposes: PurposeRegister | None = None
        self._denied: DenyList | None = None

    @property
    def purposes(self) -> PurposeRegister:
        if self._purposes is None:
            path = self.root / "purposes.yaml"
            self._purposes = _load_model(path, PurposeRegister)
        return self._purposes

    @property
    def denied(self) -> DenyList:
        """The deny list. The file must exist (`denied: []` when nobody is denied): a missing
        file would otherwise switch the `provider.denied` check off without anyone noticing."""
        if self._denied is None:
            path = self.root / DENY_LIST_FILE
            if not path.exists():
                raise ConfigError(f"{path}: missing; the deny list must exist (`denied: []` when nobody is denied)")
            self._denied = _load_model(path, DenyList)
        return self._denied

    def contract(self, dataset: str) -> DatasetContract | None:
        """The contract of `dataset`, or None when no such dataset is registered."""
        if dataset not in self._contracts:
            self._contracts[dataset] = self._load_contract(dataset)
        return self._contracts[dataset]

    def dataset_ids(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/contract.yaml"))

    def _load_contract(self, dataset: str) -> DatasetContract | None:
        if not re.fullmatch(IDENTIFIER, dataset):
            return None
        path = self.root / dataset / "contract.yaml"
        if not path.is_file():
            return None
        contract = _load_model(path, DatasetContract)
        if contract.dataset != dataset:
            raise ConfigError(f"{path}: dataset: says {contract.dataset!r} but the folder is {dataset!r}")
        unknown = sorted(set(contract.allowed_purposes) - self.purposes.ids)
        if unknown:
            raise ConfigError(f"{path}: allowed_purposes: not in purposes.yaml: {', '.join(unknown)}")
        return contract


def default_expectations_root() -> Path:
    """`KAKUNIN_EXPECTATIONS`, else the `expectations/` folder of this checkout."""
    configured = os.environ.get("KAKUNIN_EXPECTATIONS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "expectations"


def _load_model(path: Path, model: type[M]) -> M:
    try:
        raw = path.read_bytes()[: _MAX_CONFIG_BYTES + 1]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from exc
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {_MAX_CONFIG_BYTES} bytes")
    try:
        data: dict[str, Any] = parse_mapping(raw.decode("utf-8"))
        return model.model_validate(data)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    except DocumentSyntaxError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = format_location(first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: {where}: {first['msg']}{more}") from exc


def format_location(loc: tuple[int | str, ...]) -> str:
    """`('contractors', 0, 'approved_on')` → `contractors[0].approved_on`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
