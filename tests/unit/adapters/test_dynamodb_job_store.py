"""The DynamoDB job store keeps the job record's contract, on moto's in-process DynamoDB.

One jobs table per test, created the way the local platform creates it (`sluice_local.provision`):
partition key `id`, TTL attribute `expires_at`, the sparse `AsyncPending` index. Promised here:
every field the platform reads survives the round trip; creates are conditional; a job is claimed
by one worker at a time, until its lease expires; a final state is written once; `get_many` and
`handed_over_before` return every match however DynamoDB splits the answer; reads are strongly
consistent; records and markers expire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sluice.adapters import dynamodb_jobs
from sluice.adapters.dynamodb_items import from_item
from sluice.adapters.dynamodb_jobs import DynamoJobStore
from sluice.guardrails.models import CheckName, GuardrailReport
from sluice.jobs.models import ErrorDetail, Job, JobStatus, Submitted, utc_now
from sluice.jobs.ports import ClaimOutcome
from sluice.routing.table import Served
from sluice_local.provision import PREFIX, _async_pending_index, _table

REGION = "us-east-1"
TTL = timedelta(days=3)
LEASE = 60
# Injected instants, well in the past: writes stamped with the wall clock come after them.
CREATED = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SERVED = Served(route="intent", endpoint="sluice-intent", variant="blue", model_version="7")
SUBMITTED = Submitted(
    inference_id="inf-1", input_location="s3://in/job.json", output_location="s3://out/job.out"
)

Sent = list[tuple[str, dict[str, Any]]]


def _id(number: int) -> str:
    return f"{number:032x}"


def _job(number: int = 1, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": _id(number),
        "tenant": "acme",
        "route": "intent",
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    return Job(**{**values, **fields})


@pytest.fixture(scope="module")
def shared_client() -> Any:
    """One client for the module (creating one costs more than a test); moto answers its calls
    while a test's `mock_aws` is active, and the state goes with that test."""
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def dynamodb(shared_client: Any) -> Iterator[Any]:
    with mock_aws():
        yield shared_client


@pytest.fixture
def table(dynamodb: Any) -> str:
    """The jobs table exactly as `provision` makes it."""
    name: str = _table(dynamodb, f"{PREFIX}-jobs", ttl_attribute="expires_at")
    _async_pending_index(dynamodb, name)
    return name


@pytest.fixture
def store(dynamodb: Any, table: str) -> DynamoJobStore:
    return DynamoJobStore(dynamodb, table, ttl=TTL)


@pytest.fixture
def sent(dynamodb: Any) -> Iterator[Sent]:
    """Every request the client sends: (operation, parameters)."""
    requests: Sent = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.append((model.name, dict(params)))

    dynamodb.meta.events.register("provide-client-params.dynamodb", record)
    yield requests
    dynamodb.meta.events.unregister("provide-client-params.dynamodb", record)


