"""On the local platform, a chat job (async endpoint, SNS notification, `async_result`) is metered
with the model time SageMaker's timestamps give and with its tokens."""

from __future__ import annotations

import pytest

from sluice.adapters.dynamodb_meter import DynamoUsageCounters
from sluice_local.outputs import local_session
from tests.e2e.conftest import RunningPlatform

pytestmark = pytest.mark.e2e


def test_a_chat_job_is_metered_with_its_tokens_where_it_finishes(running_platform: RunningPlatform) -> None:
    outputs = running_platform.outputs
    counters = DynamoUsageCounters(
        local_session(outputs).client("dynamodb", endpoint_url=outputs["DynamoDbEndpointUrl"]),
        outputs["CostTableName"],
    )

    def chat_requests() -> int:
        return sum(row["requests"] for row in counters.scan_prefix("meter#hour#") if row["route"] == "chat")

    before = chat_requests()
    # Given an accepted chat job
    prompt = "Please list the three largest card payments of last month"
    accepted = running_platform.post({"route": "chat", "input": {"inputs": prompt}, "mode": "async"})
    assert accepted.status_code == 202, accepted.text

    # When it has run on the async endpoint and its notification reached `async_result`
    event = running_platform.wait_for_completion(accepted.json()["id"])
    assert event["status"] == "succeeded", event

    # Then the chat route's counters hold one more request, with model time and tokens (estimated:
    # the stand-in reports no usage); settlement is tested on moto (test_cost_async_jobs.py)
    rows = [row for row in counters.scan_prefix("meter#hour#") if row["route"] == "chat"]
    assert chat_requests() == before + 1
    assert sum(row["model_ms"] for row in rows) >= 1
    assert sum(row["tokens_in"] for row in rows) >= -(-len(prompt.encode()) // 4)
    assert sum(row["tokens_out"] for row in rows) >= 1
    assert sum(row["tokens_estimated"] for row in rows) == chat_requests()
