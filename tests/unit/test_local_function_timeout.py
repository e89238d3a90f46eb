"""The local runtime stops an invocation at its function's timeout, as Lambda does
(sluice_local.runtime.call_with_timeout; a Lambda function "runs until its timeout, then stops":
https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from starlette.testclient import TestClient

from sluice_local.front import build_front
from sluice_local.runtime import InvocationTimedOut, call_with_timeout


def test_an_invocation_past_its_timeout_is_stopped_even_if_the_function_catches_everything() -> None:
    # Given a function that never ends and swallows every Exception it meets
    reached: list[str] = []

    def runs_forever() -> dict[str, Any]:
        try:
            while True:
                pass
        except Exception:
            reached.append("caught")
            return {"statusCode": 200}
        finally:
            reached.append("stopped")

    # When it is invoked with a 50 ms timeout, then the caller learns it timed out
    with pytest.raises(InvocationTimedOut):
        call_with_timeout(runs_forever, seconds=0.05)
    # and the function could not carry on as if nothing happened
    assert reached == ["stopped"]


def test_an_invocation_that_ends_in_time_answers_and_leaves_no_stop_behind() -> None:
    # Given many invocations that end well within their timeout
    answers = [call_with_timeout(lambda n=n: {"n": n}, seconds=5) for n in range(200)]

    # Then each answers, and nothing lands in the caller's thread afterwards
    assert [answer["n"] for answer in answers] == list(range(200))
    total = sum(range(100_000))  # Python steps in which a stray stop would have been raised
    assert total == 4_999_950_000


def test_only_the_invoking_thread_is_stopped() -> None:
    # Given a thread of the caller's that is busy while an invocation times out
    done = threading.Event()
    beside = threading.Thread(target=lambda: (sum(range(2_000_000)), done.set()))
    beside.start()

    def runs_forever() -> dict[str, Any]:
        while True:
            pass

    with pytest.raises(InvocationTimedOut):
        call_with_timeout(runs_forever, seconds=0.05)
    beside.join()

    # Then the other thread ran to its end
    assert done.is_set()


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
