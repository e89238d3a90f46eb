"""Uploaded files count against the upload tenant's budget and quotas, on moto: reserved as their
records are queued, settled by the worker (released when a job fails), a report that says which
limit stopped the file and when it resets, exact under concurrent ingestions, and no jobs taken
while a cost action has stopped the route."""

from __future__ import annotations

import gzip
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from sluice.adapters.dynamodb_batches import DynamoBatchStore
from sluice.adapters.dynamodb_cost_actions import DynamoJobAdmission
from sluice.adapters.dynamodb_jobs import DynamoJobStore
from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.s3_objects import S3Objects
from sluice.adapters.sqs_batches import SqsBatchSender
from sluice.config import DeploymentConfig, IngestConfig
from sluice.cost.budgets import BudgetGuard
from sluice.cost.models import Period
from sluice.cost.pricing import PriceList
from sluice.errors import ModelRejectedInput
from sluice.jobs.worker import JobWorker
from sluice.uploads.batches import BatchLedger
from sluice.uploads.model import SourceObject
from sluice.uploads.service import IngestOutcome, IngestService
from sluice_local.provision import route_table
from tests.fakes import CountingRedactor
from tests.functional import test_batch_ingestion as ingestion
from tests.functional.conftest import REGION, Platform
from tests.functional.cost_harness import create_cost_table, dynamodb_writes_in_order
from tests.functional.test_batch_ingestion import NO_DEADLINE, Uploads

# The batch ingestion tests' fixture (uploads bucket, queue, batches table), under a name of its own.
files = ingestion.uploads

TENANT = IngestConfig().tenant  # "uploads": the tenant every uploaded file is charged to
ONE_SECOND = 1000  # micro-dollars: one reserved model second at 3.60 USD an hour, fully busy


def _guard(platform: Platform, table: str, budget: dict[str, Any], client: Any = None) -> BudgetGuard:
    config = DeploymentConfig.model_validate(
        {
            "routes": [
                {
                    "name": route.name,
                    "endpoint": {**route.endpoint.model_dump(), "cost_per_instance_hour": 3.6},
                }
                for route in platform.config.routes
            ],
            "cost": {"budgets": {TENANT: budget}, "expected_utilization": 1.0},
        }
    )
    ledger = DynamoUsageLedger(client or boto3.client("dynamodb", region_name=REGION), table)
    return BudgetGuard(config.cost, ledger, PriceList.from_config(config))


@pytest.fixture
def table(platform: Platform) -> str:
    return create_cost_table(platform.dynamodb)


def _service(
    files: Uploads, guard: BudgetGuard, *, send_batch_size: int = 10, admission: Any = None
) -> IngestService:
    """The fixture's ingestion, with the upload tenant's budget."""
    p = files.platform
    return IngestService(
        routes=route_table(p.config, p.resources),
        limits=files.limits.model_copy(update={"send_batch_size": send_batch_size}),
        objects=S3Objects(files.s3, chunk_bytes=4096),
        batches=DynamoBatchStore(p.dynamodb, p.resources.batches_table, jobs_table=p.resources.jobs_table),
        jobs=DynamoJobStore(p.dynamodb, p.resources.jobs_table),
        queue=SqsBatchSender(p.sqs),
        redactor=CountingRedactor(),
        ledger=files.ledger(),
        budget=guard,
        admission=admission,
    )


def _worker(files: Uploads, guard: BudgetGuard) -> JobWorker:
    p = files.platform
    return JobWorker(
        routes=route_table(p.config, p.resources),
        jobs=DynamoJobStore(p.dynamodb, p.resources.jobs_table),
        endpoint=p.endpoint,
        events=EventBridgePublisher(p.events, p.resources.event_bus),
        lease_seconds=60,
        batches=files.ledger(),
        budget=guard,
    )


def _file(records: int) -> bytes:
    return "".join(
        json.dumps({"id": f"r{i}", "input": {"text": f"where is my card {i}"}}) + "\n" for i in range(records)
    ).encode()


def _usage(table: str) -> Any:
    item = (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(
            TableName=table,
            Key={"id": {"S": DynamoUsageLedger.item_id(TENANT, Period.at(datetime.now(UTC)))}},
        )
        .get("Item", {})
    )
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


