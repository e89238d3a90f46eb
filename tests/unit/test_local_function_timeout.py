"""The local runtime stops an invocation past its function's timeout, as Lambda does, at its next
AWS call (sluice_local.runtime; a Lambda function runs until its timeout, then stops:
https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html)."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3
import pytest
from botocore.config import Config
from starlette.testclient import TestClient

from sluice_local.front import build_front
from sluice_local.runtime import InvocationTimedOut, call_with_timeout, install_deadlines

# Never reached: the unit suite refuses sockets, so every call fails at the HTTP layer at once.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    install_deadlines()  # before the client is made, as the platform does before loading handlers
    return boto3.client("sqs", endpoint_url=NOWHERE, config=Config(retries={"total_max_attempts": 1}))


def test_a_function_past_its_timeout_is_stopped_at_its_next_aws_call_whatever_it_catches(sqs: Any) -> None:
    # Given a function that calls AWS forever and swallows every Exception it meets
    calls: list[str] = []

    def retries_forever() -> dict[str, Any]:
        try:
            while True:
                try:
                    sqs.list_queues()
                except Exception:
                    calls.append("failed")
        except Exception:
            calls.append("caught the stop")
            return {"statusCode": 200}

    # When it is invoked with a 50 ms timeout, then the caller learns it timed out
    with pytest.raises(InvocationTimedOut):
        call_with_timeout(retries_forever, seconds=0.05)
    # and the function could not carry on as if nothing had happened
    assert calls
    assert "caught the stop" not in calls


def test_calls_in_time_and_after_an_invocation_are_not_stopped(sqs: Any) -> None:
    # Given an invocation that answered in time, and one that was stopped
    assert call_with_timeout(lambda: {"answer": 1}, seconds=5) == {"answer": 1}

    def loops() -> dict[str, Any]:
        while True:
            with contextlib.suppress(Exception):
                sqs.list_queues()

    with pytest.raises(InvocationTimedOut):
        call_with_timeout(loops, seconds=0.01)

    # Then the same thread's AWS calls outside an invocation reach the HTTP layer (which the unit
    # suite refuses), not a stop (a BaseException, which pytest.raises(Exception) would not take)
    with pytest.raises(Exception, match="network"):
        sqs.list_queues()


class _TimedOutApi:
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        raise InvocationTimedOut("stopped after its 29 s timeout")


class _FailingApi:
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("a bug")


@pytest.mark.parametrize(("api", "status"), [(_TimedOutApi(), 504), (_FailingApi(), 502)])
def test_the_local_gateway_answers_a_stopped_or_failed_function_as_api_gateway_does(
    api: Any, status: int
) -> None:
    # Given the local gateway in front of an api function that times out or fails
    client = TestClient(build_front(api, api_keys={}, stage="local"))

    # When a client calls it, then it gets the stack's DEFAULT_5XX envelope, not a bare 500
    response = client.get("/v1/health")
    assert response.status_code == status
    assert response.json() == {
        "error": {"code": "INTERNAL_ERROR", "message": "The service failed; retry later"}
    }
