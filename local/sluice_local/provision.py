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
from sluice.routing import RouteTable, RouteTarget

PREFIX = "sluice-local"
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
        return outputs

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def endpoint_name(route: str) -> str:
    return f"{PREFIX}-{route}"


def provision(
    config: DeploymentConfig, *, dynamodb: Any, sqs: Any, events: Any, region: str
) -> LocalResources:
    jobs_table = _table(dynamodb, f"{PREFIX}-jobs", ttl_attribute="expires_at")
    idempotency_table = _table(dynamodb, f"{PREFIX}-idempotency", ttl_attribute="expiration")
    pii_vault_table = _table(dynamodb, f"{PREFIX}-pii-vault", ttl_attribute=None, key="pk")
    bus = f"{PREFIX}-events"
    if bus not in {b["Name"] for b in events.list_event_buses()["EventBuses"]}:
        events.create_event_bus(Name=bus)
    routes = {}
    for route in config.routes:
        dlq_url = sqs.create_queue(QueueName=f"{PREFIX}-{route.name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName=f"{PREFIX}-{route.name}",
            Attributes={
                "VisibilityTimeout": str(config.worker_visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(route.max_receive_count)}
                ),
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
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


def function_environment(config: DeploymentConfig, resources: LocalResources) -> dict[str, str]:
    """The environment the stack gives the functions, for the local resources."""
    uploads = (
        {
            "BATCHES_TABLE_NAME": resources.batches_table,
            "INGEST_QUEUE_URL": resources.ingest_queue_url,
            "INGEST_LIMITS": config.ingest.model_dump_json(),
        }
        if resources.uploads_bucket
        else {}
    )
    routing = (
        {
            "ROUTE_TABLE_PARAMETER": resources.route_table_parameter,
            "ROUTE_TABLE_MAX_AGE_SECONDS": str(config.route_table_max_age_seconds),
            "BREAKERS_TABLE_NAME": resources.breakers_table,
            "BREAKER_POLICY": config.breaker.model_dump_json(),
            "ASYNC_BUCKET_NAME": resources.async_bucket,
        }
        if resources.route_table_parameter
        else {}
    )
    return {
        **uploads,
        **routing,
        "JOBS_TABLE_NAME": resources.jobs_table,
        "IDEMPOTENCY_TABLE_NAME": resources.idempotency_table,
        "EVENT_BUS_NAME": resources.event_bus,
        "ROUTES": route_table(config, resources).model_dump_json(),
        "MAX_REQUEST_BYTES": str(config.max_request_bytes),
        "IDEMPOTENCY_TTL_SECONDS": str(config.api.idempotency_ttl_seconds),
        "JOB_LEASE_SECONDS": str(config.worker_visibility_timeout_seconds),
        "JOB_TTL_DAYS": str(config.job_ttl_days),
        # Locally the HMAC key is a file (0600) instead of a Secrets Manager secret.
        "PII_KEY_FILE": str(STATE_DIR / "pii.key"),
        "PII_VAULT_TABLE_NAME": resources.pii_vault_table,
        "REVEAL_TENANTS": ",".join(local_tenant_id(tenant) for tenant in config.api.reveal_tenants),
        "POWERTOOLS_METRICS_NAMESPACE": "Sluice",
    }


def local_tenant_id(tenant: str) -> str:
    """The local stand-in for an API key id, which is the tenant id the handlers see."""
    return f"local-{tenant}"


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
