"""In-memory fakes for the ports that have no moto equivalent worth using."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from sluice.ports import Invocation, RedactedInput


class FakeIntentEndpoint:
    """A model endpoint honouring the platform's wire contract, with scripted failures.

    `failures` is consulted before each call; returning an exception raises it instead.
    """

    def __init__(self, failures: Callable[[list[dict[str, Any]]], Exception | None] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.invocations_per_text: Counter[str] = Counter()
        self._failures = failures
        self._lock = threading.Lock()

    def invoke(
        self, endpoint_name: str, payload: dict[str, Any], *, target_variant: str | None = None
    ) -> Invocation:
        instances = payload["instances"]
        with self._lock:
            self.calls.append(instances)
            self.invocations_per_text.update(item.get("text", "") for item in instances)
        failure = self._failures(instances) if self._failures else None
        if failure is not None:
            raise failure
        # `echo` plays a generative model that repeats its input: it shows what the model saw.
        predictions = [
            {"intents": [{"label": "card_arrival", "score": 0.9}], "echo": item.get("text", "")}
            for item in instances
        ]
        return Invocation(body={"predictions": predictions, "model_version": "fake-1"}, variant="AllTraffic")


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
    ) -> RedactedInput:
        self.calls += 1
        return RedactedInput(input=value, counts={})

    def reveal(self, value: dict[str, Any], *, tenant: str, can_reveal: bool) -> dict[str, Any]:
        return value
