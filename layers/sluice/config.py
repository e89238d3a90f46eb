"""Typed deployment configuration, shared by the CDK stack, the local platform and the handlers.

The same model validates `cdk.json` context at synth time and the route table the functions
receive at run time, so a typo fails `cdk synth` instead of a request in production.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sluice.guardrails.models import OutputPolicy
from sluice.lifecycle.config import LifecycleConfig

RouteName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
EntityType = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,40}$")]
PiiOperator = Literal["mask", "hash", "pseudonymize", "drop"]

VariantName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrameworkImage(_Frozen):
    """An AWS Deep Learning Container, named as the sagemaker SDK's image URI tables name it.

    The registry account differs between regions (ap-east-1, me-south-1, il-central-1, China...),
    so the stack resolves the URI per region from the installed SDK's tables at synth time.
    """

    # The SDK's framework key: `pytorch` (script mode, model/inference.py) or `huggingface-llm` (TGI).
    framework: str = Field(pattern=r"^[a-z0-9-]{2,64}$")
    version: str = Field(pattern=r"^[0-9][0-9a-z.-]{0,31}$")
    # None: the SDK's only Python for that version (the LLM container has one to choose from).
    py_version: str | None = Field(None, pattern=r"^py3[0-9]{0,2}$")


# The SageMaker PyTorch inference container that hosts model/inference.py in AWS.
DEFAULT_PYTORCH_IMAGE = FrameworkImage(framework="pytorch", version="2.6.0", py_version="py312")


InstanceType = Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]

# The kinds of model Sluice packs from a directory in this checkout (model/byo.py, `make new-route`):
# `intent` the default trained model (model/inference.py), `transformers` a Hugging Face model
# directory, `sklearn` a scikit-learn or XGBoost pipeline saved with joblib, `pytorch` a directory
# with its own SageMaker handler (inference.py: model_fn, input_fn, predict_fn, output_fn).
ModelKind = Literal["intent", "transformers", "sklearn", "pytorch"]
TransformersTask = Literal["text-classification", "token-classification", "feature-extraction"]
# The image each kind runs on: the SKLearn container for joblib, the PyTorch container otherwise.
SKLEARN_IMAGE_FRAMEWORK = "sklearn"


class ModelSource(_Frozen):
    """A model directory of this checkout that the stack packs into model.tar.gz (model/byo.py),
    and the local endpoint hosts unchanged."""

    kind: ModelKind
    # Relative to the repository root; `..` is refused so a route cannot pack files outside it.
    path: str = Field(pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,199}$")
    task: TransformersTask | None = None

    @field_validator("path")
    @classmethod
    def _inside_the_checkout(cls, path: str) -> str:
        if ".." in path.split("/"):
            raise ValueError("path must stay inside the repository (no '..')")
        return path

    @model_validator(mode="after")
    def _task_matches_kind(self) -> ModelSource:
        if (self.kind == "transformers") != (self.task is not None):
            raise ValueError("a transformers model names its task; other kinds name none")
        return self

    @property
    def image_framework(self) -> str:
        return SKLEARN_IMAGE_FRAMEWORK if self.kind == "sklearn" else "pytorch"


class VariantConfig(_Frozen):
    """One production variant of an endpoint: a model version on its own fleet, with a traffic weight."""

    name: VariantName
    # Relative share of the route's traffic; 0 keeps the variant deployed but unassigned.
    weight: float = Field(1.0, ge=0, le=1000)
    # Label reported when the model itself reports no version.
    model_version: str = Field("", max_length=128)
    # None inherits the endpoint's setting.
    instance_type: InstanceType | None = None
    initial_instance_count: int | None = Field(None, ge=1, le=100)
    model_data_url: str | None = None
    # A model directory of this checkout for this variant (a second model, or a second version of
    # one); None inherits the endpoint's `model`.
    model: ModelSource | None = None
    # On-demand price of one instance, for cost reports and the budget actions (USD).
    cost_per_instance_hour: float = Field(0.0, ge=0)


class AsyncInferenceConfig(_Frozen):
    """SageMaker asynchronous inference: S3 in and out, SNS notifications, scaling to zero."""

    max_concurrent_invocations_per_instance: int = Field(4, ge=1, le=1000)
    min_capacity: int = Field(0, ge=0, le=100)
    max_capacity: int = Field(2, ge=1, le=100)
    # Target tracking keeps about this many queued requests per instance.
    target_backlog_per_instance: float = Field(4.0, gt=0)
    invocation_timeout_seconds: int = Field(900, ge=1, le=3600)
    # Alarm when the oldest queued request is older than this.
    max_oldest_request_age_seconds: int = Field(1800, ge=60, le=6 * 3600)

    @model_validator(mode="after")
    def _capacity_range(self) -> AsyncInferenceConfig:
        if self.min_capacity > self.max_capacity:
            raise ValueError("min_capacity must not exceed max_capacity")
        return self


class EndpointConfig(_Frozen):
    """How a route's SageMaker endpoint is hosted: real-time or asynchronous, with its variants."""

    mode: Literal["realtime", "async"] = "realtime"
    instance_type: InstanceType = "ml.g5.xlarge"
    initial_instance_count: int = Field(1, ge=1, le=100)
    image: FrameworkImage = DEFAULT_PYTORCH_IMAGE
    # A custom image instead (e.g. in the account's own ECR), used verbatim; `{region}` is replaced.
    image_uri: str | None = Field(None, pattern=r"^[0-9]{12}\.dkr\.ecr\.[^/]+/[^:]+:[^:]+$")
    # S3 URI of model.tar.gz; None means the stack packages the local artifact: `model`, or the
    # default trained model (.sluice/model) when that is None too.
    model_data_url: str | None = None
    model: ModelSource | None = None
    # The single variant of an endpoint that lists no `variants` (the original, one-model shape).
    variant_name: VariantName = "AllTraffic"
    variants: tuple[VariantConfig, ...] = ()
    cost_per_instance_hour: float = Field(0.0, ge=0)
    # Real-time variants scale between their initial count and this, on invocations per instance.
    max_instance_count: int = Field(2, ge=1, le=100)
    target_invocations_per_instance: int = Field(600, ge=1, le=100_000)
    # `sluice`: {"instances": [...]} -> {"predictions": [...]}; `hf-tgi`: the Hugging Face LLM
    # container's {"inputs", "parameters"} -> [{"generated_text"}], one input per call.
    wire_format: Literal["sluice", "hf-tgi"] = "sluice"
    # Whether the model takes several inputs in one call (the worker's micro-batching).
    accepts_batches: bool = True
    # Extra container environment (e.g. HF_MODEL_ID for the LLM container).
    environment: dict[str, str] = Field(default_factory=dict)
    # A container that downloads its weights at start (HF_MODEL_ID) needs the network.
    network_isolation: bool = True
    async_inference: AsyncInferenceConfig = AsyncInferenceConfig()

    @property
    def production_variants(self) -> tuple[VariantConfig, ...]:
        if self.variants:
            return self.variants
        return (
            VariantConfig(
                name=self.variant_name,
                instance_type=self.instance_type,
                initial_instance_count=self.initial_instance_count,
                model_data_url=self.model_data_url,
                model=self.model,
                cost_per_instance_hour=self.cost_per_instance_hour,
            ),
        )

    def model_of(self, variant: VariantConfig) -> ModelSource | None:
        """The local model a variant serves (None: the default trained intent model)."""
        return variant.model or self.model

    @model_validator(mode="after")
    def _variants_are_servable(self) -> EndpointConfig:
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        if self.variants and sum(variant.weight for variant in self.variants) <= 0:
            raise ValueError("at least one variant needs a positive weight")
        if self.wire_format == "hf-tgi" and self.accepts_batches:
            raise ValueError("the hf-tgi wire format takes one input per call: set accepts_batches false")
        artifacts = [
            variant.model_data_url or self.model_data_url or getattr(self.model_of(variant), "path", None)
            for variant in self.production_variants
        ]
        if len(set(artifacts)) != len(artifacts):
            # Each variant is a fleet billed by the hour: two fleets of one model test nothing.
            raise ValueError(
                "two variants serve the same model artifact: a second variant (a canary) needs a "
                "second model version (its own model_data_url)"
            )
        frameworks = {
            source.image_framework
            for variant in self.production_variants
            if (source := self.model_of(variant)) is not None
        }
        if self.image_uri is None and frameworks - {self.image.framework}:
            # One image per endpoint: a joblib pipeline needs the SKLearn container, the rest PyTorch's.
            raise ValueError(
                f"the endpoint's image is {self.image.framework}, but its models need {sorted(frameworks)}"
            )
        if self.mode == "async" and len(self.production_variants) > 1:
            # InvokeEndpointAsync has no TargetVariant: Sluice could neither assign nor report one.
            raise ValueError(
                "an async endpoint serves one variant (InvokeEndpointAsync has no TargetVariant)"
            )
        return self