@pytest.fixture
def pages_of_one(dynamodb: Any) -> Iterator[Callable[[str], None]]:
    """DynamoDB splits an answer into pages (1 MB each); with this, every page of the named
    operation holds one item."""
    events: list[str] = []

    def limit(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 1

    def paginate(operation: str) -> None:
        events.append(f"provide-client-params.dynamodb.{operation}")
        dynamodb.meta.events.register(events[-1], limit)

    yield paginate
    for event in events:
        dynamodb.meta.events.unregister(event, limit)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The store's back-off waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(dynamodb_jobs, "time", SimpleNamespace(sleep=waits.append))
    return waits


def _stored(dynamodb: Any, table: str, key: str) -> dict[str, Any]:
    """The raw item, bookkeeping attributes included."""
    return from_item(dynamodb.get_item(TableName=table, Key={"id": {"S": key}})["Item"])


def _running(store: DynamoJobStore, number: int = 1, *, now: datetime = NOW) -> Job:
    store.create(_job(number))
    claim = store.claim(_id(number), lease_seconds=LEASE, now=now)
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.job is not None
    return claim.job


class _PartialBatchGets:
    """A client whose BatchGetItem serves only its first `served` keys per call and returns the
    rest as UnprocessedKeys, as DynamoDB does when throttled."""

    def __init__(self, client: Any, served: int) -> None:
        self._client = client
        self._served = served
        self.requested: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        self.requested.append(len(keys))
        served, left = keys[: self._served], keys[self._served :]
        response: dict[str, Any] = self._client.batch_get_item(
            RequestItems={table: {**request, "Keys": served}}
        )
        response["UnprocessedKeys"] = {table: {**request, "Keys": left}} if left else {}
        return response


# --- create, create_if_absent, the stored record ------------------------------------------------


def test_a_created_job_reads_back_with_every_field_it_was_created_with(store: DynamoJobStore) -> None:
    job = _job(
        status=JobStatus.FAILED,
        attempts=3,
        event_published=True,
        correlation_id="corr-1",
        endpoint="sluice-intent",
        variant="green",
        model_version="12",
        batch_id="batch-1",
        record_id="rec-9",
        line=42,
        output={"label": "refund", "scores": [0.25, 0.75], "nested": {"ok": True}},
        guardrails=GuardrailReport(
            checked=(CheckName.SCHEMA, CheckName.PII),
            flagged=(CheckName.PII,),
            redacted={"EMAIL": 2},
            in_review=True,
        ),
        error=ErrorDetail(code="MODEL_ERROR", message="the model said no"),
        updated_at=CREATED + timedelta(seconds=5),
    )

    store.create(job)

    assert store.get(job.id) == job


def test_a_new_job_is_stored_sparsely_with_its_expiry_after_the_ttl(
    store: DynamoJobStore, dynamodb: Any, table: str
) -> None:
    store.create(_job())

    item = _stored(dynamodb, table, _id(1))
    # Absent, not null: no output, guardrails or error yet, and out of the AsyncPending index.
    assert item == {
        "id": _id(1),
        "tenant": "acme",
        "route": "intent",
        "status": "queued",
        "created_at": CREATED.isoformat(),
        "updated_at": CREATED.isoformat(),
        "attempts": 0,
        "event_published": False,
        "expires_at": int((CREATED + TTL).timestamp()),
    }


def test_the_output_is_stored_as_compact_json(store: DynamoJobStore, dynamodb: Any, table: str) -> None:
    store.create(_job(output={"label": "a", "score": 0.5}))

    assert _stored(dynamodb, table, _id(1))["output"] == '{"label":"a","score":0.5}'


def test_an_error_with_an_empty_message_reads_back_empty(store: DynamoJobStore) -> None:
    store.create(_job(status=JobStatus.FAILED, error=ErrorDetail(code="X", message="")))

    job = store.get(_id(1))
    assert job is not None
    assert job.error == ErrorDetail(code="X", message="")


def test_get_of_an_unknown_id_is_none(store: DynamoJobStore) -> None:
    assert store.get(_id(404)) is None


def test_reads_of_jobs_and_markers_are_strongly_consistent(store: DynamoJobStore, sent: Sent) -> None:
    store.create(_job())

    store.get(_id(1))
    store.is_announced("micro-1")
    store.get_many([_id(1)])

    reads = [(operation, params) for operation, params in sent if operation in {"GetItem", "BatchGetItem"}]
    assert [operation for operation, _ in reads] == ["GetItem", "GetItem", "BatchGetItem"]
    assert reads[0][1]["ConsistentRead"] is True
    assert reads[1][1]["ConsistentRead"] is True
    assert all(request["ConsistentRead"] is True for request in reads[2][1]["RequestItems"].values())


def test_a_second_create_with_the_same_id_is_refused_and_the_first_record_kept(
    store: DynamoJobStore,
) -> None:
    store.create(_job(tenant="acme"))

    with pytest.raises(ClientError) as refused:
        store.create(_job(tenant="other"))

    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    job = store.get(_id(1))
    assert job is not None
    assert job.tenant == "acme"


def test_create_if_absent_says_whether_it_created(store: DynamoJobStore) -> None:
    assert store.create_if_absent(_job(tenant="acme")) is True
    assert store.create_if_absent(_job(tenant="other")) is False

    job = store.get(_id(1))
    assert job is not None
    assert job.tenant == "acme"


def test_failures_other_than_a_refused_condition_are_raised(dynamodb: Any, table: str) -> None:
    missing = DynamoJobStore(dynamodb, "no-such-table")

    with pytest.raises(ClientError, match="ResourceNotFound"):
        missing.create_if_absent(_job())
    with pytest.raises(ClientError, match="ResourceNotFound"):
        missing.create_all_if_absent([_job()])
    with pytest.raises(ClientError, match="ResourceNotFound"):
        missing.claim(_id(1), lease_seconds=LEASE, now=NOW)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        missing.release(_id(1))
    with pytest.raises(ClientError, match="ResourceNotFound"):
        missing.hand_over(_id(1), served=SERVED, submitted=SUBMITTED, now=NOW)


# --- create_all_if_absent -------------------------------------------------------------------------


def test_create_all_writes_one_transaction_per_hundred_new_jobs(store: DynamoJobStore, sent: Sent) -> None:
    jobs = [_job(number) for number in range(101)]

    assert store.create_all_if_absent(jobs) == 101

    operations = [operation for operation, _ in sent]
    assert operations.count("TransactWriteItems") == 2
    assert "PutItem" not in operations
    assert len(store.get_many([job.id for job in jobs])) == 101


def test_create_all_counts_only_the_jobs_it_created_when_some_exist(store: DynamoJobStore) -> None:
    store.create(_job(5, tenant="earlier"))  # in the first hundred
    store.create(_job(100, tenant="earlier"))  # the second hundred's only job

    created = store.create_all_if_absent([_job(number) for number in range(101)])

    assert created == 99
    stored = {job.id: job for job in store.get_many([_id(number) for number in range(101)])}
    assert len(stored) == 101
    assert stored[_id(5)].tenant == stored[_id(100)].tenant == "earlier"
    assert stored[_id(6)].tenant == "acme"


def test_create_all_of_nothing_creates_nothing(store: DynamoJobStore) -> None:
    assert store.create_all_if_absent([]) == 0


# --- get_many -------------------------------------------------------------------------------------


def test_get_many_returns_each_existing_job_once_in_batches_of_a_hundred(
    store: DynamoJobStore, table: str, sent: Sent
) -> None:
    for number in range(101):
        store.create(_job(number))
    asked = [_id(number) for number in range(120)] + [_id(7), _id(7), _id(110)]

    jobs = store.get_many(asked)

    assert sorted(job.id for job in jobs) == [_id(number) for number in range(101)]
    batches = [params["RequestItems"] for operation, params in sent if operation == "BatchGetItem"]
    assert [len(request[table]["Keys"]) for request in batches] == [100, 20]


def test_get_many_of_nothing_asks_nothing(store: DynamoJobStore, sent: Sent) -> None:
    assert store.get_many([]) == []
    assert not [operation for operation, _ in sent if operation == "BatchGetItem"]


def test_get_many_asks_again_for_unprocessed_keys_backing_off(
    dynamodb: Any, table: str, sleeps: list[float]
) -> None:
    DynamoJobStore(dynamodb, table).create_all_if_absent([_job(number) for number in range(7)])
    throttled = _PartialBatchGets(dynamodb, served=1)
    store = DynamoJobStore(throttled, table)

    jobs = store.get_many([_id(number) for number in range(7)])

    assert sorted(job.id for job in jobs) == [_id(number) for number in range(7)]
    assert throttled.requested == [7, 6, 5, 4, 3, 2, 1]
    # 50 ms, doubling, at most a second.
    assert sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0])


