"""Creates the stack's resources on moto from the same typed config as the CDK stack.

Names are fixed here (unlike the stack) because one local platform owns its moto server.
Every call is safe to repeat: existing resources are reused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sluice.config import DeploymentConfig
from sluice.routing.table import RouteTable, RouteTarget
from sluice.runtime import api, async_result, ingest, review_intake, reviews, sweeper, worker
from sluice.runtime.settings import FunctionSettings
from sluice_local.feedback import provision_feedback_table
from sluice_local.review_table import provision_review_table

PREFIX = "sluice-local"
# As the stack's review queue (infra/review.py): a message intake cannot store after this many
# receives is kept in the DLQ (alarmed).
REVIEW_MAX_RECEIVE_COUNT = 5
STATE_DIR = Path(__file__).resolve().parents[2] / ".sluice"


@dataclass(frozen=True)
class RouteResources:
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    endpoint_name: str
    batch_size: int


@dataclass(frozen=True)
class LocalResources:
    region: str
    jobs_table: str
    idempotency_table: str
    event_bus: str
    routes: dict[str, RouteResources] = field(default_factory=dict)
    pii_vault_table: str = ""
    # S3 batch ingestion (sluice_local.uploads): empty until provisioned.
    uploads_bucket: str = ""
    batches_table: str = ""
    ingest_queue_url: str = ""
    ingest_queue_arn: str = ""
    ingest_dead_letter_queue_url: str = ""
    # Routing (sluice_local.routing): the live route table, breakers, async inference.
    route_table_parameter: str = ""
    breakers_table: str = ""
    async_bucket: str = ""
    async_success_topic_arn: str = ""
    async_error_topic_arn: str = ""
    async_results_queue_url: str = ""
    async_results_queue_arn: str = ""
    # Feedback on served inferences (sluice_local.feedback).
    feedback_table: str = ""
    # Human review (sluice.review): the review queue, its DLQ and the review table.
    review_queue_url: str = ""
    review_queue_arn: str = ""
    review_dead_letter_queue_url: str = ""
    review_table: str = ""

    def outputs(self) -> dict[str, Any]:
        """The stack outputs, as the deployed stack would name them."""
        outputs: dict[str, Any] = {
            "Region": self.region,
            "JobsTableName": self.jobs_table,
            "IdempotencyTableName": self.idempotency_table,
            "EventBusName": self.event_bus,
        }
        for name, route in self.routes.items():
            suffix = name.title().replace("-", "")
            outputs[f"QueueUrl{suffix}"] = route.queue_url
            outputs[f"DeadLetterQueueUrl{suffix}"] = route.dead_letter_queue_url
            outputs[f"EndpointName{suffix}"] = route.endpoint_name
        if self.uploads_bucket:
            outputs["UploadsBucket"] = self.uploads_bucket
            outputs["BatchesTableName"] = self.batches_table
            outputs["IngestQueueUrl"] = self.ingest_queue_url
            outputs["IngestDeadLetterQueueUrl"] = self.ingest_dead_letter_queue_url
        if self.route_table_parameter:
            outputs["RouteTableParameter"] = self.route_table_parameter
            outputs["BreakersTableName"] = self.breakers_table
            outputs["AsyncBucket"] = self.async_bucket
            outputs["AsyncResultsQueueUrl"] = self.async_results_queue_url
        if self.feedback_table:
            outputs["FeedbackTableName"] = self.feedback_table
        if self.review_table:
            outputs["ReviewTableName"] = self.review_table
            outputs["ReviewQueueUrl"] = self.review_queue_url
            outputs["ReviewDeadLetterQueueUrl"] = self.review_dead_letter_queue_url
        return outputs

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def endpoint_name(route: str) -> str:
    return f"{PREFIX}-{route}"


def provision(
    config: DeploymentConfig, *, dynamodb: Any, sqs: Any, events: Any, region: str
) -> LocalResources:
    jobs_table = _table(dynamodb, f"{PREFIX}-jobs", ttl_attribute="expires_at")
    _async_pending_index(dynamodb, jobs_table)
    idempotency_table = _table(dynamodb, f"{PREFIX}-idempotency", ttl_attribute="expiration")
    pii_vault_table = _table(dynamodb, f"{PREFIX}-pii-vault", ttl_attribute=None, key="pk")
    feedback_table = provision_feedback_table(dynamodb, f"{PREFIX}-feedback")
    review_table = provision_review_table(dynamodb, f"{PREFIX}-reviews")
    review_queue_url, review_queue_arn, review_dlq_url = dead_lettered_queue(
        sqs,
        f"{PREFIX}-reviews",
        visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
        max_receive_count=REVIEW_MAX_RECEIVE_COUNT,
    )
    bus = f"{PREFIX}-events"
    if bus not in {b["Name"] for b in events.list_event_buses()["EventBuses"]}:
        events.create_event_bus(Name=bus)
    routes = {}
    for route in config.routes:
        queue_url, queue_arn, dlq_url = dead_lettered_queue(
            sqs,
            f"{PREFIX}-{route.name}",
            visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
            max_receive_count=route.max_receive_count,
        )
        routes[route.name] = RouteResources(
            queue_url=queue_url,
            queue_arn=queue_arn,
            dead_letter_queue_url=dlq_url,
            endpoint_name=endpoint_name(route.name),
            batch_size=route.batch_size,
        )
    return LocalResources(
        region=region,
        jobs_table=jobs_table,
        idempotency_table=idempotency_table,
        event_bus=bus,
        routes=routes,
        pii_vault_table=pii_vault_table,
        feedback_table=feedback_table,
        review_queue_url=review_queue_url,
        review_queue_arn=review_queue_arn,
        review_dead_letter_queue_url=review_dlq_url,
        review_table=review_table,
    )


def route_table(config: DeploymentConfig, resources: LocalResources) -> RouteTable:
    return RouteTable(
        routes={
            route.name: RouteTarget.from_config(
                route,
                queue_url=resources.routes[route.name].queue_url,
                endpoint_name=resources.routes[route.name].endpoint_name,
                tenant_ids={tenant: local_tenant_id(tenant) for tenant in config.api.tenants},
            )
            for route in config.routes
        }
    )


@dataclass(frozen=True)
class FunctionsSettings:
    """Each local function's settings; the optional ones exist once their resources do."""

    api: api.Settings
    worker: worker.Settings
    async_result: async_result.Settings | None = None
    sweeper: sweeper.Settings | None = None
    ingest: ingest.Settings | None = None
    reviews: reviews.Settings | None = None
    review_intake: review_intake.Settings | None = None

    def environments(self) -> dict[str, dict[str, str]]:
        """Function name to its environment variables, as the stack gives them in AWS."""
        functions: dict[str, FunctionSettings | None] = {
            "api": self.api,
            "worker": self.worker,
            "async_result": self.async_result,
            "sweeper": self.sweeper,
            "ingest": self.ingest,
            "reviews": self.reviews,
            "review_intake": self.review_intake,
        }
        return {name: settings.environment() for name, settings in functions.items() if settings is not None}