class TenantOverride(_Frozen):
    """Variant weights for one tenant on one route, replacing the route's (e.g. a pinned beta tenant)."""

    tenant: RouteName
    weights: dict[VariantName, float] = Field(min_length=1)

    @field_validator("weights")
    @classmethod
    def _positive_total(cls, weights: dict[str, float]) -> dict[str, float]:
        if any(weight < 0 for weight in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("override weights must be non-negative with a positive total")
        return weights


class BreakerConfig(_Frozen):
    """The per-endpoint circuit breaker shared by every function instance (DynamoDB)."""

    # Retryable failures within `window_seconds` that open the circuit.
    failure_threshold: int = Field(5, ge=1, le=1000)
    window_seconds: int = Field(30, ge=1, le=3600)
    # How long an open circuit refuses calls before one probe is let through (half-open).
    open_seconds: int = Field(30, ge=1, le=3600)


class RetryPolicy(_Frozen):
    """Retries of one InvokeEndpoint call within the route's time budget: full-jitter exponential
    back-off. The only retries of that call: botocore's are off for it (one attempt per client)."""

    max_attempts: int = Field(3, ge=1, le=10)
    base_delay_s: float = Field(0.05, gt=0, le=5)
    max_delay_s: float = Field(1.0, gt=0, le=30)


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
    # How each entity type is redacted; unlisted types are masked (`<EMAIL_ADDRESS>`).
    # `hash` is a keyed HMAC-SHA256; `pseudonymize` a stable per-tenant token kept in the vault.
    pii_operators: dict[EntityType, PiiOperator] = Field(default_factory=dict)
    # Per-tenant variant weights, replacing the route's for that tenant.
    tenant_overrides: tuple[TenantOverride, ...] = ()
    # Routes that serve this route's requests, in order, when its endpoint cannot.
    fallback: tuple[RouteName, ...] = ()
    # Output guardrails and human review (sluice.guardrails); None: the defaults of the route's
    # kind (OutputPolicy.default_for its wire format).
    output: OutputPolicy | None = None

    @property
    def output_policy(self) -> OutputPolicy:
        model = self.endpoint.model_of(self.endpoint.production_variants[0])
        return self.output or OutputPolicy.default_for(
            self.endpoint.wire_format, model_kind=model.kind if model else None
        )

    @model_validator(mode="after")
    def _output_kind_fits_wire_format(self) -> RouteConfig:
        if (
            self.output is not None
            and self.endpoint.wire_format == "hf-tgi"
            and self.output.kind != "generation"
        ):
            raise ValueError(
                f"route {self.name}: an hf-tgi route generates text: output.kind must be generation"
            )
        return self

    @model_validator(mode="after")
    def _overrides_name_variants(self) -> RouteConfig:
        known = {variant.name for variant in self.endpoint.production_variants}
        for override in self.tenant_overrides:
            unknown = set(override.weights) - known
            if unknown:
                raise ValueError(f"route {self.name}: override for {override.tenant} names {sorted(unknown)}")
        if self.name in self.fallback:
            raise ValueError(f"route {self.name} cannot fall back to itself")
        return self


class UsagePlanConfig(_Frozen):
    """One tenant's API Gateway usage plan: its own throttle and daily quota."""

    throttle_rate_limit: float = Field(50, gt=0)
    throttle_burst_limit: int = Field(100, ge=1)
    quota_per_day: int = Field(100_000, ge=1)


class ApiConfig(_Frozen):
    # The stage's throttle (everyone together) and the default plan of a tenant without its own.
    throttle_rate_limit: float = Field(50, gt=0)
    throttle_burst_limit: int = Field(100, ge=1)
    quota_per_day: int = Field(100_000, ge=1)
    tenants: tuple[RouteName, ...] = ("default",)
    # Per-tenant usage plans; a tenant not listed gets the limits above.
    plans: dict[RouteName, UsagePlanConfig] = Field(default_factory=dict)
    idempotency_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)
    # Tenants whose callers may ask for pseudonymized values back (`GET ...?reveal=true`).
    reveal_tenants: tuple[RouteName, ...] = ()


