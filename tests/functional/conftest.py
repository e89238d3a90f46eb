"""Functional tests: the real api and worker logic on moto, SageMaker behind a fake port."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_breaker import DynamoBreakerStore
from sluice.config import DeploymentConfig, RouteConfig
from sluice.jobs.async_results import AsyncResults, handle_async_results
from sluice.jobs.sqs_handler import handle_job_batch
from sluice.jobs.sweeper import AsyncSweeper
from sluice.jobs.worker import JobWorker
from sluice.routing.breaker import CircuitBreaker
from sluice.runtime import api as api_runtime
from sluice.runtime import async_result as async_result_runtime
from sluice.runtime import sweeper as sweeper_runtime
from sluice.runtime import worker as worker_runtime
from sluice.runtime.shared import Clock
from sluice.serving.api import build_app
from sluice_local.lambda_events import sqs_event
from sluice_local.provision import LocalResources, function_settings, provision
from sluice_local.routing import provision_routing
from sluice_local.runtime import LocalContext
from tests.fakes import FakeAsyncEndpoint, FakeClock, FakeIntentEndpoint

REGION = "us-east-1"

# One reader of botocore's service models for every platform a test starts. Each new boto3
# session would otherwise parse the same JSON models again: about 0.25 CPU seconds of the half
# second a platform costs to start (a mutation run starts thousands). The models are read-only.
_MODELS = botocore.loaders.create_loader()


def new_session() -> boto3.session.Session:
    """A fresh boto3 session (its own credentials, clients and event handlers) on shared models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    return boto3.session.Session(botocore_session=core, region_name=REGION)


