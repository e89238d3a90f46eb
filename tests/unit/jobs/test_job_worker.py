"""The queued path's worker, one delivery at a time: what it claims, calls, records and announces.

The job store is the real DynamoDB adapter on moto's in-process table (the worker's promises are
about that record: claimed once, final once, released for a retry); the model is the wire-contract
fake; the clock, the model's timer and every other port are the test's. Promised here: one model
call per micro-batch and variant, each job ends succeeded, failed with a reason or back on the
queue with one, a bad input fails alone, a store or bus that fails sends back only the jobs it
touched, every final job is announced once, metered at its share of the call and settled.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_jobs import DynamoJobStore
from sluice.config import BreakerConfig, RetryPolicy
from sluice.errors import EndpointUnavailable, ModelRejectedInput, SluiceError
from sluice.events import Event
from sluice.guardrails.errors import OutputSchemaViolation
from sluice.guardrails.guard import Guarded, OutputContext
from sluice.guardrails.models import CheckName, GuardrailReport
from sluice.jobs import worker as worker_module
from sluice.jobs.models import Job, JobMessage, JobStatus, Submitted
from sluice.jobs.worker import DONE, JOB_STORE_UNAVAILABLE, Delivery, JobWorker, Outcome, unannounced
from sluice.observability.signals import ServedBy
from sluice.pii.errors import PiiDetectionTimeout
from sluice.routing.breaker import CircuitBreaker, InMemoryBreakerStore
from sluice.routing.invoker import ResilientInvoker
from sluice.routing.table import RouteTable, RouteTarget, TenantWeights, VariantTarget
from sluice.routing.variants import assign
from sluice_local.provision import PREFIX, _async_pending_index, _table
from tests.fakes import FakeIntentEndpoint

REGION = "us-east-1"
LEASE = 60
NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
CREATED = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
# The model's timer ticks 62.5 ms per reading (exact in binary): each call takes 62.5 ms.
TICK_S = 0.0625

INTENT = RouteTarget(
    name="intent",
    queue_url="https://sqs.local/intent",
    endpoint_name="sluice-intent",
    variant="blue",
    variants=(
        VariantTarget(name="blue", weight=1.0, model_version="7"),
        VariantTarget(name="green", weight=1.0, model_version="8"),
    ),
    batch_size=2,
    max_receive_count=3,
    fallback=("backup",),
    tenant_overrides=(TenantWeights(tenant="vip", weights={"blue": 0.0, "green": 1.0}),),
)
BACKUP = RouteTarget(
    name="backup",
    queue_url="https://sqs.local/backup",
    endpoint_name="sluice-backup",
    variant="one",
    variants=(VariantTarget(name="one"), VariantTarget(name="two")),
    tenant_overrides=(TenantWeights(tenant="vip", weights={"one": 0.0, "two": 1.0}),),
)
SINGLES = RouteTarget(
    name="singles",
    queue_url="https://sqs.local/singles",
    endpoint_name="sluice-singles",
    variant="AllTraffic",
    accepts_batches=False,
)
CHAT = RouteTarget(
    name="chat",
    queue_url="https://sqs.local/chat",
    endpoint_name="sluice-chat",
    variant="AllTraffic",
    wire_format="hf-tgi",
    accepts_batches=False,
    required_text_fields=("inputs",),
)
LATER = RouteTarget(
    name="later",
    queue_url="https://sqs.local/later",
    endpoint_name="sluice-later",
    variant="AllTraffic",
    mode="async",
)
TABLE = RouteTable(routes={r.name: r for r in (INTENT, BACKUP, SINGLES, CHAT, LATER)})


def _id(number: int) -> str:
    return f"{number:032x}"


class CountingRoutes:
    """The live route table; counts how often the worker reads it."""

    def __init__(self, table: RouteTable = TABLE) -> None:
        self.table = table
        self.reads = 0

    def current(self) -> RouteTable:
        self.reads += 1
        return self.table


class RecordingEvents:
    """The bus: keeps what it accepted; `accept(event)` decides, `down` refuses every call."""

    def __init__(self) -> None:
        self.published: list[Event[Any]] = []
        self.accept: Callable[[Event[Any]], bool] = lambda _: True
        self.down = False

    def publish(self, event: Event[Any]) -> None:
        self.publish_all([event])

    def publish_all(self, events: Any) -> list[bool]:
        if self.down:
            raise RuntimeError("bus unavailable")
        accepted = [self.accept(event) for event in events]
        self.published += [event for event, ok in zip(events, accepted, strict=True) if ok]
        return accepted

    def job_ids(self) -> list[str]:
        return [event.detail.job_id for event in self.published]


class FailingStore:
    """The real store, with some of its methods failing (for every job, or for the ids given)."""

    def __init__(self, store: DynamoJobStore) -> None:
        self._store = store
        self.failing: dict[str, set[str] | None] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            if name in self.failing:
                ids = self.failing[name]
                if ids is None or (args and args[0] in ids):
                    raise RuntimeError(f"{name} unavailable")
            return method(*args, **kwargs)

        return call


@dataclass
class RecordingMeter:
    usages: list[Any] = field(default_factory=list)
    down: bool = False

    def record_all(self, usages: Any) -> int:
        if self.down:
            raise RuntimeError("meter unavailable")
        self.usages += list(usages)
        return len(self.usages)


@dataclass
class RecordingBudget:
    settled: list[tuple[Any, ...]] = field(default_factory=list)
    released: list[tuple[Any, ...]] = field(default_factory=list)
    release_down: bool = False

    def settle_job(
        self, tenant: str, route: str, accepted_at: datetime, *, variant: Any, model_ms: float
    ) -> int:
        self.settled.append((tenant, route, accepted_at, variant, model_ms))
        return 0

    def release_job(self, tenant: str, route: str, accepted_at: datetime) -> None:
        if self.release_down:
            raise RuntimeError("ledger unavailable")
        self.released.append((tenant, route, accepted_at))


@dataclass
class RecordingSignals:
    batches: list[tuple[ServedBy, int, float, list[Any]]] = field(default_factory=list)

    def micro_batch(self, served: ServedBy, *, size: int, model_ms: float, outputs: Any = ()) -> None:
        self.batches.append((served, size, model_ms, list(outputs)))


class ScriptedGuard:
    """The output guard: `verdict(output)` returns a Guarded, None (passed as it is) or raises."""

    def __init__(self, verdict: Callable[[dict[str, Any]], Guarded | None]) -> None:
        self.verdict = verdict
        self.checked: list[dict[str, Any]] = []

    def check(
        self,
        route_name: str,
        policy: Any,
        output: dict[str, Any],
        context: OutputContext,
        *,
        pii_allow: tuple[str, ...] = (),
        pii_operators: Any = None,
    ) -> Guarded:
        self.checked.append(
            {
                "route": route_name,
                "policy": policy,
                "output": output,
                "context": context,
                "pii_allow": pii_allow,
                "pii_operators": pii_operators,
            }
        )
        verdict = self.verdict(output)
        return verdict if verdict is not None else Guarded(output=output, report=REPORT)


REPORT = GuardrailReport(checked=(CheckName.SCHEMA,))


class RecordingAsync:
    """InvokeEndpointAsync: one inference per chunk; `failure(route)` may refuse it."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, list[str], list[dict[str, Any]]]] = []
        self.failure: Callable[[RouteTarget], SluiceError | None] = lambda _: None

    def submit(self, route: RouteTarget, job_ids: list[str], instances: list[dict[str, Any]]) -> Submitted:
        error = self.failure(route)
        if error is not None:
            raise error
        self.submitted.append((route.name, job_ids, instances))
        number = len(self.submitted)
        return Submitted(
            inference_id=f"inf-{number}",
            input_location=f"s3://async/in/{number}.json",
            output_location=f"s3://async/out/{number}.out",
        )


