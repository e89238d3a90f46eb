"""SageMaker Runtime InvokeEndpoint, with its failures mapped to domain errors.

botocore retries throttling and 5xx itself (standard mode); it does not retry 424, 429
(ModelNotReady) or 530, so those surface here and are classified as retryable by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from sluice.errors import (
    EndpointNotFound,
    EndpointTimeout,
    EndpointUnavailable,
    ModelFailed,
    ModelRejectedInput,
)
from sluice.routing.ports import Invocation

_UNAVAILABLE = {
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalDependencyException",
    "ModelNotReadyException",
}


class SageMakerEndpoint:
    """`client_for(time_budget_s)` gives a sagemaker-runtime client whose read timeout is that budget
    (botocore sets timeouts per client, not per call); async calls use the shortest-lived one."""

    def __init__(self, client_for: Callable[[float], Any], *, async_call_timeout_s: float = 10.0) -> None:
        self._client_for = client_for
        self._async_call_timeout_s = async_call_timeout_s

    def invoke(
        self,
        endpoint_name: str,
        payload: dict[str, Any],
        *,
        target_variant: str | None = None,
        time_budget_s: float | None = None,
    ) -> Invocation:
        request: dict[str, Any] = {
            "EndpointName": endpoint_name,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(payload, separators=(",", ":")).encode(),
        }
        if target_variant:
            request["TargetVariant"] = target_variant
        try:
            client = self._client_for(time_budget_s or self._async_call_timeout_s)
            response = client.invoke_endpoint(**request)
        except ReadTimeoutError:
            raise EndpointTimeout(f"Endpoint {endpoint_name} did not answer in time") from None
        except ConnectionError:
            raise EndpointUnavailable(f"Endpoint {endpoint_name} is unreachable") from None
        except ClientError as error:
            raise _classify(endpoint_name, error) from None
        body = json.loads(response["Body"].read())
        return Invocation(body=body, variant=response.get("InvokedProductionVariant") or target_variant or "")

    def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str,
        inference_id: str,
        invocation_timeout_seconds: int | None = None,
    ) -> str:
        request: dict[str, Any] = {
            "EndpointName": endpoint_name,
            "InputLocation": input_location,
            "InferenceId": inference_id,
            "ContentType": "application/json",
            "Accept": "application/json",
        }
        if invocation_timeout_seconds is not None:
            request["InvocationTimeoutSeconds"] = invocation_timeout_seconds
        try:
            # Accepting an async request is quick whatever the inference takes.
            response = self._client_for(self._async_call_timeout_s).invoke_endpoint_async(**request)
        except ReadTimeoutError:
            raise EndpointTimeout(f"Endpoint {endpoint_name} did not accept the request in time") from None
        except ConnectionError:
            raise EndpointUnavailable(f"Endpoint {endpoint_name} is unreachable") from None
        except ClientError as error:
            raise _classify(endpoint_name, error) from None
        return str(response["OutputLocation"])


def _classify(endpoint_name: str, error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code == "ModelError":
        original = int(error.response.get("OriginalStatusCode", 0) or 0)
        if 400 <= original < 500:
            return ModelRejectedInput(f"The model rejected the input (status {original})")
        return ModelFailed(f"The model on {endpoint_name} failed (status {original or 'unknown'})")
    if code == "ValidationError" and "not found" in str(error).lower():
        return EndpointNotFound(f"Endpoint {endpoint_name} does not exist")
    if code in _UNAVAILABLE or status in (429, 530) or status >= 500:
        return EndpointUnavailable(f"Endpoint {endpoint_name} is unavailable ({code or status})")
    return ModelFailed(f"Invoking {endpoint_name} failed ({code or status})")
