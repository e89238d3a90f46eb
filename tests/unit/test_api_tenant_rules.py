"""The API's tenant and idempotency rules, one function at a time (sluice.serving.api).

The functional tests drive them through a whole platform; these pin the rules themselves, fast,
so that `make mutation` tells at once when one breaks (docs/mutation.md).
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from sluice.cost.models import Limit
from sluice.errors import InvalidRequest
from sluice.observability.audit import AuditKind
from sluice.observability.correlation import correlated
from sluice.serving.api import (
    BUDGET_WARNING_HEADER,
    answer_headers,
    caller_of,
    checked_caller_key,
    refusal_entry,
    submitted,
    tenant_idempotency_key,
)
from sluice.serving.models import AcceptedJob, InferenceRequest
from sluice.serving.service import Caller
from tests.sample_events import api_event

JOB_ID = "a" * 32


def _app(tenant: str | None, method: str = "POST") -> APIGatewayRestResolver:
    event = api_event("post_inference_sync", tenant=tenant)
    if tenant is None:
        event["requestContext"]["identity"]["apiKeyId"] = None
    event["httpMethod"] = method
    app = APIGatewayRestResolver()
    app.current_event = APIGatewayProxyEvent(event)
    return app


def test_the_caller_is_the_api_keys_tenant_with_the_requests_correlation_id() -> None:
    # Given a request API Gateway authenticated with tenant-acme's key
    with correlated("corr-1"):
        # When the API names its caller
        who = caller_of(_app("tenant-acme"), "caller-7")

    # Then the tenant is the key's id, never anything the body or headers could choose
    assert who == Caller(tenant="tenant-acme", correlation_id="corr-1", caller_key="caller-7")
    assert caller_of(_app("tenant-acme")).caller_key is None


def test_a_request_without_an_api_key_is_the_anonymous_tenant() -> None:
    assert caller_of(_app(None)).tenant == "anonymous"
    refused = refusal_entry(_app(None), "NOT_FOUND", 404)
    assert (refused.tenant, refused.actor) == ("anonymous", "anonymous")


@pytest.mark.parametrize("key", ["k", "a" * 128, "A-z_0.9:x"])
def test_a_well_formed_caller_key_is_kept(key: str) -> None:
    assert checked_caller_key(key) == key


def test_no_caller_key_is_no_caller_key() -> None:
    assert checked_caller_key(None) is None


@pytest.mark.parametrize("key", ["", "a" * 129, "has space", "semi;colon", "é"])
def test_a_malformed_caller_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        checked_caller_key(key)
    assert refused.value.code == "INVALID_REQUEST"
    assert key not in refused.value.message or not key  # the message names the header, not the value


def test_an_idempotency_key_is_stored_under_its_tenant() -> None:
    acme, globex = Caller(tenant="tenant-acme"), Caller(tenant="tenant-globex")

    # The stored form is part of the idempotency table's contract: a request retried across a
    # deploy that changed it would not find its first answer and would run twice.
    assert tenant_idempotency_key(acme, "order-1") == "tenant-acme#order-1"
    assert tenant_idempotency_key(globex, "order-1") != tenant_idempotency_key(acme, "order-1")


@pytest.mark.parametrize("key", ["", "a" * 129, "has space", "slash/no"])
def test_a_malformed_idempotency_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        tenant_idempotency_key(Caller(tenant="tenant-acme"), key)
    assert refused.value.code == "INVALID_REQUEST"


def test_a_longest_idempotency_key_is_accepted() -> None:
    assert tenant_idempotency_key(Caller(tenant="t"), "k" * 128) == "t#" + "k" * 128


def _answer(status: int, **extra: Any) -> dict[str, Any]:
    return {"status": status, "body": {"id": JOB_ID}, **extra}


def test_a_queued_job_points_at_its_record_and_a_sync_answer_at_nothing() -> None:
    assert answer_headers(_answer(202)) == {"Location": f"/v1/inferences/{JOB_ID}"}
    assert answer_headers(_answer(200)) == {}


def test_a_replayed_answer_says_so_and_a_first_answer_does_not() -> None:
    assert answer_headers(_answer(200, replayed=True)) == {"Idempotent-Replayed": "true"}
    assert answer_headers(_answer(200, replayed=False)) == {}


def test_crossed_soft_limits_are_named_in_a_header() -> None:
    assert answer_headers(_answer(200, budget_warning="daily_requests")) == {
        BUDGET_WARNING_HEADER: "daily_requests"
    }
    assert answer_headers(_answer(200, budget_warning="")) == {}


def test_a_refusal_is_audited_with_its_tenant_operation_and_code_only() -> None:
    with correlated("corr-2"):
        entry = refusal_entry(_app("tenant-acme", method="POST"), "INPUT_TOO_LARGE", 413)

    assert entry.model_dump(exclude_defaults=True) == {
        "tenant": "tenant-acme",
        "kind": AuditKind.REQUEST,
        "action": "inference.refused",
        "actor": "tenant-acme",
        "outcome": "refused",
        "decision": "refused",
        "code": "INPUT_TOO_LARGE",
        "details": {"status": 413, "method": "POST"},
        "correlation_id": "corr-2",
    }


class _Service:
    """An InferenceService's submit, answering what the test says."""

    def __init__(self, result: Any, warnings: tuple[Limit, ...]) -> None:
        self.result, self.warnings = result, warnings

    def submit_within_budget(
        self, request: InferenceRequest, caller: Caller
    ) -> tuple[Any, tuple[Limit, ...]]:
        return self.result, self.warnings


def test_an_answer_keeps_its_status_its_body_as_json_and_every_soft_limit_it_crossed() -> None:
    request = InferenceRequest.model_validate({"route": "intent", "input": {"text": "hi"}, "mode": "async"})
    queued = AcceptedJob(id=JOB_ID, route="intent")
    service = _Service(queued, (Limit.MONTHLY_REQUESTS, Limit.BUDGET))

    answer = submitted(service, request, Caller(tenant="tenant-acme"))  # type: ignore[arg-type]

    # What the idempotency store keeps, and replays: the status, the body and the warnings
    assert answer == {
        "status": 202,
        "body": {"id": JOB_ID, "status": "queued", "route": "intent", "pii": {}},
        "budget_warning": "monthly_requests,budget",
    }
    assert "budget_warning" not in submitted(_Service(queued, ()), request, Caller(tenant="t"))  # type: ignore[arg-type]