@dataclass
class Platform:
    config: DeploymentConfig
    resources: LocalResources
    endpoint: FakeIntentEndpoint
    app: Any
    worker: JobWorker
    sqs: Any
    dynamodb: Any
    events: Any
    completed_events_queue: str
    clock: FakeClock
    breaker: CircuitBreaker
    async_endpoint: FakeAsyncEndpoint
    async_results: AsyncResults
    sweeper: AsyncSweeper
    wire: Callable[[], tuple[Any, JobWorker, AsyncResults, AsyncSweeper]]
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _async_results_failed: list[str] = field(default_factory=list)  # receipt handles

    def restart(self) -> None:
        """Every function restarts (new instances, nothing kept in memory); moto keeps the state."""
        self.app, self.worker, self.async_results, self.sweeper = self.wire()

    def s3(self) -> Any:
        """An S3 client on the same moto backend."""
        return boto3.client("s3", region_name=REGION)

    def deliver_async_results(self) -> set[str]:
        """Run `async_result` on the notifications SNS delivered to its queue; returns failed ids."""
        queue = self.resources.async_results_queue_url
        failed: set[str] = set()
        while messages := self.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            event = sqs_event(messages, queue_arn=self.resources.async_results_queue_arn, region=REGION)
            response = handle_async_results(
                event, LocalContext(function_name="async_result", timeout_seconds=60), self.async_results
            )
            batch_failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            failed |= batch_failed
            for message in messages:
                if message["MessageId"] not in batch_failed:
                    self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                else:
                    self._async_results_failed.append(message["ReceiptHandle"])
            if batch_failed:
                break
        return failed

    def redeliver_async_results(self) -> None:
        """What SQS does once the failed notifications' visibility timeout ends: visible again."""
        handles, self._async_results_failed = self._async_results_failed, []
        for handle in handles:
            self.sqs.change_message_visibility(
                QueueUrl=self.resources.async_results_queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )

    def call(self, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        response = self.app.resolve(event, LocalContext(function_name="api", timeout_seconds=29))
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(values)
        return response["statusCode"], json.loads(response["body"] or "null"), headers

    def receive(self, route: str = "intent", max_messages: int = 10) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.resources.routes[route].queue_url,
            MaxNumberOfMessages=max_messages,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def run_worker(self, messages: list[dict[str, Any]], route: str = "intent") -> set[str]:
        """Deliver `messages` as one Lambda batch; deletes the ones that succeeded, returns failed ids."""
        event = sqs_event(messages, queue_arn=self.resources.routes[route].queue_arn, region=REGION)
        response = handle_job_batch(
            event, LocalContext(function_name="worker", timeout_seconds=60), self.worker
        )
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in {m["MessageId"]: m for m in messages}.values():
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.resources.routes[route].queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return failed

    def drain(self, route: str = "intent") -> int:
        """Run the worker until the queue is empty, as the event source mapping would."""
        processed = 0
        while messages := self.receive(route):
            self.run_worker(messages, route)
            processed += len(messages)
        return processed

    def job(self, job_id: str, tenant: str = "tenant-acme") -> dict[str, Any]:
        status, body, _ = self.call(_get_event(job_id, tenant))
        assert status == 200, body
        return body

    def completed_events(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.completed_events_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(message["Body"]) for message in messages]


def _get_event(job_id: str, tenant: str) -> dict[str, Any]:
    from tests.sample_events import api_event

    event = api_event("get_inference", tenant=tenant)
    event["path"] = f"/v1/inferences/{job_id}"
    event["pathParameters"] = {"id": job_id}
    return event


DEFAULT_CONFIG = DeploymentConfig(
    routes=(
        RouteConfig(name="intent", batch_size=8, max_receive_count=3),
        # A route that opts out of email redaction and pseudonymizes names instead of masking.
        RouteConfig(name="support", pii_allow=("EMAIL_ADDRESS",), pii_operators={"PERSON": "pseudonymize"}),
    )
)


@pytest.fixture
def platform() -> Iterator[Platform]:
    with start_platform(DEFAULT_CONFIG) as running:
        yield running


@contextmanager
def start_platform(config: DeploymentConfig, key_file: Path | None = None) -> Iterator[Platform]:
    """The api and worker logic on moto for `config`, with fake SageMaker endpoints (sync and async)."""
    endpoint = FakeIntentEndpoint()
    key_file = key_file or Path(tempfile.mkdtemp()) / "pii.key"
    with mock_aws():
        session = new_session()
        dynamodb, sqs, events = session.client("dynamodb"), session.client("sqs"), session.client("events")
        s3, sns = session.client("s3"), session.client("sns")
        resources = provision(config, dynamodb=dynamodb, sqs=sqs, events=events, region=REGION)
        resources = provision_routing(
            config, resources, dynamodb=dynamodb, s3=s3, sns=sns, sqs=sqs, ssm=session.client("ssm")
        )
        # Observe the bus the way a consumer would: a rule delivering to a queue.
        sink = sqs.create_queue(QueueName="completed-events")["QueueUrl"]
        sink_arn = sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="completed",
            EventBusName=resources.event_bus,
            EventPattern=json.dumps({"source": ["sluice"], "detail-type": ["InferenceCompleted"]}),
        )
        events.put_targets(
            Rule="completed", EventBusName=resources.event_bus, Targets=[{"Id": "sink", "Arn": sink_arn}]
        )

        # The functions are built by their own wiring from the settings the local platform
        # renders: only SageMaker (fake endpoints), time (one fake clock for breakers and
        # back-off) and the PII key file (a temporary one) differ from `make run`.
        clock = FakeClock()
        # The functions' clients are the test's: a test observes (or breaks) what they send.
        clients = functools.cache(session.client)
        dynamodb, sqs, events = clients("dynamodb"), clients("sqs"), clients("events")
        settings = function_settings(config, resources)
        api_settings = settings.api.model_copy(
            update={"pii_key_file": str(key_file), "reveal_tenants": "tenant-acme"}
        )
        time = Clock(wall=clock, monotonic=clock, sleep=clock.sleep, breaker_cache_seconds=0)
        async_endpoint = FakeAsyncEndpoint(endpoint, s3=s3, sns=sns, resources=resources)
        assert settings.async_result is not None
        assert settings.sweeper is not None
        async_result_settings, sweeper_settings = settings.async_result, settings.sweeper

        def wire() -> tuple[Any, JobWorker, AsyncResults, AsyncSweeper]:
            """Every function built anew from its settings: what a cold start (or a restart) does."""
            app = build_app(api_runtime.build(api_settings, clients=clients, endpoint=endpoint, clock=time))
            worker = worker_runtime.build(
                settings.worker, clients=clients, endpoint=endpoint, async_endpoint=async_endpoint, clock=time
            )
            results = async_result_runtime.build(async_result_settings, clients=clients)
            return app, worker, results, sweeper_runtime.build(sweeper_settings, clients=clients, clock=time)

        app, worker, results, sweeper = wire()
        # An observer of the breakers the functions share through DynamoDB.
        breaker = CircuitBreaker(
            DynamoBreakerStore(dynamodb, resources.breakers_table),
            config.breaker,
            clock=clock,
            cache_seconds=0,
        )
        yield Platform(
            config,
            resources,
            endpoint,
            app,
            worker,
            sqs,
            dynamodb,
            events,
            sink,
            clock,
            breaker,
            async_endpoint,
            results,
            sweeper,
            wire,
        )