class FunctionConfig(_Frozen):
    memory_mb: int = Field(512, ge=128, le=10240)
    timeout_seconds: int = Field(30, ge=3, le=900)
    # None leaves the account's pool shared; a number reserves (and caps) that many instances.
    reserved_concurrency: int | None = Field(None, ge=1, le=10_000)


class IngestConfig(_Frozen):
    """S3 batch ingestion: limits that protect the `ingest` function and the routes behind it."""

    function: FunctionConfig = FunctionConfig(memory_mb=512, timeout_seconds=900)
    # Objects larger than this (as stored, before decompression) are rejected unread.
    max_file_bytes: int = Field(10 * 1024**3, ge=1024, le=5 * 1024**4)
    # A gzip member expanding more than this many times is treated as a decompression bomb.
    max_decompression_ratio: int = Field(200, ge=2, le=10_000)
    max_decompressed_bytes: int = Field(50 * 1024**3, ge=1024)
    # A line longer than this is rejected without being held in memory.
    max_line_bytes: int = Field(1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Records per SendMessageBatch call (SQS allows at most 10).
    send_batch_size: int = Field(10, ge=1, le=10)
    # Records between checkpoints: what a killed invocation may have to redo.
    checkpoint_every_records: int = Field(2000, ge=10, le=1_000_000)
    # Stop and checkpoint when less than this is left of the invocation's time.
    time_reserve_ms: int = Field(20_000, ge=1000, le=300_000)
    # Rejected lines listed one by one in the report; beyond this only counts per code.
    max_reported_rejections: int = Field(1000, ge=0, le=10_000)
    max_receive_count: int = Field(5, ge=1, le=20)
    # Tenant the jobs of uploaded files are accounted to.
    tenant: RouteName = "uploads"
    # Uploads are deleted when their batch completes; this expires those whose batch never does
    # (its file is in the ingest DLQ, with an alarm): raw uploads hold personal data.
    incoming_retention_days: int = Field(1, ge=1, le=3650)
    results_retention_days: int = Field(30, ge=1, le=3650)
    access_log_retention_days: int = Field(90, ge=1, le=3650)


# Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB.
LAMBDA_MB_PER_VCPU = 1769


class DeploymentConfig(_Frozen):
    """Everything `cdk deploy` and `make run` need, from `cdk.json` context key `sluice`."""

    stage: Literal["dev", "staging", "prod"] = "dev"
    routes: tuple[RouteConfig, ...] = (RouteConfig(name="intent", description="Banking77 intents"),)
    api: ApiConfig = ApiConfig()
    api_function: FunctionConfig = FunctionConfig(memory_mb=1024, timeout_seconds=29)
    # Drift monitoring and retraining (sluice.lifecycle).
    lifecycle: LifecycleConfig = LifecycleConfig()
    worker_function: FunctionConfig = FunctionConfig(memory_mb=512, timeout_seconds=60)
    ingest: IngestConfig = IngestConfig()
    job_ttl_days: int = Field(30, ge=1, le=3650)
    log_retention_days: int = Field(30, ge=1, le=3653)
    # At most what reaches Lambda: bodies arrive base64-encoded (4/3 larger; infra/rest_api.py)
    # and a synchronous invoke carries at most 6 MB, headers and context included.
    max_request_bytes: int = Field(512 * 1024, ge=1024, le=(6 * 1024 * 1024 - 64 * 1024) * 3 // 4)
    breaker: BreakerConfig = BreakerConfig()
    retry: RetryPolicy = RetryPolicy()
    # SageMaker async notifications async_result could not apply go to a DLQ after this many receives.
    async_results_max_receive_count: int = Field(5, ge=1, le=20)
    # Who every alarm notifies (the operators' SNS topic); empty leaves the topic for a pager to attach.
    alarm_emails: tuple[
        Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)], ...
    ] = ()
    # How long a function keeps the route table it read from SSM before reading it again.
    route_table_max_age_seconds: int = Field(30, ge=1, le=3600)
    cost: CostConfig = Field(default_factory=lambda: CostConfig())  # models at the end of the module

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
    def _reveal_tenants_exist(self) -> DeploymentConfig:
        unknown = set(self.api.reveal_tenants) - set(self.api.tenants)
        if unknown:
            raise ValueError(f"api.reveal_tenants names unknown tenants: {sorted(unknown)}")
        unplanned = set(self.api.plans) - set(self.api.tenants)
        if unplanned:
            raise ValueError(f"api.plans names unknown tenants: {sorted(unplanned)}")
        return self

    @model_validator(mode="after")
    def _an_open_circuit_outlasts_no_queued_retry(self) -> DeploymentConfig:
        # A queued job refused by an open circuit comes back after the visibility timeout; were the
        # circuit still open then, every redelivery would meet it and the job would fail
        # ENDPOINT_CIRCUIT_OPEN after a few throttles, the endpoint never called (seen on the
        # fault suite of `make run` with a 30 s timeout against a 30 s open circuit).
        if self.breaker.open_seconds >= self.worker_visibility_timeout_seconds:
            raise ValueError(
                "breaker.open_seconds must be shorter than the worker queues' visibility timeout "
                "(6 x worker_function.timeout_seconds)"
            )
        return self

    @model_validator(mode="after")
    def _request_fits_largest_input(self) -> DeploymentConfig:
        largest = max(route.max_input_bytes for route in self.routes)
        if self.max_request_bytes < largest:
            raise ValueError(f"max_request_bytes ({self.max_request_bytes}) is below a route's input limit")
        return self

    @model_validator(mode="after")
    def _fallbacks_and_overrides_resolve(self) -> DeploymentConfig:
        modes = {route.name: route.endpoint.mode for route in self.routes}
        for route in self.routes:
            for fallback in route.fallback:
                if fallback not in modes:
                    raise ValueError(f"route {route.name} falls back to unknown route {fallback}")
                if modes[fallback] != route.endpoint.mode:
                    raise ValueError(
                        f"route {route.name} ({route.endpoint.mode}) falls back to {fallback} "
                        f"({modes[fallback]}): a fallback must serve the same mode"
                    )
            unknown = {override.tenant for override in route.tenant_overrides} - set(self.api.tenants)
            if unknown:
                raise ValueError(f"route {route.name} overrides unknown tenants: {sorted(unknown)}")
        return self

    @model_validator(mode="after")
    def _sync_routes_redact_and_answer_in_time(self) -> DeploymentConfig:
        # Redacting the largest input the route accepts, then the endpoint call, must fit in the
        # API function's timeout. The PII budget is CPU time; Lambda gives a function memory/1769
        # of a vCPU, so on a smaller function the same CPU time takes longer on the clock.
        from sluice.pii.detection import time_budget_for

        share = min(1.0, self.api_function.memory_mb / LAMBDA_MB_PER_VCPU)
        for route in self.routes:
            if route.endpoint.mode == "async":
                continue  # queued: the request path only redacts, the model call is the worker's
            needed_ms = time_budget_for(route.max_input_bytes) / share + route.time_budget_ms
            if needed_ms > self.api_function.timeout_seconds * 1000:
                raise ValueError(
                    f"route {route.name}: redacting {route.max_input_bytes} bytes and calling the "
                    f"endpoint can take {needed_ms / 1000:.1f} s, over the API function's "
                    f"{self.api_function.timeout_seconds} s timeout"
                )
        return self

    @model_validator(mode="after")
    def _cost_names_resolve(self) -> DeploymentConfig:
        routes = {route.name: route for route in self.routes}
        tenants = set(self.api.tenants) | {self.ingest.tenant}
        cost = self.cost
        named = {
            "budgets": set(cost.budgets) - tenants,
            "reserve_model_seconds": set(cost.reserve_model_seconds) - set(routes),
            "alarms.instance_hours_per_day": set(cost.alarms.instance_hours_per_day) - set(routes),
        }
        for trigger, actions in cost.alarms.actions.items():
            kind, _, name = trigger.partition(":")
            if kind == "tenant-spend" and name not in tenants:
                raise ValueError(f"cost trigger {trigger} names an unknown tenant")
            if kind == "instance-hours" and name not in cost.alarms.instance_hours_per_day:
                raise ValueError(f"cost trigger {trigger} names a route without an instance-hours alarm")
            if kind not in ("tenant-spend", "instance-hours", "stack-budget"):
                raise ValueError(
                    f"cost trigger {trigger}: expected tenant-spend:, instance-hours: or stack-budget"
                )
            for action in actions:
                if action.tenant is not None and action.tenant not in tenants:
                    raise ValueError(f"cost action on {trigger} names unknown tenant {action.tenant}")
                if action.route is None:
                    continue
                if action.route not in routes:
                    raise ValueError(f"cost action on {trigger} names unknown route {action.route}")
                endpoint = routes[action.route].endpoint
                if action.kind == "shift_weight" and action.to_variant not in {
                    variant.name for variant in endpoint.production_variants
                }:
                    raise ValueError(
                        f"cost action on {trigger}: route {action.route} has no variant {action.to_variant}"
                    )
                if action.kind == "scale_to_zero" and endpoint.mode != "async":
                    raise ValueError(f"cost action on {trigger}: only an async endpoint scales to zero")
        unknown = {field: sorted(names) for field, names in named.items() if names}
        if unknown:
            raise ValueError(f"cost config names unknown tenants or routes: {unknown}")
        return self

    def route(self, name: str) -> RouteConfig:
        return next(route for route in self.routes if route.name == name)

    @property
    def worker_visibility_timeout_seconds(self) -> int:
        # AWS guidance: at least 6x the function timeout, so a throttled retry never overlaps.
        return 6 * self.worker_function.timeout_seconds

    @property
    def ingest_visibility_timeout_seconds(self) -> int:
        return 6 * self.ingest.function.timeout_seconds


