"""Reading and writing the `subjects/` zone: the index, the suppression and stop lists, the request register.

The small I/O edge under `kakunin subject …`, intake's suppression and overlap checks and
retention's erasure: each function reads or writes documents of `subjects.formats` (or the
index's Parquet) and decides nothing beyond what a document says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from kakunin.durations import IsoDuration, parse_duration
from kakunin.errors import ConfigError
from kakunin.layout import (
    STOPS,
    SUBJECT_INDEX,
    SUBJECT_REQUESTS,
    SUPPRESSED,
    folder_prefix,
    object_id,
    parse_subject_index_key,
    stop_key,
    subject_request_key,
    suppression_key,
)
from kakunin.storage import ObjectStore, load
from kakunin.subjects.formats import (
    INDEX_SCHEMA,
    Regime,
    RequestClosing,
    StopResumed,
    StopUse,
    SubjectRequest,
    Suppression,
)
from kakunin.yaml_io import dump_json

POLICY_FILE = "subject-requests.yaml"
DEFAULT_DUE = {Regime.APPI: "P14D", Regime.GDPR: "P1M"}

# What `read_index` returns: the index rows with the batch each came from.
FOUND_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        *INDEX_SCHEMA,
    ]
)


def new_id(prefix: str, now: datetime) -> str:
    """`<prefix>-YYYYMMDDTHHMMSSZ-<6 hex>`: sortable by time, unique without coordination."""
    return f"{prefix}-{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


# ── the index ─────────────────────────────────────────────────────────────────────────


def index_keys(store: ObjectStore) -> list[str]:
    """Every batch's index file, in key order."""
    return [k for k in store.list_keys(folder_prefix(SUBJECT_INDEX)) if parse_subject_index_key(k) is not None]


def read_index(
    store: ObjectStore,
    *,
    digests: set[str] | pa.Array | None = None,
    kinds: set[str] | None = None,
    dataset: str | None = None,
) -> pa.Table:
    """Index rows (dataset, batch_id, record_id, kind, digest), only those with one of `digests` / `kinds` if given.

    `digests` may be an Arrow array (intake passes millions: no Python set of them is ever built)."""
    import pyarrow.compute as pc  # here: `lineage trace` reads the stops without it

    parts = []
    if isinstance(digests, set):
        digests = pa.array(sorted(digests), pa.string())
    wanted = digests
    for key in index_keys(store):
        ref = parse_subject_index_key(key)
        if ref is None or (dataset is not None and ref.dataset != dataset):
            continue
        with store.open_input(key) as handle:
            table = pq.read_table(handle, schema=INDEX_SCHEMA)
        if wanted is not None:
            table = table.filter(pc.is_in(table.column("digest"), value_set=wanted))
        if kinds is not None:
            table = table.filter(pc.is_in(table.column("kind"), value_set=pa.array(sorted(kinds), pa.string())))
        if table.num_rows:
            n = table.num_rows
            parts.append(
                pa.table(
                    [
                        pa.nulls(n, pa.string()).fill_null(ref.dataset),
                        pa.nulls(n, pa.string()).fill_null(ref.batch_id),
                        *table.columns,
                    ],
                    schema=FOUND_SCHEMA,
                )
            )
    return pa.concat_tables(parts) if parts else FOUND_SCHEMA.empty_table()


def digests_of_records(store: ObjectStore, record_ids: set[str]) -> pa.Table:
    """Every index row of these records (to widen a request from the identifier given to all the person's)."""
    import pyarrow.compute as pc

    if not record_ids:
        return FOUND_SCHEMA.empty_table()
    found = read_index(store)
    return found.filter(pc.is_in(found.column("record_id"), value_set=pa.array(sorted(record_ids), pa.string())))


# ── the suppression list (erasure for good) ──────────────────────────────────────────


def write_suppression(store: ObjectStore, suppression: Suppression) -> None:
    store.put_bytes(suppression_key(suppression.request_id), dump_json(suppression))


def suppressions(store: ObjectStore) -> list[Suppression]:
    return [
        load(store, key, Suppression)
        for key in store.list_keys(folder_prefix(SUPPRESSED))
        if object_id(key, SUPPRESSED) is not None
    ]


def suppressed_digests(store: ObjectStore) -> set[str]:
    """Every digest intake must drop: the person asked to be erased."""
    return {d.digest for s in suppressions(store) for d in s.digests}


# ── the stop list (cease of use) ──────────────────────────────────────────────────────


@dataclass(frozen=True)
class Stops:
    """The stops in force: a record is stopped when its id, or any digest of its, is listed."""

    active: list[StopUse] = field(default_factory=list)

    @property
    def record_ids(self) -> set[str]:
        return {r for stop in self.active for r in stop.record_ids}

    @property
    def digests(self) -> set[str]:
        return {d.digest for stop in self.active for d in stop.digests}

    def stopped(self, record_id: str, digests: set[str] | frozenset[str] = frozenset()) -> StopUse | None:
        """The stop that covers this record, if any."""
        for stop in self.active:
            if record_id in stop.record_ids or digests & {d.digest for d in stop.digests}:
                return stop
        return None

    def stopped_ids(self, index_rows: pa.Table) -> set[str]:
        """Of the records in `index_rows` (record_id, digest, …) and of the listed ids, those stopped."""
        import pyarrow.compute as pc

        by_digest = index_rows.filter(
            pc.is_in(index_rows.column("digest"), value_set=pa.array(sorted(self.digests), pa.string()))
        )
        return self.record_ids | set(by_digest.column("record_id").to_pylist())