# --- claim ----------------------------------------------------------------------------------------


def test_claiming_a_queued_job_runs_it_under_a_lease(
    store: DynamoJobStore, dynamodb: Any, table: str
) -> None:
    store.create(_job())

    claim = store.claim(_id(1), lease_seconds=LEASE, now=NOW)

    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.job is not None
    assert claim.job.status is JobStatus.RUNNING
    assert claim.job.attempts == 1
    assert claim.job.updated_at == NOW
    assert claim.job.tenant == "acme"
    assert claim.job == store.get(_id(1))
    assert _stored(dynamodb, table, _id(1))["lease_expires_at"] == int(NOW.timestamp()) + LEASE


def test_a_running_job_is_busy_until_its_lease_has_expired(store: DynamoJobStore) -> None:
    _running(store)

    at_expiry = store.claim(_id(1), lease_seconds=LEASE, now=NOW + timedelta(seconds=LEASE))
    after = store.claim(_id(1), lease_seconds=LEASE, now=NOW + timedelta(seconds=LEASE + 1))

    assert at_expiry.outcome is ClaimOutcome.BUSY
    assert at_expiry.job is not None
    assert at_expiry.job.status is JobStatus.RUNNING
    assert at_expiry.job.attempts == 1
    assert after.outcome is ClaimOutcome.CLAIMED
    assert after.job is not None
    assert after.job.attempts == 2
    assert after.job.updated_at == NOW + timedelta(seconds=LEASE + 1)