# --- Cost governance (sluice.cost): budgets, quotas, metering, the actions alarms take ---------

TenantName = RouteName


class TenantBudget(_Frozen):
    """One tenant's monthly money budget and request quotas; None leaves that limit off."""

    monthly_budget_usd: float | None = Field(None, gt=0, le=10_000_000)
    monthly_requests: int | None = Field(None, ge=1)
    daily_requests: int | None = Field(None, ge=1)
    # Past this share of a limit every accepted request carries a warning (the soft limit).
    soft_limit_ratio: float = Field(0.8, gt=0, le=1)


class CostAction(_Frozen):
    """What the `budget` function does while a cost alarm is in ALARM; undone when it is OK."""

    kind: Literal["lower_quota", "cap_scaling", "shift_weight", "scale_to_zero", "stop_jobs"]
    # lower_quota: the tenant whose monthly request quota drops to `requests`.
    tenant: TenantName | None = None
    requests: int | None = Field(None, ge=0)
    # cap_scaling, shift_weight, scale_to_zero, stop_jobs: the route acted on.
    route: RouteName | None = None
    # cap_scaling: the most instances each of the route's variants may scale to.
    max_instances: int | None = Field(None, ge=1, le=100)
    # shift_weight: the variant that takes all of the route's traffic (the cheaper one).
    to_variant: VariantName | None = None

    @model_validator(mode="after")
    def _has_its_target(self) -> CostAction:
        needed = {
            "lower_quota": ("tenant", "requests"),
            "cap_scaling": ("route", "max_instances"),
            "shift_weight": ("route", "to_variant"),
            "scale_to_zero": ("route",),
            "stop_jobs": ("route",),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"cost action {self.kind} needs {missing}")
        return self