def write_stop(store: ObjectStore, stop: StopUse) -> None:
    store.put_bytes(stop_key(stop.stop_id), dump_json(stop))


def write_resume(store: ObjectStore, resumed: StopResumed) -> None:
    store.put_bytes(stop_key(resumed.stop_id, resumed=True), dump_json(resumed))


def stops_in_force(store: ObjectStore) -> Stops:
    keys = list(store.list_keys(folder_prefix(STOPS)))
    resumed = {object_id(k, STOPS, ".resumed.json") for k in keys} - {None}
    active = [
        load(store, k, StopUse) for k in keys if (stop_id := object_id(k, STOPS)) is not None and stop_id not in resumed
    ]
    return Stops(active=sorted(active, key=lambda s: s.stop_id))


def stop_of(store: ObjectStore, stop_id: str) -> StopUse | None:
    key = stop_key(stop_id)
    return load(store, key, StopUse) if object_id(key, STOPS) and store.exists(key) else None


# ── the request register ─────────────────────────────────────────────────────────────


class DuePolicy(BaseModel):
    """`expectations/subject-requests.yaml` (optional): how long each regime allows for an answer."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    due: dict[Regime, str] = dict(DEFAULT_DUE)

    def period(self, regime: Regime) -> IsoDuration:
        return parse_duration(self.due.get(regime, DEFAULT_DUE[regime]))

    def due_on(self, received_on: date, regimes: set[Regime]) -> date:
        """The earliest deadline of the regimes the request's records fall under (APPI's when none).

        A request reaching only EU-origin records runs under GDPR's month; one reaching any other
        record runs under the company's APPI period (14 days by default) as well, and the earlier wins.
        """
        return min(self.period(r).add_to(received_on) for r in (regimes or {Regime.APPI}))


def regime_of(eu_origin: bool) -> Regime:
    return Regime.GDPR if eu_origin else Regime.APPI


def is_eu_origin(store: ObjectStore, document_key: str) -> bool:
    """Whether a batch's accepted provenance document (its key in the store) has a `gdpr` block or `eu_origin`."""
    from kakunin.provenance.document import validate_mapping
    from kakunin.yaml_io import DocumentSyntaxError, parse_mapping

    if not store.exists(document_key):
        return False
    try:
        data = parse_mapping(
            store.get_bytes(document_key).decode("utf-8-sig"), json_only=document_key.endswith(".json")
        )
    except (DocumentSyntaxError, UnicodeDecodeError):
        return False
    parsed = validate_mapping(data)
    if parsed.document is not None:
        return parsed.document.gdpr is not None or bool(parsed.document.eu_origin)
    return isinstance(data.get("gdpr"), dict) or data.get("eu_origin") is True


def load_due_policy(expectations_root: Path) -> DuePolicy:
    """The policy file if present, else the defaults (14 days; GDPR one month, Art. 12(3))."""
    from kakunin.contracts import _load_model

    path = expectations_root / POLICY_FILE
    policy = _load_model(path, DuePolicy) if path.exists() else DuePolicy()
    for regime, text in policy.due.items():
        try:
            if parse_duration(text).is_zero:
                raise ConfigError(f"{path}: due.{regime.value}: must be a positive period")
        except ValueError as exc:
            raise ConfigError(f"{path}: due.{regime.value}: {exc}") from None
    return policy


def write_request(store: ObjectStore, request: SubjectRequest) -> None:
    store.put_bytes(subject_request_key(request.request_id), dump_json(request))


def write_closing(store: ObjectStore, closing: RequestClosing) -> None:
    store.put_bytes(subject_request_key(closing.request_id, closed=True), dump_json(closing))


def request_of(store: ObjectStore, request_id: str) -> SubjectRequest | None:
    key = subject_request_key(request_id)
    return load(store, key, SubjectRequest) if object_id(key, SUBJECT_REQUESTS) and store.exists(key) else None


class RequestStatus(BaseModel):
    """A request with where it stands today."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    request: SubjectRequest
    state: str  # open | closed
    closed_at: datetime | None = None
    outcome: str | None = None
    overdue: bool
    closed_late: bool = False


def request_statuses(store: ObjectStore, *, today: date) -> list[RequestStatus]:
    """Every request, oldest first. An erasure is closed by the purge certificate that carried it out."""
    from kakunin.lineage.chain import closed_certificates

    keys = list(store.list_keys(folder_prefix(SUBJECT_REQUESTS)))
    closings = {
        c.request_id: c
        for k in keys
        if object_id(k, SUBJECT_REQUESTS, ".closed.json") is not None
        for c in [load(store, k, RequestClosing)]
    }
    carried_out = {
        request_id: certificate
        for certificate in closed_certificates(store)
        for request_id in certificate.erasure_requests
    }
    out = []
    for key in sorted(keys):
        if object_id(key, SUBJECT_REQUESTS) is None:
            continue
        request = load(store, key, SubjectRequest)
        closing = closings.get(request.request_id)
        certificate = carried_out.get(request.request_id)
        closed_at = closing.closed_at if closing else certificate.closed_at if certificate else None
        outcome = closing.outcome if closing else f"carried out by purge {certificate.run_id}" if certificate else None
        out.append(
            RequestStatus(
                request=request,
                state="closed" if closed_at else "open",
                closed_at=closed_at,
                outcome=outcome,
                overdue=closed_at is None and today > request.due_on,
                closed_late=closed_at is not None and closed_at.date() > request.due_on,
            )
        )
    return out
