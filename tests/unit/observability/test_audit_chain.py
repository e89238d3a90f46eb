"""The audit trail's chains: every record verifiable, any change or removal detected."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sluice.observability.audit import (
    GENESIS,
    AuditEntry,
    AuditKind,
    AuditRecord,
    AuditRecordExists,
    AuditTrail,
    verify,
)


class MemoryStore:
    def __init__(self, *, failing: bool = False) -> None:
        self.records: dict[tuple[str, str], AuditRecord] = {}
        self.failing = failing

    def append(self, record: AuditRecord) -> None:
        if self.failing:
            raise ConnectionError("table unavailable")
        key = (record.tenant, f"{record.at.isoformat()}#{record.audit_id}")
        if key in self.records:
            raise AuditRecordExists(record.audit_id)
        self.records[key] = record

    def query(self, tenant: str, *, since: datetime, until: datetime | None = None) -> list[AuditRecord]:
        return sorted(
            (r for (t, _), r in self.records.items() if t == tenant and r.at >= since), key=lambda r: r.at
        )


def _entry(tenant: str = "tenant-acme", action: str = "inference.sync") -> AuditEntry:
    return AuditEntry(
        tenant=tenant,
        kind=AuditKind.REQUEST,
        action=action,
        actor=tenant,
        outcome="succeeded",
        route="intent",
        redactions={"PERSON": 1},
    )


def _clock() -> object:
    moments = iter(datetime(2026, 12, 2, tzinfo=UTC) + timedelta(seconds=n) for n in range(1000))
    return lambda: next(moments)


def test_a_writers_records_of_a_tenant_form_one_intact_chain() -> None:
    # Given a trail that appends five records for one tenant and two for another
    store = MemoryStore()
    trail = AuditTrail(store, writer="w1", clock=_clock())  # type: ignore[arg-type]
    for _ in range(5):
        trail.record(_entry())
    for _ in range(2):
        trail.record(_entry("tenant-other"))

    # When the tenant's records are read back
    records = store.query("tenant-acme", since=datetime(2026, 1, 1, tzinfo=UTC))

    # Then they are numbered 1..5, each linked to the one before, and verify as intact
    assert [r.sequence for r in records] == [1, 2, 3, 4, 5]
    assert records[0].previous_digest == GENESIS
    assert all(after.previous_digest == before.digest for before, after in itertools.pairwise(records))
    assert verify(records, complete_from_start=True).intact


def test_an_altered_record_is_detected() -> None:
    # Given an intact chain
    store = MemoryStore()
    trail = AuditTrail(store, writer="w1", clock=_clock())  # type: ignore[arg-type]
    for _ in range(3):
        trail.record(_entry())
    records = store.query("tenant-acme", since=datetime(2026, 1, 1, tzinfo=UTC))

    # When someone with table rights changes one record's outcome
    forged = records[1].model_copy(update={"outcome": "failed"})
    result = verify([records[0], forged, records[2]])

    # Then the record no longer matches its digest
    assert not result.intact
    assert result.altered == (forged.audit_id,)


def test_a_removed_record_leaves_a_gap() -> None:
    # Given an intact chain of four
    store = MemoryStore()
    trail = AuditTrail(store, writer="w1", clock=_clock())  # type: ignore[arg-type]
    for _ in range(4):
        trail.record(_entry())
    records = store.query("tenant-acme", since=datetime(2026, 1, 1, tzinfo=UTC))

    # When the third is removed
    result = verify([records[0], records[1], records[3]])

    # Then the fourth follows a gap
    assert result.gaps == (records[3].audit_id,)
    assert not result.intact


def test_a_record_rewritten_with_a_fresh_digest_breaks_the_next_link() -> None:
    # Given an intact chain of three
    store = MemoryStore()
    trail = AuditTrail(store, writer="w1", clock=_clock())  # type: ignore[arg-type]
    for _ in range(3):
        trail.record(_entry())
    first, second, third = store.query("tenant-acme", since=datetime(2026, 1, 1, tzinfo=UTC))

    # When the middle one is changed and its digest recomputed to match
    changed = second.model_copy(update={"code": "NONE"})
    changed = changed.model_copy(update={"digest": changed.expected_digest()})

    # Then its successor's link no longer points at it
    result = verify([first, changed, third])
    assert result.altered == ()
    assert result.broken_links == (third.audit_id,)


def test_a_window_that_starts_inside_a_chain_is_intact_and_a_full_read_checks_the_start() -> None:
    # Given a chain of three, read from its second record on
    store = MemoryStore()
    trail = AuditTrail(store, writer="w1", clock=_clock())  # type: ignore[arg-type]
    for _ in range(3):
        trail.record(_entry())
    _, *window = store.query("tenant-acme", since=datetime(2026, 1, 1, tzinfo=UTC))

    # Then the window verifies, but not as a chain read from its start
    assert verify(window).intact
    assert not verify(window, complete_from_start=True).intact


def test_a_failed_write_is_reported_and_does_not_break_the_chain() -> None:
    # Given a trail whose store fails once
    store = MemoryStore(failing=True)
    failures: list[str] = []
    trail = AuditTrail(
        store,
        writer="w1",
        clock=_clock(),  # type: ignore[arg-type]
        on_failure=lambda entry, error: failures.append(f"{entry.action}:{type(error).__name__}"),
    )

    # When a record cannot be written, then the store recovers
    assert trail.record(_entry()) is None
    store.failing = False
    trail.record(_entry())
    trail.record(_entry())

    # Then the failure was reported, and the stored chain has no hole
    assert failures == ["inference.sync:ConnectionError"]
    records = store.query("tenant-acme", since=datetime(2026, 1, 1, tzinfo=UTC))
    assert [r.sequence for r in records] == [1, 2]
    assert verify(records, complete_from_start=True).intact


def test_an_event_filed_twice_is_one_record() -> None:
    # Given an entry filed with an event's id and time
    store = MemoryStore()
    trail = AuditTrail(store, writer="w1")
    at = datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)

    # When the same event is delivered twice
    first = trail.record(_entry(), audit_id="event-1", at=at)
    second = trail.record(_entry(), audit_id="event-1", at=at)

    # Then both deliveries count as filed, and the trail holds one record
    assert first is not None
    assert second is not None
    assert len(store.records) == 1
