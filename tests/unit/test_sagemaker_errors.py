"""InvokeEndpoint failures map to domain errors the API and worker can act on."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from sluice.adapters.sagemaker_runtime import SageMakerEndpoint
from sluice.errors import EndpointNotFound, EndpointUnavailable, ModelFailed, ModelRejectedInput, SluiceError


@pytest.fixture
def runtime() -> Any:
    return boto3.client("sagemaker-runtime", region_name="us-east-1")


def test_successful_invocation_returns_body_and_variant(runtime: Any) -> None:
    body = json.dumps({"predictions": [{"intents": []}], "model_version": "v1"}).encode()
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "InvokedProductionVariant": "blue"},
        )
        invocation = SageMakerEndpoint(lambda _budget: runtime).invoke("e", {"instances": [{"text": "x"}]})
    assert invocation.body["model_version"] == "v1"
    assert invocation.variant == "blue"


@pytest.mark.parametrize(
    ("code", "status", "fields", "expected", "retryable"),
    [
        ("ModelError", 424, {"OriginalStatusCode": 400}, ModelRejectedInput, False),
        ("ModelError", 424, {"OriginalStatusCode": 500}, ModelFailed, False),
        ("ThrottlingException", 400, {}, EndpointUnavailable, True),
        ("ModelNotReadyException", 429, {}, EndpointUnavailable, True),
        ("InternalDependencyException", 530, {}, EndpointUnavailable, True),
        ("ServiceUnavailable", 503, {}, EndpointUnavailable, True),
    ],
)
def test_errors_are_classified(
    runtime: Any, code: str, status: int, fields: dict[str, Any], expected: type[SluiceError], retryable: bool
) -> None:
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint", service_error_code=code, http_status_code=status, modeled_fields=fields
        )
        with pytest.raises(expected) as caught:
            SageMakerEndpoint(lambda _budget: runtime).invoke("e", {"instances": []})
    assert caught.value.retryable is retryable


def test_missing_endpoint_is_a_deployment_fault(runtime: Any) -> None:
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ValidationError",
            service_message="Endpoint sluice-intent of account 123456789012 not found.",
            http_status_code=400,
        )
        with pytest.raises(EndpointNotFound):
            SageMakerEndpoint(lambda _budget: runtime).invoke("sluice-intent", {"instances": []})


def test_async_invocation_passes_the_routes_invocation_timeout(runtime: Any) -> None:
    # Given a route whose async inferences may take 900 s
    expected = {
        "EndpointName": "chat",
        "InputLocation": "s3://b/in.json",
        "InferenceId": "i-1",
        "ContentType": "application/json",
        "Accept": "application/json",
        "InvocationTimeoutSeconds": 900,
    }
    with Stubber(runtime) as stub:
        stub.add_response("invoke_endpoint_async", {"OutputLocation": "s3://b/out"}, expected)
        # When the worker queues one, Then the request carries the timeout (the stub checks the params)
        location = SageMakerEndpoint(lambda _budget: runtime).invoke_async(
            "chat", input_location="s3://b/in.json", inference_id="i-1", invocation_timeout_seconds=900
        )
    assert location == "s3://b/out"
