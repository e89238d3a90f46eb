"""The run-time route table: route name to queue, endpoint and variants, with the route's limits.

The table is data, not code: the stack writes it to an SSM parameter that the functions re-read
every few seconds, so operations shift weights, pin tenants and change fallbacks without a deploy.
It is validated again when read (`RouteTable.model_validate`), as strictly as at synth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sluice.config import RouteConfig
from sluice.errors import InvalidRequest, PayloadTooLarge, UnknownRoute
from sluice.guardrails.models import OutputPolicy


class VariantTarget(BaseModel):
    """A production variant as the router sees it: its name, weight and version label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weight: float = Field(1.0, ge=0)
    model_version: str = ""


class TenantWeights(BaseModel):
    """Variant weights for one tenant id (the API key id the functions see)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    weights: dict[str, float]


class RouteTarget(BaseModel):
    """A route as the functions see it: the deployed names plus the limits from `RouteConfig`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    queue_url: str
    endpoint_name: str
    variant: str
    # RouteConfig's defaults (a test holds them equal): the functions' ROUTES variable leaves out
    # what equals a default, and Lambda holds 4 KB of variables in all.
    max_input_bytes: int = 256 * 1024
    time_budget_ms: int = 10_000
    batch_size: int = 16
    max_receive_count: int = 3
    required_text_fields: tuple[str, ...] = ("text",)
    pii_allow: tuple[str, ...] = ()
    pii_operators: dict[str, str] = {}
    mode: Literal["realtime", "async"] = "realtime"
    wire_format: Literal["sluice", "hf-tgi"] = "sluice"
    accepts_batches: bool = True
    # Empty means one variant, `variant`, with all the traffic.
    variants: tuple[VariantTarget, ...] = ()
    tenant_overrides: tuple[TenantWeights, ...] = ()
    fallback: tuple[str, ...] = ()
    # Asynchronous endpoints: how long SageMaker may take on one queued inference.
    invocation_timeout_seconds: int | None = None
    # The output guardrails (sluice.guardrails); None (a table written before them): the defaults.
    output: OutputPolicy | None = None

    @property
    def output_policy(self) -> OutputPolicy:
        return self.output or OutputPolicy.default_for(self.wire_format)

    @property
    def production_variants(self) -> tuple[VariantTarget, ...]:
        return self.variants or (VariantTarget(name=self.variant),)

    def variant_named(self, name: str) -> VariantTarget | None:
        return next((v for v in self.production_variants if v.name == name), None)

    def weights_for(self, tenant: str) -> dict[str, float]:
        override = next((o for o in self.tenant_overrides if o.tenant == tenant), None)
        if override is not None:
            return dict(override.weights)
        return {variant.name: variant.weight for variant in self.production_variants}

    @property
    def model_batch_size(self) -> int:
        """Jobs per model call: the route's batch size when the model takes batches, else one."""
        return self.batch_size if self.accepts_batches else 1

    @classmethod
    def from_config(
        cls,
        route: RouteConfig,
        *,
        queue_url: str,
        endpoint_name: str,
        tenant_ids: Mapping[str, str] | None = None,
    ) -> RouteTarget:
        """`tenant_ids` maps tenant names (cdk.json) to the ids the functions see (API key ids)."""
        ids = tenant_ids or {}
        endpoint = route.endpoint
        return cls(
            name=route.name,
            queue_url=queue_url,
            endpoint_name=endpoint_name,
            max_input_bytes=route.max_input_bytes,
            time_budget_ms=route.time_budget_ms,
            batch_size=route.batch_size,
            max_receive_count=route.max_receive_count,
            required_text_fields=route.required_text_fields,
            pii_allow=route.pii_allow,
            pii_operators=dict(route.pii_operators),
            mode=endpoint.mode,
            wire_format=endpoint.wire_format,
            accepts_batches=endpoint.accepts_batches,
            variant=endpoint.production_variants[0].name,
            variants=tuple(
                VariantTarget(name=v.name, weight=v.weight, model_version=v.model_version)
                for v in endpoint.production_variants
            ),
            tenant_overrides=tuple(
                TenantWeights(tenant=ids.get(o.tenant, o.tenant), weights=dict(o.weights))
                for o in route.tenant_overrides
            ),
            fallback=route.fallback,
            invocation_timeout_seconds=(
                endpoint.async_inference.invocation_timeout_seconds if endpoint.mode == "async" else None
            ),
            # None when the defaults (a classifier, or generation for hf-tgi) follow from the wire
            # format, so the table, in every function's 4 KB environment, stays small; a brought
            # model's route carries its policy (sluice.guardrails.models.OutputPolicy.default_for).
            output=(
                route.output
                if route.output is not None
                or route.output_policy == OutputPolicy.default_for(endpoint.wire_format)
                else route.output_policy
            ),
        )


class RouteTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, RouteTarget]

    @model_validator(mode="after")
    def _fallbacks_exist(self) -> RouteTable:
        for route in self.routes.values():
            missing = set(route.fallback) - set(self.routes)
            if missing:
                raise ValueError(f"route {route.name} falls back to unknown routes {sorted(missing)}")
        return self

    def current(self) -> RouteTable:
        """A table is its own source: services accept either a table or a live `RouteSource`."""
        return self

    def resolve(self, name: str) -> RouteTarget:
        try:
            return self.routes[name]
        except KeyError:
            # The caller's value is not echoed: messages name fields, never values.
            raise UnknownRoute(f"No such route. Known routes: {sorted(self.routes)}") from None


class RouteSource(Protocol):
    """Where services get the route table from: a fixed table, or the live one in SSM."""

    def current(self) -> RouteTable: ...


class Served(BaseModel):
    """Where a request was served: every response and job record says so."""

    route: str
    endpoint: str
    variant: str
    model_version: str | None = None


def check_input(route: RouteTarget, value: dict[str, Any]) -> None:
    """Enforce the route's limits before any work is done. Messages name fields, never values."""
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > route.max_input_bytes:
        raise PayloadTooLarge(
            f"input is {size} bytes; route '{route.name}' accepts at most {route.max_input_bytes}"
        )
    for field in route.required_text_fields:
        text = value.get(field)
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest(f"input.{field} must be a non-empty string for route '{route.name}'")