class CostAlarmConfig(_Frozen):
    """Alarm thresholds on metered spend and instance hours, and the actions each one takes."""

    # Metered spend of one tenant in a day, as a share of its monthly budget, that raises its alarm.
    tenant_daily_spend_ratio: float = Field(0.1, gt=0, le=1)
    # Instance hours of one route's endpoint in a day that raise its alarm; None: no alarm.
    instance_hours_per_day: dict[RouteName, float] = Field(default_factory=dict)
    # Actions per trigger: `tenant-spend:<tenant>`, `instance-hours:<route>`, `stack-budget`.
    actions: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9:-]{0,80}$")], tuple[CostAction, ...]] = Field(
        default_factory=dict
    )


class CostConfig(_Frozen):
    """Per-tenant budgets enforced on the request path, the stack's AWS budget and its alarms."""

    # Tenants not listed get `default_budget`.
    budgets: dict[TenantName, TenantBudget] = Field(default_factory=dict)
    default_budget: TenantBudget = TenantBudget()
    # Model seconds reserved per request before the invocation, settled to the measured time after.
    reserve_model_seconds: dict[RouteName, float] = Field(default_factory=dict)
    default_reserve_model_seconds: float = Field(1.0, gt=0, le=3600)
    # Share of an instance's time the model is busy, for the request path's cost of model time
    # (the report measures the real share and attributes the bill by it).
    expected_utilization: float = Field(0.5, gt=0, le=1)
    # AWS Budgets: the stack's monthly cost (filtered by its tags) and the notification thresholds.
    stack_monthly_budget_usd: float = Field(5000, gt=0)
    # Each threshold is an ACTUAL and a FORECASTED notification; a budget has at most ten.
    stack_budget_thresholds_percent: tuple[Annotated[float, Field(gt=0, le=1000)], ...] = Field(
        (80.0, 100.0), min_length=1, max_length=5
    )
    alarms: CostAlarmConfig = CostAlarmConfig()

    def budget_for(self, tenant: str) -> TenantBudget:
        return self.budgets.get(tenant, self.default_budget)


DeploymentConfig.model_rebuild()  # `cost` refers to the models above, defined after it