def test_a_file_from_a_tenant_over_its_quota_is_refused_whole_with_the_reset_time(
    files: Uploads, table: str
) -> None:
    # Given the upload tenant's monthly quota (5) used up
    guard = _guard(files.platform, table, {"monthly_requests": 5})
    guard.reserve(TENANT, "intent", requests=5)
    source = files.upload("incoming/intent/over.jsonl", _file(3))

    # When its file is ingested
    assert _service(files, guard).ingest(source, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE

    # Then nothing is queued or charged, and the report says which limit and when it resets
    report = files.report(source)
    assert report["status"] == "completed"
    assert report["error"]["code"] == "QUOTA_EXCEEDED"
    assert "line 1" in report["error"]["message"]
    first_of_next_month = Period.at(datetime.now(UTC)).month_resets_at
    assert report["limit_resets_at"] == first_of_next_month.isoformat()
    assert (report["received"], report["queued"], report["rejected"]) == (3, 0, 3)
    assert report["rejected_by_code"] == {"QUOTA_EXCEEDED": 3}
    assert files.queued_messages() == []
    assert _usage(table)["month_requests"] == 5


def test_a_file_stops_where_the_budget_runs_out_and_what_ran_is_settled_not_half_charged(
    files: Uploads, table: str
) -> None:
    # Given room in the budget for 4 records at their estimate (one model second each)
    guard = _guard(files.platform, table, {"monthly_budget_usd": 4 * ONE_SECOND / 1_000_000})
    source = files.upload("incoming/intent/seven.jsonl", _file(7))

    # When a file of 7 is ingested in groups of 2, and the worker serves what was queued
    _service(files, guard, send_batch_size=2).ingest(source, remaining_ms=NO_DEADLINE)
    files.worker = _worker(files, guard)
    files.drain_jobs()

    # Then the first 4 records ran, the 5th and 6th were refused, the 7th never read
    report = files.report(source)
    assert report["error"]["code"] == "BUDGET_EXCEEDED"
    assert "line 5" in report["error"]["message"]
    assert report["limit_resets_at"] == Period.at(datetime.now(UTC)).month_resets_at.isoformat()
    assert (report["received"], report["queued"], report["succeeded"], report["rejected"]) == (6, 4, 4, 2)
    assert [line["line"] for line in report["rejected_lines"]] == [5, 6]
    assert report["status"] == "completed"
    # And each record that ran is charged its measured model time, nothing stays reserved
    usage = _usage(table)
    assert usage["month_requests"] == 4
    assert usage["reserved_micros"] == 0
    # Charged the measured time: the fake model answers well within a second (often so fast that
    # the charge rounds to 0 micro-dollars, so only the upper bound is certain)
    assert 0 <= usage["spent_micros"] < 4 * ONE_SECOND


def test_an_uploaded_record_whose_job_fails_is_given_back(files: Uploads, table: str) -> None:
    # Given a file of 3 records, and a model that rejects every input
    guard = _guard(files.platform, table, {"monthly_requests": 100})
    source = files.upload("incoming/intent/bad.jsonl", _file(3))
    _service(files, guard).ingest(source, remaining_ms=NO_DEADLINE)
    assert _usage(table)["month_requests"] == 3
    files.platform.endpoint.endpoint_failures = lambda endpoint, variant: ModelRejectedInput("no")

    # When the worker fails the jobs
    files.worker = _worker(files, guard)
    files.drain_jobs()

    # Then the report counts 3 failed and the tenant is charged nothing
    assert files.report(source)["failed"] == 3
    usage = _usage(table)
    assert (usage["month_requests"], usage["spent_micros"], usage["reserved_micros"]) == (0, 0, 0)


# Fewer callers and repeats than the API's test (50 x 20): an ingestion is a dozen moto calls.
# The reservation is the same conditional update, proven there at that scale.
FILES = 20
ROOM = 10
REPEATS = 2


def test_concurrent_ingestions_queue_exactly_as_many_records_as_the_quota_has_room_for(
    files: Uploads, table: str
) -> None:
    p = files.platform
    for repeat in range(REPEATS):
        # Given a quota with room for exactly 10 records, and 20 one-record files
        table = create_cost_table(p.dynamodb)
        sources = [files.upload(f"incoming/intent/run{repeat}/f{i}.jsonl", _file(1)) for i in range(FILES)]
        barrier = threading.Barrier(FILES)

        def ingest(source: SourceObject, table: str = table, barrier: threading.Barrier = barrier) -> str:
            # Each ingestion with clients of its own, as each Lambda instance has.
            session = boto3.session.Session(region_name=REGION)
            dynamodb, s3 = session.client("dynamodb"), session.client("s3")
            r = p.resources
            store = DynamoBatchStore(dynamodb, r.batches_table, jobs_table=r.jobs_table)
            service = IngestService(
                routes=route_table(p.config, r),
                limits=files.limits,
                objects=S3Objects(s3),
                batches=store,
                jobs=DynamoJobStore(dynamodb, r.jobs_table),
                queue=SqsBatchSender(session.client("sqs")),
                redactor=CountingRedactor(),
                ledger=BatchLedger(
                    batches=store,
                    objects=S3Objects(s3),
                    events=EventBridgePublisher(session.client("events"), r.event_bus),
                ),
                budget=_guard(p, table, {"monthly_requests": ROOM}, client=dynamodb),
            )
            barrier.wait()
            service.ingest(source, remaining_ms=NO_DEADLINE)
            error = files.report(source)["error"]
            return str(error["code"]) if error else "QUEUED"

        # When all are ingested at the same moment
        with dynamodb_writes_in_order(), ThreadPoolExecutor(max_workers=FILES) as pool:
            outcomes = list(pool.map(ingest, sources))

        # Then exactly 10 were queued and charged, and the other 10 refused with the quota's code
        assert sorted(set(outcomes)) == ["QUEUED", "QUOTA_EXCEEDED"]
        assert outcomes.count("QUEUED") == ROOM
        assert len(files.queued_messages()) == ROOM
        assert _usage(table)["month_requests"] == ROOM


def test_a_file_for_a_route_that_stopped_taking_jobs_is_refused_whole_and_costs_nothing(
    files: Uploads, table: str
) -> None:
    # Given a cost action that stopped `intent` taking jobs (the budget function's stop_jobs)
    guard = _guard(files.platform, table, {"monthly_requests": 100})
    admission = DynamoJobAdmission(boto3.client("dynamodb", region_name=REGION), table)
    admission.set_paused("intent", True)
    source = files.upload("incoming/intent/paused.jsonl", _file(3))

    # When its file is ingested
    assert _service(files, guard, admission=admission).ingest(source, remaining_ms=NO_DEADLINE) is (
        IngestOutcome.DONE
    )

    # Then nothing is queued or charged, and the report says why and from which line
    report = files.report(source)
    assert report["error"]["code"] == "ROUTE_PAUSED"
    assert "line 1" in report["error"]["message"]
    assert (report["received"], report["queued"], report["rejected"]) == (3, 0, 3)
    assert report["status"] == "completed"
    assert files.queued_messages() == []
    assert _usage(table).get("month_requests", 0) == 0

    # And once the alarm lifts, the same file is taken
    admission.set_paused("intent", False)
    again = files.upload("incoming/intent/resumed.jsonl", _file(3))
    _service(files, guard, admission=admission).ingest(again, remaining_ms=NO_DEADLINE)
    assert files.report(again)["queued"] == 3


def test_a_file_stops_at_the_first_group_after_its_route_stops_taking_jobs(
    files: Uploads, table: str
) -> None:
    # Given a route that a cost action stops while its file is being read (after the first group)
    guard = _guard(files.platform, table, {"monthly_requests": 100})
    stored = DynamoJobAdmission(boto3.client("dynamodb", region_name=REGION), table)
    asked: list[str] = []

    class StoppedMidFile:
        def paused(self, route: str) -> bool:
            asked.append(route)
            if len(asked) == 2:
                stored.set_paused(route, True)  # the budget function acting between two groups
            return stored.paused(route)

        def set_paused(self, route: str, paused: bool) -> None:
            stored.set_paused(route, paused)

    source = files.upload("incoming/intent/six.jsonl", _file(6))

    # When the file is ingested in groups of 2
    _service(files, guard, send_batch_size=2, admission=StoppedMidFile()).ingest(
        source, remaining_ms=NO_DEADLINE
    )

    # Then the first group is queued and charged, the second refused, the rest never read
    report = files.report(source)
    assert report["error"]["code"] == "ROUTE_PAUSED"
    assert "line 3" in report["error"]["message"]
    assert (report["received"], report["queued"], report["rejected"]) == (4, 2, 2)
    assert [line["line"] for line in report["rejected_lines"]] == [3, 4]
    assert len(files.queued_messages()) == 2
    assert _usage(table)["month_requests"] == 2


def test_a_file_that_breaks_off_while_its_route_is_paused_is_settled_not_retried(
    files: Uploads, table: str
) -> None:
    # Given a paused route and a gzip file cut short before its first group was queued
    guard = _guard(files.platform, table, {"monthly_requests": 100})
    admission = DynamoJobAdmission(boto3.client("dynamodb", region_name=REGION), table)
    admission.set_paused("intent", True)
    body = gzip.compress(_file(3))
    source = files.upload("incoming/intent/cut.jsonl.gz", body[: len(body) - 8])

    # When it is ingested (the records read before the cut are refused by the pause)
    outcome = _service(files, guard, admission=admission).ingest(source, remaining_ms=NO_DEADLINE)

    # Then the file is accounted for, not an error for SQS to retry into the DLQ
    assert outcome is IngestOutcome.DONE
    report = files.report(source)
    assert report["status"] == "completed"
    assert report["error"]["code"] == "ROUTE_PAUSED"
    assert report["queued"] == 0
    assert files.queued_messages() == []
