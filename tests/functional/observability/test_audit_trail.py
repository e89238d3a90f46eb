"""The audit trail on moto: requests appended by the api, admin actions and job outcomes filed
from the bus by the `audit` function, queried by tenant and time, verified, never content."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from sluice.adapters.dynamodb_audit import DynamoAuditStore
from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.observability.audit import PLATFORM_TENANT, AuditRecord, verify
from sluice.observability.audit_events import handle_audit_batch
from sluice.operations.redrive import Moved, QueuePair, redrive
from sluice.runtime import api as api_runtime
from sluice.runtime import audit as audit_runtime
from sluice.serving.api import build_app
from sluice_local.lambda_events import sqs_event
from sluice_local.observability import LocalAudit, provision_audit
from sluice_local.provision import function_settings
from sluice_local.runtime import LocalContext
from tests.functional.conftest import REGION, Platform
from tests.sample_events import api_event

TENANT = "tenant-acme"
SECRET_TEXT = "my name is Jane Doe and my card 4111 1111 1111 1111 never came"


@dataclass
class Audited:
    platform: Platform
    audit: LocalAudit
    app: Any
    store: DynamoAuditStore

    def call(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.app.resolve(event, LocalContext(function_name="api", timeout_seconds=29))
        return response["statusCode"], json.loads(response["body"])

    def file_bus_events(self, deliveries: int = 1) -> int:
        """Run the `audit` function on what the bus's rule delivered to its queue (each batch
        `deliveries` times, as SQS may)."""
        sqs = self.platform.sqs
        trail = audit_runtime.build(self.audit.settings, clients=_clients())
        filed = 0
        while messages := sqs.receive_message(QueueUrl=self.audit.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            event = sqs_event(messages, queue_arn=self.audit.queue_arn, region=REGION)
            for _ in range(deliveries):
                context = LocalContext(function_name="audit", timeout_seconds=60)
                assert handle_audit_batch(event, context, trail)["batchItemFailures"] == []
            for message in messages:
                sqs.delete_message(QueueUrl=self.audit.queue_url, ReceiptHandle=message["ReceiptHandle"])
            filed += len(messages)
        return filed

    def records(self, tenant: str = TENANT) -> list[AuditRecord]:
        return self.store.query(tenant, since=datetime.now(UTC) - timedelta(hours=1))


@functools.cache
def _clients() -> Any:
    return functools.cache(boto3.session.Session(region_name=REGION).client)


@pytest.fixture
def audited(platform: Platform) -> Iterator[Audited]:
    _clients.cache_clear()
    clients = _clients()
    audit = provision_audit(
        platform.resources,
        dynamodb=clients("dynamodb"),
        sqs=clients("sqs"),
        events=clients("events"),
        visibility_timeout_seconds=60,
        log_level="INFO",
    )
    settings = function_settings(platform.config, platform.resources).api.model_copy(
        update={"audit_table": audit.table, "pii_key_file": str(Path(tempfile.mkdtemp()) / "pii.key")}
    )
    app = build_app(api_runtime.build(settings, clients=clients, endpoint=platform.endpoint))
    return Audited(platform, audit, app, DynamoAuditStore(clients("dynamodb"), audit.table))


def test_requests_are_audited_with_their_decision_and_outcome_and_never_their_content(
    audited: Audited,
) -> None:
    # Given a sync request, an async one and a refused one, all with personal data in them
    sync = {"route": "intent", "input": {"text": SECRET_TEXT}, "mode": "sync"}
    status, answer = audited.call(
        api_event("post_inference_sync", body=sync, headers={"X-Correlation-Id": "corr-sync-0001"})
    )
    assert status == 200, answer
    queued = {"route": "intent", "input": {"text": SECRET_TEXT}, "mode": "async"}
    status, accepted = audited.call(api_event("post_inference_async", body=queued))
    assert status == 202, accepted
    refused = {"route": "no-such-route", "input": {"text": SECRET_TEXT}}
    status, _ = audited.call(api_event("post_inference_sync", body=refused))
    assert status in (400, 404, 422)

    # When the worker serves the job and the `audit` function files the bus's events
    audited.platform.drain()
    assert audited.file_bus_events() >= 1

    # Then the tenant's trail has each request, then the job's outcome, in order
    records = audited.records()
    actions = [(r.action, r.outcome) for r in records]
    assert actions[:3] == [
        ("inference.sync", "succeeded"),
        ("inference.async", "queued"),
        ("inference.refused", "refused"),
    ]
    assert ("job.completed", "succeeded") in actions[3:]
    first, second = records[:2]
    assert (first.route, first.variant, first.model_version) == ("intent", "AllTraffic", "fake-1")
    assert (first.decision, first.actor) == ("served", TENANT)
    assert first.correlation_id == "corr-sync-0001"
    assert first.subject == answer["id"]
    assert first.redactions.get("PERSON", 0) >= 1
    assert first.redactions.get("CREDIT_CARD", 0) == 1
    # the queued one with the variant it was assigned, its job and what was redacted from it
    assert (second.decision, second.route, second.variant) == ("queued", "intent", "AllTraffic")
    assert (second.subject, second.actor) == (accepted["id"], TENANT)
    assert second.redactions == first.redactions
    job = next(r for r in records if r.action == "job.completed")
    assert job.subject == accepted["id"]
    assert job.correlation_id == records[1].correlation_id
    assert records[2].code is not None
    assert records[2].details["status"] == status
    # And nothing of what the callers sent is in it
    stored = json.dumps([r.model_dump(mode="json") for r in records])
    for fragment in ("Jane", "4111", "never came", "no-such-route"):
        assert fragment not in stored
    # And the trail verifies: every writer's chain from its first record on
    assert verify(records, complete_from_start=True).intact


def test_a_redrive_is_audited_under_the_platform_with_its_operator(audited: Audited) -> None:
    # Given an operator redriving a queue's dead letters (three moved)
    class Mover:
        def move(self, pair: QueuePair, *, progress: Any) -> Moved:
            return Moved(messages=3)

    pair = QueuePair("intent", "url", "arn", "dlq-url", "dlq-arn")
    events = EventBridgePublisher(_clients()("events"), audited.platform.resources.event_bus)
    redrive(pair, mover=Mover(), events=events, operator="local:ops-alice")

    # When the `audit` function files the bus's events, twice over (SQS delivers at least once)
    assert audited.file_bus_events(deliveries=2) == 1
    (record,) = audited.records(PLATFORM_TENANT)

    # Then the action is on the platform's trail: who, which queue, how many
    assert (record.kind, record.action, record.outcome) == ("admin", "queue.redriven", "moved")
    assert (record.actor, record.subject, record.details["messages"]) == ("local:ops-alice", "intent", 3)


def test_records_are_only_ever_added_the_table_refuses_to_overwrite_one(audited: Audited) -> None:
    # Given one audited request
    body = {"route": "intent", "input": {"text": "where is my card"}, "mode": "sync"}
    assert audited.call(api_event("post_inference_sync", body=body))[0] == 200
    (record,) = audited.records()

    # When a writer tries to put a record with the same key again (a forged replacement)
    forged = record.model_copy(update={"outcome": "failed"})

    # Then the conditional write refuses it, and the stored record is unchanged
    from sluice.observability.audit import AuditRecordExists

    with pytest.raises(AuditRecordExists):
        audited.store.append(forged)
    assert audited.records() == [record]


def test_the_trail_is_queried_by_time_window(audited: Audited) -> None:
    # Given two audited requests
    body = {"route": "intent", "input": {"text": "where is my card"}, "mode": "sync"}
    for _ in range(2):
        assert audited.call(api_event("post_inference_sync", body=body))[0] == 200
    first, second = audited.records()

    # When the trail is read from the second one's time on, and up to the first one's
    later = audited.store.query(TENANT, since=second.at)
    earlier = audited.store.query(TENANT, since=first.at - timedelta(seconds=1), until=first.at)

    # Then each window holds its own record only
    assert [r.audit_id for r in later] == [second.audit_id]
    assert [r.audit_id for r in earlier] == [first.audit_id]