def function_settings(
    config: DeploymentConfig, resources: LocalResources, *, log_level: str = "INFO"
) -> FunctionsSettings:
    """Each function's settings for the local resources, as the stack renders them for AWS."""
    common: dict[str, Any] = {
        "jobs_table": resources.jobs_table,
        "job_ttl_days": config.job_ttl_days,
        "routes": route_table(config, resources),
        "log_level": log_level,
    }
    if resources.route_table_parameter:
        common |= {
            "route_table_parameter": resources.route_table_parameter,
            "route_table_max_age_seconds": config.route_table_max_age_seconds,
        }
    breakers = (
        {"breakers_table": resources.breakers_table, "breaker": config.breaker, "retry": config.retry}
        if resources.breakers_table
        else {}
    )
    # Locally the HMAC key is a file (0600) instead of a Secrets Manager secret.
    pii = {"pii_key_file": str(STATE_DIR / "pii.key"), "pii_vault_table": resources.pii_vault_table}
    batches = {"batches_table": resources.batches_table} if resources.batches_table else {}
    # The functions that return or store outputs guard them, with the inputs' redactor.
    guarded = {**pii, "review_queue_url": resources.review_queue_url or None}
    return FunctionsSettings(
        api=api.Settings(
            service_name="sluice-api",
            **common,
            **breakers,
            **guarded,
            idempotency_table=resources.idempotency_table,
            max_request_bytes=config.max_request_bytes,
            idempotency_ttl_seconds=config.api.idempotency_ttl_seconds,
            reveal_tenants=",".join(local_tenant_id(tenant) for tenant in config.api.reveal_tenants) or None,
            feedback_table=resources.feedback_table or None,
            feedback_routes=",".join(config.lifecycle.routes) or None,
        ),
        worker=worker.Settings(
            service_name="sluice-worker",
            **common,
            **breakers,
            **batches,
            **guarded,
            event_bus_name=resources.event_bus,
            lease_seconds=config.worker_visibility_timeout_seconds,
            async_bucket=resources.async_bucket or None,
        ),
        async_result=async_result.Settings(
            service_name="sluice-async_result",
            **common,
            **batches,
            **guarded,
            event_bus_name=resources.event_bus,
        )
        if resources.async_results_queue_url
        else None,
        sweeper=sweeper.Settings(
            service_name="sluice-sweeper", **common, **batches, **guarded, event_bus_name=resources.event_bus
        )
        if resources.async_results_queue_url
        else None,
        ingest=ingest.Settings(
            service_name="sluice-ingest",
            **common,
            **pii,
            event_bus_name=resources.event_bus,
            batches_table=resources.batches_table,
            ingest_queue_url=resources.ingest_queue_url,
            limits=config.ingest,
        )
        if resources.uploads_bucket
        else None,
        reviews=reviews.Settings(
            service_name="sluice-reviews",
            log_level=log_level,
            **pii,
            review_table=resources.review_table,
            feedback_table=resources.feedback_table,
        )
        if resources.review_table and resources.feedback_table
        else None,
        review_intake=review_intake.Settings(
            service_name="sluice-review_intake", log_level=log_level, review_table=resources.review_table
        )
        if resources.review_table
        else None,
    )


