"""Settings groups and builders that several functions share: one construction for each part.

Redaction is built the same way for `api` and `ingest` (the same keys give the same hashes),
the route source and the breakers the same way for every function that routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator

from sluice.adapters.clients import sagemaker_runtime_client
from sluice.config import BreakerConfig, RetryPolicy
from sluice.routing.table import RouteTable
from sluice.runtime.settings import FunctionSettings

# Makes a boto3 client for a service name; tests pass one that shares clients with them.
ClientFactory = Callable[[str], Any]

if TYPE_CHECKING:
    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.adapters.sagemaker_runtime import SageMakerEndpoint
    from sluice.guardrails.guard import OutputGuard
    from sluice.observability.signals import Signals
    from sluice.pii.input_redactor import PiiInputRedactor
    from sluice.ports import EventPublisher
    from sluice.routing.invoker import ResilientInvoker
    from sluice.routing.table import RouteSource
    from sluice.uploads.batches import BatchLedger


class PowertoolsSettings(FunctionSettings):
    """Read by Powertools itself (Logger, Tracer, Metrics); here so the stack renders them too."""

    service_name: str = Field(alias="POWERTOOLS_SERVICE_NAME", pattern=r"^sluice-[a-z_]+$")
    metrics_namespace: str = Field("Sluice", alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1)
    log_level: str = Field(
        "INFO", alias="POWERTOOLS_LOG_LEVEL", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: Any) -> Any:
        # Powertools takes `debug` as well as `DEBUG`; so does an operator in the console.
        return value.upper() if isinstance(value, str) else value


class JobSettings(PowertoolsSettings):
    """Every function reads and writes job records and knows the deployed route table."""

    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
    # The deployed table: the fallback when the live one (ROUTE_TABLE_PARAMETER) cannot be read.
    routes: RouteTable = Field(alias="ROUTES")
    route_table_parameter: str | None = Field(None, alias="ROUTE_TABLE_PARAMETER", min_length=1)
    route_table_max_age_seconds: int = Field(30, alias="ROUTE_TABLE_MAX_AGE_SECONDS", ge=1)

    @field_validator("routes", mode="before")
    @classmethod
    def _route_table_from_json(cls, value: Any) -> Any:
        return RouteTable.model_validate_json(value) if isinstance(value, str | bytes) else value


class BreakerSettings(FunctionSettings):
    """Functions that call endpoints: one circuit breaker per endpoint, shared by every instance
    (unset table: in memory), and the retry policy of each call."""

    breakers_table: str | None = Field(None, alias="BREAKERS_TABLE_NAME", min_length=3)
    breaker: BreakerConfig = Field(BreakerConfig(), alias="BREAKER_POLICY")
    retry: RetryPolicy = Field(RetryPolicy(), alias="RETRY_POLICY")

    @field_validator("breaker", "retry", mode="before")
    @classmethod
    def _policy_from_json(cls, value: Any, info: ValidationInfo) -> Any:
        model = BreakerConfig if info.field_name == "breaker" else RetryPolicy
        return model.model_validate_json(value) if isinstance(value, str | bytes) else value


class PiiSettings(FunctionSettings):
    """Key material and vault of the redactor: every function that redacts input has them."""

    pii_key_secret_arn: str | None = Field(None, alias="PII_KEY_SECRET_ARN")
    pii_key_file: str | None = Field(None, alias="PII_KEY_FILE")
    pii_vault_table: str | None = Field(None, alias="PII_VAULT_TABLE_NAME")


class GuardrailSettings(PiiSettings):
    """Functions that return or store model outputs: the output guard's redactor (the input's
    keys and vault) and the review queue; unset queue: nothing goes to review."""

    review_queue_url: str | None = Field(None, alias="REVIEW_QUEUE_URL", min_length=8)


class EventSettings(FunctionSettings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


@dataclass(frozen=True)
class Clock:
    """Time for the breakers (wall clock, shared across instances) and retries (monotonic)."""

    wall: Callable[[], float]
    monotonic: Callable[[], float]
    sleep: Callable[[float], None]
    # How long a breaker state read from the store is trusted: tests make it zero.
    breaker_cache_seconds: float = 1.0

    def now(self) -> datetime:
        """The wall clock as a datetime: job leases are compared with it."""
        return datetime.fromtimestamp(self.wall(), UTC)

    @classmethod
    def real(cls) -> Clock:
        import time

        return cls(wall=time.time, monotonic=time.monotonic, sleep=time.sleep)


def route_source(settings: JobSettings, clients: ClientFactory) -> RouteSource:
    if not settings.route_table_parameter:
        return settings.routes
    from sluice.adapters.route_config import ParameterRouteSource

    return ParameterRouteSource(
        settings.route_table_parameter,
        deployed=settings.routes,
        max_age_seconds=settings.route_table_max_age_seconds,
        client=clients("ssm"),
    )


def invoker(settings: BreakerSettings, clock: Clock, clients: ClientFactory) -> ResilientInvoker:
    from sluice.routing.breaker import BreakerStore, CircuitBreaker, InMemoryBreakerStore
    from sluice.routing.invoker import ResilientInvoker

    store: BreakerStore = InMemoryBreakerStore()
    if settings.breakers_table:
        from sluice.adapters.dynamodb_breaker import DynamoBreakerStore

        store = DynamoBreakerStore(clients("dynamodb"), settings.breakers_table)
    breaker = CircuitBreaker(
        store, settings.breaker, clock=clock.wall, cache_seconds=clock.breaker_cache_seconds
    )
    return ResilientInvoker(breaker, retry=settings.retry, clock=clock.monotonic, sleep=clock.sleep)


def sagemaker_endpoint(routes: RouteTable | None = None) -> SageMakerEndpoint:
    from sluice.adapters.sagemaker_runtime import SageMakerEndpoint

    # One client per time budget: a route waits for its own budget, never the largest one's.
    # One attempt each: sluice.routing.invoker retries, including the 424/429/530 botocore does not.
    @cache
    def client_for(time_budget_s: float) -> Any:
        return sagemaker_runtime_client(time_budget_s=time_budget_s, max_attempts=1)

    # The deployed routes' clients now, at init: not on a request's clock (and not from several
    # threads at once, which boto3's default session does not support).
    for route in routes.routes.values() if routes else ():
        client_for(route.time_budget_ms / 1000)
    return SageMakerEndpoint(client_for)


def input_redactor(settings: PiiSettings, clients: ClientFactory) -> PiiInputRedactor:
    from sluice import pii
    from sluice.pii.input_redactor import PiiInputRedactor

    key_provider: pii.KeyProvider | None = None
    if settings.pii_key_secret_arn:
        from sluice.adapters.pii_keys import SecretsManagerKeyProvider

        key_provider = SecretsManagerKeyProvider(settings.pii_key_secret_arn, clients("secretsmanager"))
    elif settings.pii_key_file:
        key_provider = pii.LocalKeyFile(settings.pii_key_file)
    vault = None
    if settings.pii_vault_table:
        from sluice.adapters.pii_vault import DynamoPseudonymVault

        vault = DynamoPseudonymVault(settings.pii_vault_table, clients("dynamodb"))
    # Load the detector's word lists now, during init, not on the first request's clock.
    pii.warm()
    return PiiInputRedactor(key_provider=key_provider, vault=vault)


def output_guard(
    settings: GuardrailSettings,
    clients: ClientFactory,
    *,
    redactor: PiiInputRedactor | None = None,
    signals: Signals | None = None,
) -> OutputGuard:
    """The routes' output guardrails; `redactor`: the function's input redactor, when it has one."""
    from sluice.guardrails.guard import OutputGuard

    reviews = None
    if settings.review_queue_url:
        from sluice.adapters.sqs_review_queue import SqsReviewQueue

        reviews = SqsReviewQueue(clients("sqs"), settings.review_queue_url)
    return OutputGuard(
        redactor=redactor or input_redactor(settings, clients), reviews=reviews, signals=signals
    )


def job_store(settings: JobSettings, clients: ClientFactory) -> DynamoJobStore:
    from sluice.adapters.dynamodb_jobs import DynamoJobStore

    return DynamoJobStore(clients("dynamodb"), settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days))


def event_publisher(settings: EventSettings, clients: ClientFactory) -> EventPublisher:
    from sluice.adapters.eventbridge import EventBridgePublisher

    return EventBridgePublisher(clients("events"), settings.event_bus_name)


def batch_ledger(
    *, batches_table: str, jobs: JobSettings, events: EventPublisher, clients: ClientFactory
) -> BatchLedger:
    from sluice.adapters.dynamodb_batches import DynamoBatchStore
    from sluice.adapters.s3_objects import S3Objects
    from sluice.uploads.batches import BatchLedger

    return BatchLedger(
        batches=DynamoBatchStore(
            clients("dynamodb"),
            batches_table,
            jobs_table=jobs.jobs_table,
            ttl=timedelta(days=jobs.job_ttl_days),
        ),
        objects=S3Objects(clients("s3")),
        events=events,
    )
