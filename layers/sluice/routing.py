"""The run-time route table: route name to queue and endpoint, with the route's limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sluice.config import RouteConfig
from sluice.errors import UnknownRoute


class RouteTarget(BaseModel):
    """A route as the functions see it: the deployed names plus the limits from `RouteConfig`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    queue_url: str
    endpoint_name: str
    variant: str
    max_input_bytes: int
    time_budget_ms: int
    batch_size: int
    max_receive_count: int
    required_text_fields: tuple[str, ...]
    pii_allow: tuple[str, ...] = ()
    pii_operators: dict[str, str] = {}

    @classmethod
    def from_config(cls, route: RouteConfig, *, queue_url: str, endpoint_name: str) -> RouteTarget:
        return cls(
            name=route.name,
            queue_url=queue_url,
            endpoint_name=endpoint_name,
            variant=route.endpoint.variant_name,
            max_input_bytes=route.max_input_bytes,
            time_budget_ms=route.time_budget_ms,
            batch_size=route.batch_size,
            max_receive_count=route.max_receive_count,
            required_text_fields=route.required_text_fields,
            pii_allow=route.pii_allow,
            pii_operators=dict(route.pii_operators),
        )


class RouteTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, RouteTarget]

    def resolve(self, name: str) -> RouteTarget:
        try:
            return self.routes[name]
        except KeyError:
            raise UnknownRoute(f"Unknown route '{name}'. Known routes: {sorted(self.routes)}") from None