def dead_lettered_queue(
    sqs: Any, name: str, *, visibility_timeout_seconds: int, max_receive_count: int
) -> tuple[str, str, str]:
    """`name` and `name-dlq`, redriven after `max_receive_count` receives, as the stack's
    DeadLetteredQueue; returns the queue's URL and ARN and the dead-letter queue's URL."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    redrive = {"deadLetterTargetArn": arn_of_queue(sqs, dlq_url), "maxReceiveCount": str(max_receive_count)}
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return queue_url, arn_of_queue(sqs, queue_url), dlq_url


def arn_of_queue(sqs: Any, queue_url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    )


def ensure_bucket(s3: Any, name: str) -> str:
    if name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=name)
    return name


def local_tenant_id(tenant: str) -> str:
    """The local stand-in for an API key id, which is the tenant id the handlers see."""
    return f"local-{tenant}"


def _async_pending_index(dynamodb: Any, table: str) -> None:
    """The jobs table's sparse index of jobs running on asynchronous endpoints (the sweeper's),
    as the stack declares it; added to a table kept from an earlier run that lacks it."""
    from sluice.adapters.dynamodb_jobs import ASYNC_PENDING_INDEX

    existing = dynamodb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
    if any(index["IndexName"] == ASYNC_PENDING_INDEX for index in existing):
        return
    dynamodb.update_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "async_route", "AttributeType": "S"},
            {"AttributeName": "handed_over_at", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": ASYNC_PENDING_INDEX,
                    "KeySchema": [
                        {"AttributeName": "async_route", "KeyType": "HASH"},
                        {"AttributeName": "handed_over_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )


def _table(dynamodb: Any, name: str, *, ttl_attribute: str | None, key: str = "id") -> str:
    if name in dynamodb.list_tables()["TableNames"]:
        return name
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    if ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
    return name