class RecordingBatches:
    def __init__(self) -> None:
        self.recorded: list[list[Job]] = []
        self.down = False

    def record(self, jobs: Any) -> None:
        if self.down:
            raise RuntimeError("batch table unavailable")
        self.recorded.append(list(jobs))


@pytest.fixture(scope="module")
def shared_client() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def store(shared_client: Any) -> Iterator[DynamoJobStore]:
    with mock_aws():
        name: str = _table(shared_client, f"{PREFIX}-jobs", ttl_attribute="expires_at")
        _async_pending_index(shared_client, name)
        yield DynamoJobStore(shared_client, name, ttl=timedelta(days=3))


@pytest.fixture(autouse=True)
def model_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker times each model call with `time.perf_counter`: here every reading is a tick on."""
    ticks = itertools.count(1)  # from 1: a call's start is never 0, so a sum would show
    monkeypatch.setattr(worker_module, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * TICK_S))


@dataclass
class World:
    store: DynamoJobStore
    jobs: FailingStore
    endpoint: FakeIntentEndpoint = field(default_factory=FakeIntentEndpoint)
    events: RecordingEvents = field(default_factory=RecordingEvents)
    routes: CountingRoutes = field(default_factory=CountingRoutes)
    clock: list[datetime] = field(default_factory=lambda: [NOW])

    def job(
        self,
        number: int,
        *,
        route: str = "intent",
        text: str | None = None,
        tenant: str = "acme",
        variant: str | None = None,
        batch_id: str | None = None,
        receive_count: int = 1,
        message_id: str | None = None,
        value: dict[str, Any] | None = None,
    ) -> Delivery:
        """A job accepted and queued: its record in the store, its message as SQS delivers it."""
        job_id = _id(number)
        if self.store.get(job_id) is None:
            self.store.create(
                Job(
                    id=job_id,
                    tenant=tenant,
                    route=route,
                    created_at=CREATED,
                    correlation_id=f"corr-{number}",
                    batch_id=batch_id,
                    record_id=f"r{number}" if batch_id else None,
                    line=number if batch_id else None,
                )
            )
        message = JobMessage(
            job_id=job_id,
            tenant=tenant,
            route=route,
            input=value if value is not None else {"text": text or f"input {number}"},
            correlation_id=f"corr-{number}",
            variant=variant,
            batch_id=batch_id,
            record_id=f"r{number}" if batch_id else None,
            line=number if batch_id else None,
        )
        return Delivery(message_id=message_id or f"m{number}", receive_count=receive_count, message=message)

    def worker(self, **ports: Any) -> JobWorker:
        # One attempt per call: the invoker's retries and back-off are test_breaker's and
        # test_routing_faults' concern; here a retryable failure reaches the worker at once.
        invoker = ResilientInvoker(
            CircuitBreaker(InMemoryBreakerStore(), BreakerConfig()), retry=RetryPolicy(max_attempts=1)
        )
        return JobWorker(
            routes=self.routes,
            jobs=self.jobs,  # type: ignore[arg-type]
            endpoint=self.endpoint,
            events=self.events,
            lease_seconds=LEASE,
            clock=lambda: self.clock[0],
            invoker=invoker,
            **ports,
        )

    def stored(self, number: int) -> Job:
        job = self.store.get(_id(number))
        assert job is not None
        return job


@pytest.fixture
def world(store: DynamoJobStore) -> World:
    return World(store=store, jobs=FailingStore(store))


def _retry(reason: str) -> Outcome:
    return Outcome(retry=True, reason=reason)


# --- serving a micro-batch ---------------------------------------------------------------------


def test_a_micro_batch_is_one_model_call_and_each_job_succeeds_with_its_own_output(world: World) -> None:
    deliveries = [world.job(1, variant="blue"), world.job(2, variant="blue")]

    outcomes = world.worker().run(deliveries)

    assert outcomes == {"m1": DONE, "m2": DONE}
    assert outcomes["m1"].retry is False
    assert outcomes["m1"].reason == ""
    assert world.endpoint.calls == [[{"text": "input 1"}, {"text": "input 2"}]]
    assert world.endpoint.targets == [("sluice-intent", "blue")]
    assert world.endpoint.time_budgets == [INTENT.time_budget_ms / 1000]
    for number in (1, 2):
        job = world.stored(number)
        assert job.status is JobStatus.SUCCEEDED
        assert job.output == {"intents": [{"label": "card_arrival", "score": 0.9}], "echo": f"input {number}"}
        assert (job.endpoint, job.variant, job.model_version) == ("sluice-intent", "blue", "fake-1")
        assert job.attempts == 1
    # One announcement for the micro-batch, written with both results.
    assert world.stored(1).announcement is not None
    assert world.stored(1).announcement == world.stored(2).announcement


def test_the_route_table_is_read_once_per_batch_and_not_at_all_when_nothing_was_claimed(world: World) -> None:
    world.worker().run([world.job(1), world.job(2), world.job(3, route="singles")])
    assert world.routes.reads == 1

    # A redelivered batch of final jobs needs no route.
    world.worker().run([world.job(1), world.job(2)])
    assert world.routes.reads == 1


def test_jobs_are_grouped_by_their_variant_and_cut_into_calls_of_the_routes_batch_size(world: World) -> None:
    blues = [world.job(n, variant="blue") for n in (1, 2, 3)]
    greens = [world.job(n, variant="green") for n in (4, 5)]

    outcomes = world.worker().run([blues[0], greens[0], blues[1], greens[1], blues[2]])

    assert set(outcomes.values()) == {DONE}
    assert world.endpoint.targets == [
        ("sluice-intent", "blue"),
        ("sluice-intent", "blue"),
        ("sluice-intent", "green"),
    ]
    assert [len(call) for call in world.endpoint.calls] == [2, 1, 2]
    assert [call[0]["text"] for call in world.endpoint.calls] == ["input 1", "input 3", "input 4"]
    assert [world.stored(n).variant for n in (1, 2, 3, 4, 5)] == ["blue", "blue", "blue", "green", "green"]


def test_a_model_that_takes_one_input_per_call_gets_one_call_per_job(world: World) -> None:
    world.worker().run([world.job(n, route="singles") for n in (1, 2, 3)])

    assert world.endpoint.calls == [[{"text": "input 1"}], [{"text": "input 2"}], [{"text": "input 3"}]]
    assert world.endpoint.targets == [("sluice-singles", "AllTraffic")] * 3


def _number_where(predicate: Callable[[int], bool]) -> int:
    return next(n for n in range(1, 500) if predicate(n))


def test_a_job_without_a_variant_or_with_one_the_route_dropped_is_assigned_by_the_routes_weights(
    world: World,
) -> None:
    def assigned(number: int, key: str) -> str:
        return assign(INTENT, tenant="acme", key=key).variant.name

    # Jobs whose assignment by tenant and job id differs from one by the job id alone.
    first = _number_where(lambda n: assigned(n, f"acme\x1f{_id(n)}") != assigned(n, _id(n)))
    second = _number_where(lambda n: n > first and assigned(n, f"acme\x1f{_id(n)}") != assigned(n, _id(n)))

    world.worker().run([world.job(first), world.job(second, variant="retired")])

    for number in (first, second):
        assert world.stored(number).variant == assigned(number, f"acme\x1f{_id(number)}")


def test_a_tenant_with_its_own_weights_is_assigned_by_them(world: World) -> None:
    # Jobs the route's own weights would send to blue: the tenant's weights send them to green.
    numbers = [
        n
        for n in range(1, 40)
        if assign(INTENT, tenant="acme", key=f"vip\x1f{_id(n)}").variant.name == "blue"
    ]

    world.worker().run([world.job(n, tenant="vip") for n in numbers[:3]])

    assert [world.stored(n).variant for n in numbers[:3]] == ["green"] * 3


def test_a_job_keeps_the_variant_it_was_assigned_at_submission(world: World) -> None:
    # Whatever the weights would say for these ids: the submission's variant stands.
    world.worker().run([world.job(n, variant="green") for n in range(1, 7)])

    assert {world.stored(n).variant for n in range(1, 7)} == {"green"}


def test_the_same_job_twice_in_one_batch_is_served_once_and_both_messages_get_its_outcome(
    world: World,
) -> None:
    first = world.job(1)
    again = world.job(1, message_id="m1-again")

    outcomes = world.worker().run([first, again, world.job(2)])

    assert outcomes == {"m1": DONE, "m1-again": DONE, "m2": DONE}
    assert world.endpoint.invocations_per_text["input 1"] == 1
    assert world.events.job_ids().count(_id(1)) == 1
    assert world.stored(1).attempts == 1


def test_a_duplicate_gets_its_first_messages_outcome_when_that_one_is_sent_back(world: World) -> None:
    world.endpoint._failures = lambda _: EndpointUnavailable("down")

    outcomes = world.worker().run([world.job(1), world.job(1, message_id="m1-again")])

    assert outcomes == {"m1": _retry("ENDPOINT_UNAVAILABLE"), "m1-again": _retry("ENDPOINT_UNAVAILABLE")}


def test_the_model_time_of_a_call_is_measured_around_it_and_reported_for_the_micro_batch(
    world: World,
) -> None:
    signals = RecordingSignals()

    world.worker(signals=signals).run([world.job(1, variant="green"), world.job(2, variant="green")])

    assert signals.batches == [
        (
            ServedBy("intent", "green", "fake-1"),
            2,
            TICK_S * 1000,
            [
                {"intents": [{"label": "card_arrival", "score": 0.9}], "echo": "input 1"},
                {"intents": [{"label": "card_arrival", "score": 0.9}], "echo": "input 2"},
            ],
        )
    ]


# --- metering and budgets ------------------------------------------------------------------------


def test_each_job_is_metered_at_its_share_of_the_calls_time_with_its_own_sizes(world: World) -> None:
    meter = RecordingMeter()
    deliveries = [
        world.job(1, variant="blue", text="short"),
        world.job(2, variant="blue", text="a longer text"),
    ]

    world.worker(meter=meter).run(deliveries)

    assert [(u.tenant, u.route, u.variant, u.model_version) for u in meter.usages] == [
        ("acme", "intent", "blue", "fake-1")
    ] * 2
    assert [u.model_ms for u in meter.usages] == [TICK_S * 1000 / 2] * 2
    assert [u.bytes_in for u in meter.usages] == [len('{"text":"short"}'), len('{"text":"a longer text"}')]
    output = '{"intents":[{"label":"card_arrival","score":0.9}],"echo":"%s"}'
    assert [u.bytes_out for u in meter.usages] == [len(output % "short"), len(output % "a longer text")]
    # A classifier generates no tokens.
    assert [(u.tokens_in, u.tokens_out, u.tokens_estimated) for u in meter.usages] == [(0, 0, False)] * 2


def test_a_generation_is_metered_with_the_tokens_of_its_prompt_and_reply(world: World) -> None:
    meter = RecordingMeter()
    world.endpoint.generate = lambda prompt: "four words of reply"

    world.worker(meter=meter).run([world.job(1, route="chat", value={"inputs": "a prompt of five words"})])

    (usage,) = meter.usages
    assert (usage.route, usage.variant) == ("chat", "AllTraffic")
    assert usage.model_version == ""  # the generation names no version, nor does the route
    # Estimated from the text (TGI reported no counts): 4 bytes a token, rounded up.
    assert (usage.tokens_in, usage.tokens_out, usage.tokens_estimated) == (6, 5, True)


def test_an_api_jobs_reservation_is_settled_at_its_share_once_its_result_is_recorded(world: World) -> None:
    budget = RecordingBudget()
    world.jobs.failing["succeed"] = {_id(2)}

    outcomes = world.worker(budget=budget).run([world.job(1, variant="green"), world.job(2, variant="green")])

    assert outcomes["m2"] == _retry(JOB_STORE_UNAVAILABLE)
    # Only the recorded job is settled: the other comes back and is settled when it is recorded.
    assert budget.settled == [("acme", "intent", CREATED, "green", TICK_S * 1000 / 2)]
    assert budget.released == []


def test_a_meter_that_cannot_be_written_does_not_send_finished_jobs_back(world: World) -> None:
    meter = RecordingMeter(down=True)
    budget = RecordingBudget()

    outcomes = world.worker(meter=meter, budget=budget).run([world.job(1)])

    assert outcomes == {"m1": DONE}
    assert world.stored(1).status is JobStatus.SUCCEEDED
    assert world.events.job_ids() == [_id(1)]


def test_a_failed_job_gives_its_reservation_back_even_when_the_ledger_is_down_for_another(
    world: World,
) -> None:
    budget = RecordingBudget()
    world.endpoint._failures = lambda _: ModelRejectedInput("rejected")

    outcomes = world.worker(budget=budget).run([world.job(1, tenant="globex")])

    assert outcomes == {"m1": DONE}
    assert budget.released == [("globex", "intent", CREATED)]
    assert budget.settled == []

    budget.release_down = True
    assert world.worker(budget=budget).run([world.job(2)]) == {"m2": DONE}
    assert world.stored(2).status is JobStatus.FAILED


# --- failures of the model ----------------------------------------------------------------------


def test_one_rejected_input_fails_alone_with_its_code_and_its_neighbours_succeed(world: World) -> None:
    world.endpoint._failures = lambda instances: (
        ModelRejectedInput("The model rejected the input") if {"text": "bad"} in instances else None
    )

    outcomes = world.worker().run([world.job(1, variant="blue", text="bad"), world.job(2, variant="blue")])

    assert outcomes == {"m1": DONE, "m2": DONE}
    assert world.endpoint.calls == [
        [{"text": "bad"}, {"text": "input 2"}],
        [{"text": "bad"}],
        [{"text": "input 2"}],
    ]
    failed = world.stored(1)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == (
        "MODEL_REJECTED_INPUT",
        "The model rejected the input",
    )
    assert (failed.endpoint, failed.variant) == ("sluice-intent", "blue")
    assert world.stored(2).status is JobStatus.SUCCEEDED
    assert sorted(world.events.job_ids()) == [_id(1), _id(2)]


def test_a_retryable_failure_sends_the_jobs_back_to_the_queue_until_their_last_delivery(world: World) -> None:
    world.endpoint._failures = lambda _: EndpointUnavailable("Endpoint is unavailable")

    early = world.worker().run([world.job(1, variant="blue", receive_count=2), world.job(2, variant="blue")])

    # Not the last delivery: back on the queue with the code, and the record queued again.
    assert early == {"m1": _retry("ENDPOINT_UNAVAILABLE"), "m2": _retry("ENDPOINT_UNAVAILABLE")}
    # Not split into single calls (the endpoint failed, not an input): the route, then its fallback.
    assert world.endpoint.calls == [[{"text": "input 1"}, {"text": "input 2"}]] * 2
    assert [endpoint for endpoint, _ in world.endpoint.targets] == ["sluice-intent", "sluice-backup"]
    assert world.stored(1).status is JobStatus.QUEUED
    assert world.events.published == []

    # The last delivery the queue allows (maxReceiveCount 3): failed with the reason, acknowledged.
    last = world.worker().run([world.job(1, receive_count=3)])
    assert last == {"m1": DONE}
    job = world.stored(1)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "ENDPOINT_UNAVAILABLE"
    assert world.events.job_ids() == [_id(1)]
    assert world.events.published[0].detail.error_code == "ENDPOINT_UNAVAILABLE"


def test_a_job_that_cannot_be_released_still_comes_back_and_is_claimed_once_its_lease_runs_out(
    world: World,
) -> None:
    world.endpoint._failures = lambda _: EndpointUnavailable("down")
    world.jobs.failing["release"] = None

    assert world.worker().run([world.job(1)]) == {"m1": _retry("ENDPOINT_UNAVAILABLE")}
    assert world.stored(1).status is JobStatus.RUNNING  # still leased

    world.endpoint._failures = None
    world.clock[0] = NOW + timedelta(seconds=LEASE - 1)
    assert world.worker().run([world.job(1, receive_count=2)]) == {"m1": _retry("job busy")}
    world.clock[0] = NOW + timedelta(seconds=LEASE + 1)
    assert world.worker().run([world.job(1, receive_count=3)]) == {"m1": DONE}
    assert world.stored(1).status is JobStatus.SUCCEEDED


def test_a_dead_endpoint_is_served_by_the_fallback_on_the_variant_its_weights_give_the_job(
    world: World,
) -> None:
    world.endpoint.endpoint_failures = lambda endpoint, _: (
        EndpointUnavailable("down") if endpoint == "sluice-intent" else None
    )

    def backup_variant(number: int, key: str) -> str:
        return assign(BACKUP, tenant="acme", key=key).variant.name

    number = _number_where(lambda n: backup_variant(n, _id(n)) != backup_variant(n, "None"))

    meter, signals = RecordingMeter(), RecordingSignals()
    outcomes = world.worker(meter=meter, signals=signals).run([world.job(number, variant="blue")])
    assert outcomes == {f"m{number}": DONE}

    assert world.endpoint.targets[-1] == ("sluice-backup", backup_variant(number, _id(number)))
    # Metered and counted on the route the job asked for, not the fallback's
    assert [usage.route for usage in meter.usages] == ["intent"]
    assert [served.route for served, *_ in signals.batches] == ["intent"]
    job = world.stored(number)
    # Recorded under the route asked for, with the endpoint and variant that served it.
    assert (job.route, job.endpoint, job.variant) == (
        "intent",
        "sluice-backup",
        backup_variant(number, _id(number)),
    )


def test_a_fallback_serves_a_tenant_with_its_own_weights_there_on_the_variant_they_give(world: World) -> None:
    world.endpoint.endpoint_failures = lambda endpoint, _: (
        EndpointUnavailable("down") if endpoint == "sluice-intent" else None
    )
    number = _number_where(lambda n: assign(BACKUP, tenant="acme", key=_id(n)).variant.name == "one")

    world.worker().run([world.job(number, tenant="vip", variant="green")])

    assert world.endpoint.targets[-1] == ("sluice-backup", "two")


def test_a_job_for_a_route_that_no_longer_exists_fails_with_unknown_route(world: World) -> None:
    world.routes.table = RouteTable(routes={"intent": INTENT.model_copy(update={"fallback": ()})})

    outcomes = world.worker().run([world.job(1, route="singles")])

    assert outcomes == {"m1": DONE}
    job = world.stored(1)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "UNKNOWN_ROUTE"
    assert job.endpoint is None
    assert job.variant is None
    assert world.endpoint.calls == []


# --- claims and the job store ------------------------------------------------------------------


def test_a_redelivered_final_job_is_acknowledged_without_a_model_call_or_a_second_event(world: World) -> None:
    world.worker().run([world.job(1)])
    calls, events = len(world.endpoint.calls), len(world.events.published)

    assert world.worker().run([world.job(1, receive_count=2)]) == {"m1": DONE}

    assert len(world.endpoint.calls) == calls
    assert len(world.events.published) == events


def test_a_final_job_whose_event_did_not_go_out_is_announced_when_redelivered(world: World) -> None:
    world.events.down = True
    assert world.worker().run([world.job(1)]) == {"m1": _retry("EVENT_PUBLISH_FAILED")}
    assert world.stored(1).status is JobStatus.SUCCEEDED

    world.events.down = False
    assert world.worker().run([world.job(1, receive_count=2)]) == {"m1": DONE}
    assert world.events.job_ids() == [_id(1)]
    assert len(world.endpoint.calls) == 1
    # The job is marked published now: a third delivery publishes nothing.
    assert world.worker().run([world.job(1, receive_count=3)]) == {"m1": DONE}
    assert world.events.job_ids() == [_id(1)]


def test_a_job_another_worker_holds_or_without_a_record_comes_back_untouched(world: World) -> None:
    held = world.job(1)
    world.store.claim(_id(1), lease_seconds=LEASE, now=NOW)
    missing = Delivery(
        message_id="m9",
        receive_count=1,
        message=JobMessage(job_id=_id(9), tenant="acme", route="intent", input={}),
    )

    outcomes = world.worker().run([held, missing, world.job(2)])

    assert outcomes == {"m1": _retry("job busy"), "m9": _retry("job missing"), "m2": DONE}
    assert world.endpoint.calls == [[{"text": "input 2"}]]
    assert world.stored(1).attempts == 1


def test_a_job_whose_claim_fails_comes_back_and_the_rest_of_the_batch_goes_on(world: World) -> None:
    world.jobs.failing["claim"] = {_id(1)}

    outcomes = world.worker().run([world.job(1), world.job(2)])

    assert outcomes == {"m1": _retry(JOB_STORE_UNAVAILABLE), "m2": DONE}
    assert world.stored(1).status is JobStatus.QUEUED


def test_a_result_that_cannot_be_recorded_comes_back_and_its_neighbours_are_announced(world: World) -> None:
    world.jobs.failing["succeed"] = {_id(1)}

    outcomes = world.worker().run([world.job(1, variant="blue"), world.job(2, variant="blue")])

    assert outcomes == {"m1": _retry(JOB_STORE_UNAVAILABLE), "m2": DONE}
    assert world.events.job_ids() == [_id(2)]


def test_a_failure_that_cannot_be_recorded_comes_back(world: World) -> None:
    world.endpoint._failures = lambda _: ModelRejectedInput("rejected")
    world.jobs.failing["fail"] = None

    assert world.worker().run([world.job(1)]) == {"m1": _retry(JOB_STORE_UNAVAILABLE)}
    assert world.events.published == []


# --- announcements -------------------------------------------------------------------------------


def test_each_final_job_is_announced_with_ids_and_codes_and_its_correlation_id(world: World) -> None:
    world.endpoint._failures = lambda instances: (
        ModelRejectedInput("no") if {"text": "bad"} in instances else None
    )

    world.worker().run([world.job(1, variant="green"), world.job(2, variant="green", text="bad")])

    details = {event.detail.job_id: event for event in world.events.published}
    ok, bad = details[_id(1)], details[_id(2)]
    assert ok.detail.model_dump() == {
        "job_id": _id(1),
        "tenant": "acme",
        "route": "intent",
        "status": JobStatus.SUCCEEDED,
        "endpoint": "sluice-intent",
        "variant": "green",
        "model_version": "fake-1",
        "error_code": None,
    }
    assert (bad.detail.status, bad.detail.error_code) == (JobStatus.FAILED, "MODEL_REJECTED_INPUT")
    assert (ok.metadata.correlation_id, bad.metadata.correlation_id) == ("corr-1", "corr-2")
    assert ok.metadata.name == "InferenceCompleted"


def test_a_micro_batch_fully_announced_is_marked_once_and_not_job_by_job(world: World) -> None:
    world.worker().run([world.job(1, variant="blue"), world.job(2, variant="blue")])

    announcement = world.stored(1).announcement
    assert announcement is not None
    assert world.store.is_announced(announcement)
    assert [name for name, _ in world.jobs.calls if name in ("mark_announced", "mark_event_published")] == [
        "mark_announced"
    ]
    assert world.stored(1).event_published is False


def test_when_the_bus_refuses_some_events_the_others_are_marked_one_by_one_and_the_rest_retry(
    world: World,
) -> None:
    world.events.accept = lambda event: event.detail.job_id != _id(1)

    outcomes = world.worker().run([world.job(1, variant="blue"), world.job(2, variant="blue")])

    assert outcomes == {"m1": _retry("EVENT_PUBLISH_FAILED"), "m2": DONE}
    assert not world.store.is_announced(str(world.stored(1).announcement))
    assert (world.stored(1).event_published, world.stored(2).event_published) == (False, True)

    # The redelivery announces only the one left.
    world.events.accept = lambda _: True
    assert world.worker().run([world.job(1, receive_count=2), world.job(2, receive_count=2)]) == {
        "m1": DONE,
        "m2": DONE,
    }
    assert world.events.job_ids() == [_id(2), _id(1)]


def test_a_marker_that_cannot_be_written_falls_back_to_marking_each_job(world: World) -> None:
    world.jobs.failing["mark_announced"] = None

    assert world.worker().run([world.job(1, variant="blue"), world.job(2, variant="blue")]) == {
        "m1": DONE,
        "m2": DONE,
    }
    assert (world.stored(1).event_published, world.stored(2).event_published) == (True, True)


def test_a_mark_that_cannot_be_written_does_not_fail_a_job_whose_event_went_out(world: World) -> None:
    world.events.accept = lambda event: event.detail.job_id != _id(2)
    world.jobs.failing["mark_event_published"] = None

    outcomes = world.worker().run([world.job(1, variant="blue"), world.job(2, variant="blue")])

    assert outcomes == {"m1": DONE, "m2": _retry("EVENT_PUBLISH_FAILED")}


def test_an_unreadable_marker_publishes_again_rather_than_not_at_all(world: World) -> None:
    world.events.down = True
    world.worker().run([world.job(1)])
    world.events.down = False
    world.jobs.failing["is_announced"] = None

    assert world.worker().run([world.job(1, receive_count=2)]) == {"m1": DONE}
    assert world.events.job_ids() == [_id(1)]


def test_jobs_of_an_earlier_announcement_already_marked_are_not_announced_again(world: World) -> None:
    world.worker().run([world.job(1, variant="blue"), world.job(2, variant="blue")])
    jobs = [world.stored(1), world.stored(2)]
    published = len(world.events.published)

    # Redelivered alongside a job never announced: only that one goes out.
    world.events.down = True
    world.worker().run([world.job(3)])
    world.events.down = False
    failed = unannounced([*jobs, world.stored(3)], jobs=world.store, events=world.events)

    assert failed == set()
    assert world.events.job_ids()[published:] == [_id(3)]
    assert world.stored(3).event_published is True


def test_a_job_of_an_uploaded_file_is_counted_by_its_batch_not_announced_alone(world: World) -> None:
    batches = RecordingBatches()

    outcomes = world.worker(batches=batches).run(
        [world.job(1, batch_id="b1"), world.job(2), world.job(3, batch_id="b1", route="singles")]
    )

    assert outcomes == {"m1": DONE, "m2": DONE, "m3": DONE}
    assert world.events.job_ids() == [_id(2)]
    (recorded,) = batches.recorded
    assert sorted(job.id for job in recorded) == [_id(1), _id(3)]
    assert {job.status for job in recorded} == {JobStatus.SUCCEEDED}


def test_an_uploaded_job_sent_back_is_not_counted_until_it_is_final(world: World) -> None:
    batches = RecordingBatches()
    world.endpoint._failures = lambda instances: (
        EndpointUnavailable("down") if {"text": "input 1"} in instances else None
    )

    outcomes = world.worker(batches=batches).run(
        [world.job(1, batch_id="b1", route="singles"), world.job(2, batch_id="b1", route="singles")]
    )

    assert outcomes == {"m1": _retry("ENDPOINT_UNAVAILABLE"), "m2": DONE}
    assert [[job.id for job in jobs] for jobs in batches.recorded] == [[_id(2)]]


def test_when_the_batch_cannot_be_counted_its_settled_jobs_come_back(world: World) -> None:
    batches = RecordingBatches()
    batches.down = True

    outcomes = world.worker(batches=batches).run([world.job(1, batch_id="b1"), world.job(2)])

    assert outcomes == {"m1": _retry("BATCH_RECORD_FAILED"), "m2": DONE}
    assert world.stored(1).status is JobStatus.SUCCEEDED  # done; only its counting is retried


def test_when_the_batch_jobs_cannot_be_read_back_they_come_back(world: World) -> None:
    batches = RecordingBatches()
    world.jobs.failing["get_many"] = None

    outcomes = world.worker(batches=batches).run([world.job(1, batch_id="b1")])

    assert outcomes == {"m1": _retry("BATCH_RECORD_FAILED")}
    assert batches.recorded == []


# --- output guardrails ---------------------------------------------------------------------------


def test_every_output_is_checked_with_its_jobs_context_and_the_checked_output_is_stored(world: World) -> None:
    guard = ScriptedGuard(
        lambda output: Guarded(
            output={**output, "echo": "[REDACTED]"},
            report=REPORT.model_copy(update={"redacted": {"PERSON": 1}}),
        )
    )
    route = INTENT.model_copy(update={"pii_allow": ("LOCATION",), "pii_operators": {"PERSON": "mask"}})
    world.routes.table = RouteTable(routes={**TABLE.routes, "intent": route})

    world.worker(guard=guard).run([world.job(1, variant="green", text="Jane Doe's card")])

    (checked,) = guard.checked
    assert checked["route"] == "intent"
    assert checked["policy"] == route.output_policy
    assert checked["output"]["echo"] == "Jane Doe's card"
    assert checked["context"] == OutputContext(
        job_id=_id(1),
        tenant="acme",
        input={"text": "Jane Doe's card"},
        variant="green",
        model_version="fake-1",
        correlation_id="corr-1",
    )
    assert (checked["pii_allow"], checked["pii_operators"]) == (("LOCATION",), {"PERSON": "mask"})
    job = world.stored(1)
    assert job.output is not None
    assert job.output["echo"] == "[REDACTED]"
    assert job.guardrails is not None
    assert job.guardrails.redacted == {"PERSON": 1}


def test_a_blocked_output_fails_its_job_with_the_checks_code_and_is_never_stored(world: World) -> None:
    blocked = Guarded(output={}, report=REPORT, block=OutputSchemaViolation("The output does not match"))
    guard = ScriptedGuard(lambda output: blocked if output["echo"] == "bad" else None)

    outcomes = world.worker(guard=guard).run(
        [world.job(1, variant="blue", text="bad"), world.job(2, variant="blue")]
    )

    assert outcomes == {"m1": DONE, "m2": DONE}
    job = world.stored(1)
    assert job.status is JobStatus.FAILED
    assert job.output is None
    assert job.error is not None
    assert job.error.code == "OUTPUT_SCHEMA_VIOLATION"
    assert (job.endpoint, job.variant) == ("sluice-intent", "blue")
    assert world.stored(2).status is JobStatus.SUCCEEDED


def test_an_output_whose_review_was_not_queued_comes_back_for_another_try(world: World) -> None:
    guard = ScriptedGuard(lambda output: Guarded(output=output, report=REPORT, review_failed=True))

    assert world.worker(guard=guard).run([world.job(1)]) == {"m1": _retry("REVIEW_QUEUE_UNAVAILABLE")}
    assert world.stored(1).status is JobStatus.QUEUED

    world.jobs.failing["release"] = None
    assert world.worker(guard=guard).run([world.job(2)]) == {"m2": _retry("REVIEW_QUEUE_UNAVAILABLE")}
    assert world.stored(2).status is JobStatus.RUNNING  # leased until it runs out


def test_an_output_sent_back_does_not_hold_back_its_neighbours_outputs(world: World) -> None:
    # The first output of a micro-batch cannot be scanned, the second one's review is not queued:
    # each comes back alone, and the third is stored
    def verdict(output: dict[str, Any]) -> Guarded | None:
        if output["echo"] == "input 1":
            raise PiiDetectionTimeout("The output's scan ran out of time")
        if output["echo"] == "input 2":
            return Guarded(output=output, report=REPORT, review_failed=True)
        return None

    route = INTENT.model_copy(update={"batch_size": 3})
    world.routes.table = RouteTable(routes={**TABLE.routes, "intent": route})
    deliveries = [world.job(n, variant="blue") for n in (1, 2, 3)]

    outcomes = world.worker(guard=ScriptedGuard(verdict)).run(deliveries)

    assert outcomes == {
        "m1": _retry("PII_DETECTION_TIMEOUT"),
        "m2": _retry("REVIEW_QUEUE_UNAVAILABLE"),
        "m3": DONE,
    }
    assert world.stored(3).status is JobStatus.SUCCEEDED


def test_a_failed_job_whose_event_does_not_go_out_comes_back_to_announce_it(world: World) -> None:
    world.endpoint._failures = lambda _: ModelRejectedInput("rejected")
    world.events.down = True

    assert world.worker().run([world.job(1)]) == {"m1": _retry("EVENT_PUBLISH_FAILED")}
    assert world.stored(1).status is JobStatus.FAILED

    world.events.down = False
    assert world.worker().run([world.job(1, receive_count=2)]) == {"m1": DONE}
    assert world.events.job_ids() == [_id(1)]


def test_an_output_the_guard_could_not_scan_is_retried_and_failed_once_out_of_tries(world: World) -> None:
    def out_of_time(_: dict[str, Any]) -> Guarded:
        raise PiiDetectionTimeout("The output's scan ran out of time")

    guard = ScriptedGuard(out_of_time)

    assert world.worker(guard=guard).run([world.job(1)]) == {"m1": _retry("PII_DETECTION_TIMEOUT")}
    assert world.stored(1).output is None
    assert world.worker(guard=guard).run([world.job(1, receive_count=3)]) == {"m1": DONE}
    job = world.stored(1)
    assert job.status is JobStatus.FAILED
    assert job.output is None
    assert job.error is not None
    assert job.error.code == "PII_DETECTION_TIMEOUT"


# --- asynchronous endpoints ----------------------------------------------------------------------


def test_jobs_of_an_async_route_are_handed_over_one_inference_per_chunk_without_a_model_call(
    world: World,
) -> None:
    submitter = RecordingAsync()

    outcomes = world.worker(async_inference=submitter).run([world.job(n, route="later") for n in (1, 2, 3)])

    assert outcomes == {"m1": DONE, "m2": DONE, "m3": DONE}
    assert submitter.submitted == [
        ("later", [_id(1), _id(2), _id(3)], [{"text": "input 1"}, {"text": "input 2"}, {"text": "input 3"}])
    ]
    assert world.endpoint.calls == []
    waiting = world.store.handed_over_before("later", NOW + timedelta(seconds=1))
    assert sorted(job.id for job in waiting) == [_id(1), _id(2), _id(3)]
    assert {(job.status, job.endpoint, job.variant) for job in waiting} == {
        (JobStatus.RUNNING, "sluice-later", "AllTraffic")
    }
    assert world.store.handed_over_before("later", NOW) == []  # handed over at the worker's clock
    assert world.events.published == []  # announced when the result arrives


def test_an_async_route_cut_into_chunks_of_its_batch_size(world: World) -> None:
    submitter = RecordingAsync()
    world.routes.table = RouteTable(routes={"later": LATER.model_copy(update={"batch_size": 2})})

    world.worker(async_inference=submitter).run([world.job(n, route="later") for n in (1, 2, 3)])

    assert [job_ids for _, job_ids, _ in submitter.submitted] == [[_id(1), _id(2)], [_id(3)]]


def test_an_async_route_without_an_async_endpoint_fails_its_jobs_with_a_reason(world: World) -> None:
    assert world.worker().run([world.job(1, route="later")]) == {"m1": DONE}

    job = world.stored(1)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "INTERNAL_ERROR"
    assert job.endpoint == "sluice-later"


def test_an_async_endpoint_that_refuses_sends_the_jobs_back_then_fails_them_on_the_last_try(
    world: World,
) -> None:
    submitter = RecordingAsync()
    submitter.failure = lambda _: EndpointUnavailable("throttled")

    assert world.worker(async_inference=submitter).run([world.job(1, route="later")]) == {
        "m1": _retry("ENDPOINT_UNAVAILABLE")
    }
    assert world.stored(1).status is JobStatus.QUEUED
    assert world.worker(async_inference=submitter).run([world.job(1, route="later", receive_count=3)]) == {
        "m1": DONE
    }
    assert world.stored(1).status is JobStatus.FAILED


def test_an_async_job_whose_hand_over_cannot_be_written_comes_back_and_the_others_are_done(
    world: World,
) -> None:
    submitter = RecordingAsync()
    world.jobs.failing["hand_over"] = {_id(1)}

    outcomes = world.worker(async_inference=submitter).run(
        [world.job(1, route="later"), world.job(2, route="later")]
    )

    assert outcomes == {"m1": _retry(JOB_STORE_UNAVAILABLE), "m2": DONE}


def test_an_async_route_falls_back_to_another_endpoint_and_records_where_it_went(world: World) -> None:
    submitter = RecordingAsync()
    submitter.failure = lambda route: EndpointUnavailable("down") if route.name == "later" else None
    backup = LATER.model_copy(update={"name": "later-backup", "endpoint_name": "sluice-later-backup"})
    world.routes.table = RouteTable(
        routes={"later": LATER.model_copy(update={"fallback": ("later-backup",)}), "later-backup": backup}
    )

    assert world.worker(async_inference=submitter).run([world.job(1, route="later")]) == {"m1": DONE}

    (waiting,) = world.store.handed_over_before("later", NOW + timedelta(seconds=1))
    assert waiting.endpoint == "sluice-later-backup"