def test_a_second_claim_at_the_same_instant_is_busy(store: DynamoJobStore) -> None:
    _running(store)

    claim = store.claim(_id(1), lease_seconds=LEASE, now=NOW)

    assert claim.outcome is ClaimOutcome.BUSY
    assert claim.job == store.get(_id(1))


def test_claiming_a_finished_job_gives_it_back_as_final(store: DynamoJobStore) -> None:
    _running(store)
    finished = store.succeed(_id(1), served=SERVED, output={"label": "a"})

    claim = store.claim(_id(1), lease_seconds=LEASE, now=NOW + timedelta(hours=1))

    assert claim.outcome is ClaimOutcome.FINAL
    assert claim.job == finished


def test_claiming_an_unknown_job_says_it_is_missing(store: DynamoJobStore) -> None:
    claim = store.claim(_id(404), lease_seconds=LEASE, now=NOW)

    assert claim.outcome is ClaimOutcome.MISSING
    assert claim.job is None
    assert store.get(_id(404)) is None


def test_a_released_job_can_be_claimed_again_at_once(
    store: DynamoJobStore, dynamodb: Any, table: str
) -> None:
    _running(store)

    store.release(_id(1))

    released = store.get(_id(1))
    assert released is not None
    assert released.status is JobStatus.QUEUED
    assert "lease_expires_at" not in _stored(dynamodb, table, _id(1))
    again = store.claim(_id(1), lease_seconds=LEASE, now=NOW)
    assert again.outcome is ClaimOutcome.CLAIMED
    assert again.job is not None
    assert again.job.attempts == 2


# --- succeed, fail: written once ------------------------------------------------------------------


def test_succeeding_a_running_job_records_its_output_and_where_it_was_served(
    store: DynamoJobStore, dynamodb: Any, table: str
) -> None:
    _running(store)
    report = GuardrailReport(checked=(CheckName.MODERATION,), flagged=(CheckName.MODERATION,))
    output = {"label": "refund", "scores": [0.1, 0.9]}

    job = store.succeed(_id(1), served=SERVED, output=output, announcement="micro-1", guardrails=report)

    assert job.status is JobStatus.SUCCEEDED
    assert job.output == output
    assert job.guardrails == report
    assert job.announcement == "micro-1"
    assert (job.endpoint, job.variant, job.model_version) == ("sluice-intent", "blue", "7")
    assert job.error is None
    assert job.attempts == 1
    assert job.updated_at > NOW
    assert store.get(_id(1)) == job
    item = _stored(dynamodb, table, _id(1))
    assert item["output"] == '{"label":"refund","scores":[0.1,0.9]}'
    assert "lease_expires_at" not in item


def test_finishing_keeps_the_route_the_job_was_submitted_on(store: DynamoJobStore) -> None:
    _running(store)

    job = store.succeed(_id(1), served=SERVED.model_copy(update={"route": "other"}), output={})

    assert job.route == "intent"


