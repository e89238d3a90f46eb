"""Typed deployment configuration, shared by the CDK stack, the local platform and the handlers.

The same model validates `cdk.json` context at synth time and the route table the functions
receive at run time, so a typo fails `cdk synth` instead of a request in production.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RouteName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
EntityType = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,40}$")]

# The SageMaker PyTorch inference container (GPU) that hosts model/inference.py in AWS.
DEFAULT_PYTORCH_IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-inference:2.6.0-gpu-py312"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointConfig(_Frozen):
    """How a route's SageMaker real-time endpoint is hosted."""

    instance_type: str = Field("ml.g5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    initial_instance_count: int = Field(1, ge=1, le=100)
    image_uri: str = DEFAULT_PYTORCH_IMAGE
    # S3 URI of model.tar.gz; None means the stack packages the local artifact (.sluice/model).
    model_data_url: str | None = None
    variant_name: str = Field("AllTraffic", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class RouteConfig(_Frozen):
    """One named route: where its requests go and the limits that protect it."""

    name: RouteName
    description: str = ""
    endpoint: EndpointConfig = EndpointConfig()
    max_input_bytes: int = Field(256 * 1024, ge=64, le=1024 * 1024)
    # Sync calls must answer inside API Gateway's 29 s integration limit, with room to reply.
    time_budget_ms: int = Field(10_000, ge=100, le=25_000)
    # Jobs the worker sends to the model in one InvokeEndpoint call (1 disables micro-batching).
    batch_size: int = Field(16, ge=1, le=256)
    max_receive_count: int = Field(3, ge=1, le=20)
    # Concurrent worker batches for this route: the endpoint's protection against bursts.
    max_worker_concurrency: int = Field(10, ge=2, le=1000)
    # Fields of `input` that must be non-empty strings (the model's contract).
    required_text_fields: tuple[str, ...] = ("text",)
    # Entity types this route may receive unredacted (explicit opt-out, per type).
    pii_allow: tuple[EntityType, ...] = ()


class ApiConfig(_Frozen):
    throttle_rate_limit: float = Field(50, gt=0)
    throttle_burst_limit: int = Field(100, ge=1)
    quota_per_day: int = Field(100_000, ge=1)
    tenants: tuple[RouteName, ...] = ("default",)
    idempotency_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)


class FunctionConfig(_Frozen):
    memory_mb: int = Field(512, ge=128, le=10240)
    timeout_seconds: int = Field(30, ge=3, le=900)
    # None leaves the account's pool shared; a number reserves (and caps) that many instances.
    reserved_concurrency: int | None = Field(None, ge=1, le=10_000)


class DeploymentConfig(_Frozen):
    """Everything `cdk deploy` and `make run` need, from `cdk.json` context key `sluice`."""

    stage: Literal["dev", "staging", "prod"] = "dev"
    routes: tuple[RouteConfig, ...] = (RouteConfig(name="intent", description="Banking77 intents"),)
    api: ApiConfig = ApiConfig()
    api_function: FunctionConfig = FunctionConfig(memory_mb=1024, timeout_seconds=29)
    worker_function: FunctionConfig = FunctionConfig(memory_mb=512, timeout_seconds=60)
    job_ttl_days: int = Field(30, ge=1, le=3650)
    log_retention_days: int = Field(30, ge=1, le=3653)
    max_request_bytes: int = Field(512 * 1024, ge=1024, le=6 * 1024 * 1024)

    @field_validator("routes")
    @classmethod
    def _unique_route_names(cls, routes: tuple[RouteConfig, ...]) -> tuple[RouteConfig, ...]:
        names = [route.name for route in routes]
        if not names:
            raise ValueError("at least one route is required")
        if len(set(names)) != len(names):
            raise ValueError(f"route names must be unique, got {names}")
        return routes

    @model_validator(mode="after")
    def _request_fits_largest_input(self) -> DeploymentConfig:
        largest = max(route.max_input_bytes for route in self.routes)
        if self.max_request_bytes < largest:
            raise ValueError(f"max_request_bytes ({self.max_request_bytes}) is below a route's input limit")
        return self

    def route(self, name: str) -> RouteConfig:
        return next(route for route in self.routes if route.name == name)

    @property
    def worker_visibility_timeout_seconds(self) -> int:
        # AWS guidance: at least 6x the function timeout, so a throttled retry never overlaps.
        return 6 * self.worker_function.timeout_seconds
