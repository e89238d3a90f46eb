"""In-memory fakes for the ports that have no moto equivalent worth using."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sluice.pii.ports import RedactedInput
from sluice.routing.ports import Invocation


class FakeIntentEndpoint:
    """A model endpoint honouring the platform's wire contract, with scripted failures.

    `failures` is consulted before each call; returning an exception raises it instead.
    `endpoint_failures(endpoint, variant)` does the same per endpoint (a dead or sick endpoint).
    Payloads in the Hugging Face LLM shape (`{"inputs": ...}`) get a generation back.
    """

    def __init__(self, failures: Callable[[list[dict[str, Any]]], Exception | None] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.targets: list[tuple[str, str | None]] = []  # (endpoint, TargetVariant) per call
        self.invocations_per_text: Counter[str] = Counter()
        self.time_budgets: list[float | None] = []
        self._failures = failures
        self.endpoint_failures: Callable[[str, str | None], Exception | None] | None = None
        # Scripted answers (output guardrails tests): a classifier's output per instance, a
        # generation's text per prompt; None keeps the defaults below.
        self.answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.generate: Callable[[str], str] | None = None
        self._lock = threading.Lock()

    def invoke(
        self,
        endpoint_name: str,
        payload: dict[str, Any],
        *,
        target_variant: str | None = None,
        time_budget_s: float | None = None,
    ) -> Invocation:
        instances = payload.get("instances", [payload])
        with self._lock:
            self.time_budgets.append(time_budget_s)
            self.calls.append(instances)
            self.targets.append((endpoint_name, target_variant))
            self.invocations_per_text.update(item.get("text", "") for item in instances)
        failure = self.endpoint_failures(endpoint_name, target_variant) if self.endpoint_failures else None
        failure = failure or (self._failures(instances) if self._failures else None)
        if failure is not None:
            raise failure
        if "inputs" in payload:
            text = (
                self.generate(str(payload["inputs"]))
                if self.generate is not None
                else f"stand-in reply to {len(str(payload['inputs']))} characters"
            )
            generated = [{"generated_text": text}]
            return Invocation(body=generated, variant=target_variant or "AllTraffic")  # type: ignore[arg-type]
        # `echo` plays a generative model that repeats its input: it shows what the model saw.
        predictions = [
            self.answer(item)
            if self.answer is not None
            else {"intents": [{"label": "card_arrival", "score": 0.9}], "echo": item.get("text", "")}
            for item in instances
        ]
        return Invocation(
            body={"predictions": predictions, "model_version": "fake-1"},
            variant=target_variant or "AllTraffic",
        )


class CountingRedactor:
    """Replaces nothing; counts calls. For tests about routing, not about PII."""

    def __init__(self) -> None:
        self.calls = 0

    def redact(
        self,
        value: dict[str, Any],
        *,
        tenant: str,
        allow: tuple[str, ...],
        operators: Mapping[str, str] | None = None,
        max_input_bytes: int | None = None,
    ) -> RedactedInput:
        self.calls += 1
        return RedactedInput(input=value, counts={})

    def reveal(self, value: dict[str, Any], *, tenant: str, can_reveal: bool) -> dict[str, Any]:
        return value


class FakeClock:
    """A clock tests move by hand; `sleep` advances it, so retry back-off costs no wall time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeAsyncEndpoint:
    """InvokeEndpointAsync as SageMaker does it, on moto: queued, then run when the test says so.

    `run_queued()` reads each input from S3, answers it with the sync fake (or fails it), writes
    the output to S3 and publishes the notification to the success or error topic.
    """

    def __init__(self, model: FakeIntentEndpoint, *, s3: Any, sns: Any, resources: Any) -> None:
        self._model = model
        self._s3 = s3
        self._sns = sns
        self._resources = resources
        self.queued: list[tuple[str, str, str]] = []
        self.timeouts: list[int | None] = []
        # When each queued inference was accepted, and how long each one runs (its notification's
        # eventTime minus receivedTime).
        self.received: dict[str, datetime] = {}
        self.model_seconds = 2.0
        self.failure: Callable[[str], Exception | None] | None = None

    def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str,
        inference_id: str,
        invocation_timeout_seconds: int | None = None,
    ) -> str:
        failure = self.failure(endpoint_name) if self.failure else None
        if failure is not None:
            raise failure
        self.queued.append((endpoint_name, input_location, inference_id))
        self.received[inference_id] = datetime.now(UTC)
        self.timeouts.append(invocation_timeout_seconds)
        return f"s3://{self._resources.async_bucket}/async-output/{inference_id}.out"

    def run_queued(self, *, fail: bool = False, lose_notifications: bool = False) -> int:
        """Run every queued inference; `lose_notifications` writes the outputs but publishes nothing."""
        import json

        ran, self.queued = self.queued, []
        for endpoint_name, input_location, inference_id in ran:
            bucket, key = input_location[5:].split("/", 1)
            payload = json.loads(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            received = self.received.pop(inference_id, datetime.now(UTC))
            notification: dict[str, Any] = {
                "eventSource": "aws:sagemaker",
                "eventName": "InferenceResult",
                "inferenceId": inference_id,
                # SageMaker's timestamps; the span is what the platform meters as model time.
                "receivedTime": received.isoformat(),
                "eventTime": (received + timedelta(seconds=self.model_seconds)).isoformat(),
                "requestParameters": {"endpointName": endpoint_name, "inputLocation": input_location},
            }
            if fail:
                notification |= {"invocationStatus": "Failed", "failureReason": "ClientError: model crashed"}
                topic = self._resources.async_error_topic_arn
            else:
                body = self._model.invoke(endpoint_name, payload).body
                output_key = f"async-output/{inference_id}.out"
                self._s3.put_object(
                    Bucket=self._resources.async_bucket, Key=output_key, Body=json.dumps(body)
                )
                notification |= {
                    "invocationStatus": "Completed",
                    "responseParameters": {
                        "contentType": "application/json",
                        "outputLocation": f"s3://{self._resources.async_bucket}/{output_key}",
                    },
                }
                topic = self._resources.async_success_topic_arn
            if not lose_notifications:
                self._sns.publish(TopicArn=topic, Message=json.dumps(notification))
        return len(ran)