def test_a_served_without_model_version_leaves_it_unset(store: DynamoJobStore) -> None:
    _running(store)

    job = store.succeed(_id(1), served=SERVED.model_copy(update={"model_version": None}), output={"a": 1})

    assert job.model_version is None
    assert job.endpoint == "sluice-intent"


def test_a_final_state_is_written_once_and_a_late_writer_gets_the_stored_one(
    store: DynamoJobStore,
) -> None:
    _running(store)
    first = store.succeed(_id(1), served=SERVED, output={"label": "first"})

    again = store.succeed(_id(1), served=SERVED, output={"label": "second"})
    failed = store.fail(_id(1), error=ErrorDetail(code="LATE", message="too late"), served=SERVED)

    assert again == first
    assert failed == first
    assert store.get(_id(1)) == first


def test_a_queued_job_cannot_succeed(store: DynamoJobStore) -> None:
    store.create(_job())

    job = store.succeed(_id(1), served=SERVED, output={"label": "a"})

    assert job.status is JobStatus.QUEUED
    assert job.output is None
    assert store.get(_id(1)) == job


def test_a_queued_job_can_fail_straight_away(store: DynamoJobStore) -> None:
    store.create(_job())

    job = store.fail(_id(1), error=ErrorDetail(code="ENQUEUE_FAILED", message="queue unavailable"))

    assert job.status is JobStatus.FAILED
    assert job.error == ErrorDetail(code="ENQUEUE_FAILED", message="queue unavailable")
    assert job.endpoint is None
    assert store.get(_id(1)) == job


def test_failing_a_running_job_records_the_error_and_where_it_was_served(store: DynamoJobStore) -> None:
    _running(store)

    job = store.fail(
        _id(1),
        error=ErrorDetail(code="MODEL_ERROR", message="bad gateway"),
        served=SERVED,
        announcement="m-2",
    )

    assert job.status is JobStatus.FAILED
    assert job.error == ErrorDetail(code="MODEL_ERROR", message="bad gateway")
    assert (job.endpoint, job.variant, job.model_version) == ("sluice-intent", "blue", "7")
    assert job.announcement == "m-2"
    assert job.output is None
    assert store.get(_id(1)) == job


def test_finishing_an_unknown_job_raises(store: DynamoJobStore) -> None:
    with pytest.raises(ClientError):
        store.succeed(_id(404), served=SERVED, output={})
    with pytest.raises(ClientError):
        store.fail(_id(404), error=ErrorDetail(code="X", message="y"))


# --- hand_over, handed_over_before ----------------------------------------------------------------


def test_a_handed_over_job_keeps_running_without_a_lease(
    store: DynamoJobStore, dynamodb: Any, table: str
) -> None:
    _running(store)
    before = utc_now()

    store.hand_over(_id(1), served=SERVED, submitted=SUBMITTED, now=NOW)

    job = store.get(_id(1))
    assert job is not None
    assert job.status is JobStatus.RUNNING
    assert (job.endpoint, job.variant) == ("sluice-intent", "blue")
    assert (job.async_input, job.async_output) == ("s3://in/job.json", "s3://out/job.out")
    assert job.handed_over_at == int(NOW.timestamp())
    assert job.updated_at >= before.replace(microsecond=0)
    item = _stored(dynamodb, table, _id(1))
    assert item["async_route"] == "intent"
    assert "lease_expires_at" not in item
    # Its redelivery must not start a second inference: no lease to expire, ever.
    late = store.claim(_id(1), lease_seconds=LEASE, now=NOW + timedelta(days=1))
    assert late.outcome is ClaimOutcome.BUSY


def test_handed_over_before_is_strictly_before_and_per_route(store: DynamoJobStore) -> None:
    for number, route in ((1, "intent"), (2, "other")):
        _running(store, number)
        store.hand_over(
            _id(number), served=SERVED.model_copy(update={"route": route}), submitted=SUBMITTED, now=NOW
        )

    at = store.handed_over_before("intent", NOW)
    after = store.handed_over_before("intent", NOW + timedelta(seconds=1))

    assert at == []
    assert [job.id for job in after] == [_id(1)]
    assert after[0].async_output == "s3://out/job.out"
    assert [job.id for job in store.handed_over_before("other", NOW + timedelta(seconds=1))] == [_id(2)]
    assert store.handed_over_before("nobody", NOW + timedelta(days=1)) == []


