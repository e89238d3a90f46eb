"""A retry that arrives while the first request with its Idempotency-Key is still being served.

Two API instances on one moto backend play two concurrent Lambdas: the retry reaches the second
while the first is inside the model call (the fake endpoint's hook), so nothing waits or sleeps.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sluice_local.runtime import LocalContext
from tests.functional.conftest import Platform
from tests.sample_events import api_event

SYNC = {"route": "intent", "input": {"text": "Why was I charged twice?"}, "mode": "sync"}
KEY = "order-7f3a-in-flight"
API_TIMEOUT_SECONDS = 29


def _call(app: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = app.resolve(event, LocalContext(function_name="api", timeout_seconds=API_TIMEOUT_SECONDS))
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    return response["statusCode"], json.loads(response["body"] or "null"), headers


def test_a_retry_during_the_first_request_is_told_to_come_back_then_replays(platform: Platform) -> None:
    # Given a sync request under an Idempotency-Key, and a second API instance that receives the
    # client's retry while the first is still waiting on the model
    event = api_event("post_inference_sync", body=SYNC, headers={"Idempotency-Key": KEY})
    second_api, *_ = platform.wire()
    during: list[tuple[int, dict[str, Any], dict[str, str]]] = []

    def retry_while_serving(endpoint: str, variant: str | None) -> None:
        during.append(_call(second_api, event))

    platform.endpoint.endpoint_failures = retry_while_serving

    # When the first request completes, and the client retries once more afterwards
    first_status, first, _ = platform.call(event)
    platform.endpoint.endpoint_failures = None
    after_status, after, after_headers = _call(second_api, event)

    # Then the retry in flight was a 409 with a short Retry-After (not a second model call), the
    # first was answered, and the later retry replays that answer
    [(during_status, during_body, during_headers)] = during
    assert (during_status, during_body["error"]["code"]) == (409, "IDEMPOTENCY_IN_PROGRESS")
    assert during_headers["retry-after"] == "1"
    assert first_status == after_status == 200
    assert after["id"] == first["id"]
    assert after_headers["idempotent-replayed"] == "true"
    assert len(platform.endpoint.calls) == 1


def test_a_key_in_progress_is_held_no_longer_than_its_lambda_can_run(platform: Platform) -> None:
    # Given a request under an Idempotency-Key, observed while it is being served
    event = api_event("post_inference_sync", body=SYNC, headers={"Idempotency-Key": KEY})
    seen: list[dict[str, Any]] = []

    def look_at_the_lock(endpoint: str, variant: str | None) -> None:
        seen.extend(platform.dynamodb.scan(TableName=platform.resources.idempotency_table)["Items"])

    platform.endpoint.endpoint_failures = look_at_the_lock

    # When it is served
    before_ms = time.time() * 1000
    status, _, _ = platform.call(event)

    # Then its in-progress record expires with the invocation (so a retry after a crashed or
    # timed-out Lambda is served), not after the whole idempotency TTL
    assert status == 200
    [record] = seen
    assert record["status"] == {"S": "INPROGRESS"}
    expires_in_ms = float(record["in_progress_expiration"]["N"]) - before_ms
    assert 0 < expires_in_ms <= API_TIMEOUT_SECONDS * 1000
