"""A route waits on SageMaker for its own time budget, never for the largest route's."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sluice.config import RouteConfig
from sluice.routing.invoker import invoke_model
from sluice.routing.table import RouteTarget
from sluice.runtime import shared


class RecordingRuntime:
    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        body = {"predictions": [{"intents": [{"label": "card_arrival", "score": 0.9}]}]}
        return {"Body": io.BytesIO(json.dumps(body).encode()), "InvokedProductionVariant": "primary"}


def _route(name: str, time_budget_ms: int) -> RouteTarget:
    return RouteTarget.from_config(
        RouteConfig(name=name, time_budget_ms=time_budget_ms), queue_url="q", endpoint_name=f"sluice-{name}"
    )


def test_each_route_calls_its_endpoint_with_its_own_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the platform's SageMaker endpoint, with the clients it makes recorded
    made: list[dict[str, Any]] = []

    def fake_client(**options: Any) -> RecordingRuntime:
        made.append(options)
        return RecordingRuntime()

    monkeypatch.setattr(shared, "sagemaker_runtime_client", fake_client)
    endpoint = shared.sagemaker_endpoint()
    intent, slow = _route("intent", 10_000), _route("slow", 20_000)

    # When intent (10 s) is called twice and a 20 s route once
    for route in (intent, slow, intent):
        variant = route.production_variants[0]
        invoke_model(endpoint, route, variant, [{"text": "where is my card"}])

    # Then intent's calls wait at most 10 s, the other's 20 s, each on its own client, made once
    assert made == [
        {"time_budget_s": 10.0, "max_attempts": 1},
        {"time_budget_s": 20.0, "max_attempts": 1},
    ]
