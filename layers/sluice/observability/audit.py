"""The audit trail: an append-only, hash-chained record of every request and administrative action.

Who did what, when, on which route, variant and model version, what was decided and how it
ended: ids, codes and counts, never content (no input, no output, no message text).

Why a DynamoDB table with chained records (and not CloudWatch Logs or S3 Object Lock):
- Queryable by tenant and time with one Query (partition: tenant, sort: time), on AWS and on the
  local platform alike (moto); Logs Insights is not available locally and S3 needs a scan.
- Append-only by construction: each record is written with `attribute_not_exists`, and the
  writers' roles may only PutItem (no UpdateItem, no DeleteItem), so no writer can change or
  remove a record; retention is the table's TTL (records expire, they are not edited), and
  point-in-time recovery keeps 35 days of history against an operator's mistake.
- Tamper evident: every writer (one function instance) keeps one chain per tenant; a record
  carries its sequence number in the chain, the digest of the previous record and its own digest
  (SHA-256 over its canonical JSON). A record altered by someone with table rights no longer
  matches its digest; a removed one leaves a gap in the sequence and a broken link. `verify`
  checks both (`make audit` runs it). Chains per writer need no coordination between instances
  (no hot head item, no extra round trip on the request path).
What it does not prove: that the last records of a chain were not removed (a chain's tail has no
successor), or that someone with full table rights did not rewrite a whole chain; for that the
table's stream would go to an S3 bucket with Object Lock in compliance mode (not built here).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

# Admin actions that concern no single tenant are filed under this partition.
PLATFORM_TENANT = "_platform"
GENESIS = "0" * 64
# Only ids, codes, counts and flags: a detail value is a short token, never free text.
DetailValue = str | int | float | bool | None


class AuditKind(StrEnum):
    REQUEST = "request"  # a call of the REST API, answered or refused
    JOB = "job"  # a queued job reached its final state
    BATCH = "batch"  # an uploaded file's records are all final
    ADMIN = "admin"  # route-table, budget, redrive and model actions


class AuditEntry(BaseModel):
    """What a writer records; the trail adds the time, the id and the chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str = Field(min_length=1, max_length=128)
    kind: AuditKind
    action: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_.]+$")
    actor: str = Field(min_length=1, max_length=128)
    outcome: str = Field(min_length=1, max_length=32)
    route: str | None = None
    variant: str | None = None
    model_version: str | None = None
    decision: str | None = None
    code: str | None = None
    subject: str | None = Field(None, max_length=256)
    correlation_id: str | None = None
    redactions: dict[str, int] = Field(default_factory=dict)
    details: dict[str, DetailValue] = Field(default_factory=dict)


class AuditRecord(AuditEntry):
    """A stored entry: when, which writer's chain and where in it, and the digests."""

    audit_id: str
    at: datetime
    chain: str
    sequence: int = Field(ge=1)
    previous_digest: str
    digest: str

    def expected_digest(self) -> str:
        return digest_of(self.model_dump(mode="json", exclude={"digest"}))


def digest_of(fields: Mapping[str, object]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditRecordExists(Exception):
    """A record with this key is already in the trail (an event delivered twice)."""


class AuditStore(Protocol):
    def append(self, record: AuditRecord) -> None:
        """Write `record` once; raises if a record with its key exists (never overwrites)."""

    def query(self, tenant: str, *, since: datetime, until: datetime | None = None) -> list[AuditRecord]:
        """The tenant's records from `since` (inclusive) to `until`, oldest first."""


class AuditTrail:
    """Appends entries to the store, each chained to its writer's previous record of the tenant."""

    def __init__(
        self,
        store: AuditStore,
        *,
        writer: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_failure: Callable[[AuditEntry, Exception], None] | None = None,
    ) -> None:
        self._store = store
        # One writer per function instance: its chains need no coordination with any other.
        self._writer = writer or uuid.uuid4().hex
        self._clock = clock
        self._on_failure = on_failure
        self._heads: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def record(
        self, entry: AuditEntry, *, audit_id: str | None = None, at: datetime | None = None
    ) -> AuditRecord | None:
        """Append `entry`; None if the store refused it (reported to `on_failure`, never raised:
        the request it records was already answered, and the chain stays unbroken).

        An entry filed from an event passes the event's id and time: delivered twice, it has the
        same key, and the second write is refused as a duplicate (and counts as filed).
        """
        with self._lock:
            sequence, previous = self._heads.get(entry.tenant, (0, GENESIS))
            unsigned = {
                **entry.model_dump(mode="json"),
                "audit_id": audit_id or uuid.uuid4().hex,
                "at": (at or self._clock()).isoformat(),
                "chain": self._writer,
                "sequence": sequence + 1,
                "previous_digest": previous,
            }
            # Hashed as it is stored (pydantic's JSON of the record), not as it was passed in.
            unsealed = AuditRecord.model_validate({**unsigned, "digest": ""})
            record = unsealed.model_copy(update={"digest": unsealed.expected_digest()})
            try:
                self._store.append(record)
            except AuditRecordExists:
                return record  # filed before; this chain did not grow
            except Exception as error:
                if self._on_failure is not None:
                    self._on_failure(entry, error)
                return None
            self._heads[entry.tenant] = (record.sequence, record.digest)
            return record


@dataclass(frozen=True)
class Verification:
    """What `verify` found: every record checked, and each break of a chain, by audit id."""

    records: int
    chains: int
    altered: tuple[str, ...] = ()
    broken_links: tuple[str, ...] = ()
    gaps: tuple[str, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return not (self.altered or self.broken_links or self.gaps)


def verify(records: Sequence[AuditRecord], *, complete_from_start: bool = False) -> Verification:
    """Check each record's digest and each chain's links and sequence.

    A window (`make audit SINCE=...`) usually starts inside a chain: its first record's
    predecessor is outside the window, so its link is checked only when `complete_from_start`.
    """
    altered = tuple(record.audit_id for record in records if record.expected_digest() != record.digest)
    chains: dict[str, list[AuditRecord]] = defaultdict(list)
    for record in records:
        chains[f"{record.chain}/{record.tenant}"].append(record)
    broken: list[str] = []
    gaps: list[str] = []
    for chain in chains.values():
        chain.sort(key=lambda record: record.sequence)
        first = chain[0]
        if complete_from_start and (first.sequence != 1 or first.previous_digest != GENESIS):
            gaps.append(first.audit_id)
        for before, after in itertools.pairwise(chain):
            if after.sequence != before.sequence + 1:
                gaps.append(after.audit_id)
            elif after.previous_digest != before.digest:
                broken.append(after.audit_id)
    return Verification(
        records=len(records),
        chains=len(chains),
        altered=altered,
        broken_links=tuple(broken),
        gaps=tuple(gaps),
    )