def test_handed_over_before_reads_every_page(
    store: DynamoJobStore, pages_of_one: Callable[[str], None]
) -> None:
    for number in range(3):
        _running(store, number)
        store.hand_over(_id(number), served=SERVED, submitted=SUBMITTED, now=NOW + timedelta(seconds=number))
    pages_of_one("Query")

    jobs = store.handed_over_before("intent", NOW + timedelta(minutes=1))

    assert sorted(job.id for job in jobs) == [_id(number) for number in range(3)]


def test_a_finished_job_leaves_the_async_index(store: DynamoJobStore, dynamodb: Any, table: str) -> None:
    for number in (1, 2):
        _running(store, number)
        store.hand_over(_id(number), served=SERVED, submitted=SUBMITTED, now=NOW)

    store.succeed(_id(1), served=SERVED, output={"label": "a"})
    store.fail(_id(2), error=ErrorDetail(code="ASYNC_FAILED", message="gone"), served=SERVED)

    assert store.handed_over_before("intent", NOW + timedelta(days=1)) == []
    for number in (1, 2):
        assert "async_route" not in _stored(dynamodb, table, _id(number))


def test_a_job_that_is_not_running_is_left_as_it_is_by_hand_over_and_release(
    store: DynamoJobStore,
) -> None:
    store.create(_job(1))
    _running(store, 2)
    finished = store.succeed(_id(2), served=SERVED, output={"label": "a"})
    queued = store.get(_id(1))

    for number in (1, 2):
        store.hand_over(_id(number), served=SERVED, submitted=SUBMITTED, now=NOW)
        store.release(_id(number))
    store.release(_id(404))

    assert store.get(_id(1)) == queued
    assert store.get(_id(2)) == finished
    assert store.get(_id(404)) is None
    assert store.handed_over_before("intent", NOW + timedelta(days=1)) == []


# --- event markers --------------------------------------------------------------------------------


def test_mark_event_published_sets_only_the_flag(store: DynamoJobStore) -> None:
    _running(store)
    job = store.succeed(_id(1), served=SERVED, output={"label": "a"})
    assert job.event_published is False

    store.mark_event_published(_id(1))

    assert store.get(_id(1)) == job.model_copy(update={"event_published": True})


def test_an_announcement_is_marked_once_for_all_its_jobs_and_expires(
    store: DynamoJobStore, dynamodb: Any, table: str
) -> None:
    assert store.is_announced("micro-1") is False
    before = utc_now()

    store.mark_announced("micro-1")

    after = utc_now()
    assert store.is_announced("micro-1") is True
    assert store.is_announced("micro-2") is False
    marker = _stored(dynamodb, table, "announcement#micro-1")
    assert set(marker) == {"id", "expires_at"}
    assert int((before + TTL).timestamp()) <= marker["expires_at"] <= int((after + TTL).timestamp())


def test_an_announcement_marker_is_not_a_job(store: DynamoJobStore) -> None:
    store.mark_announced(_id(1))

    assert store.get(_id(1)) is None
    assert store.is_announced(_id(1)) is True


# --- finished_on_route ----------------------------------------------------------------------------


def test_finished_on_route_lists_the_succeeded_and_failed_jobs_of_that_route(
    store: DynamoJobStore, pages_of_one: Callable[[str], None]
) -> None:
    store.create(_job(1))  # queued
    _running(store, 2)  # running
    _running(store, 3)
    succeeded = store.succeed(_id(3), served=SERVED, output={"label": "a"})
    _running(store, 4)
    failed = store.fail(_id(4), error=ErrorDetail(code="X", message="y"), served=SERVED)
    store.create(_job(5, route="other", status=JobStatus.SUCCEEDED))
    pages_of_one("Scan")

    jobs = sorted(store.finished_on_route("intent"), key=lambda job: job.id)

    assert jobs == [succeeded, failed]
