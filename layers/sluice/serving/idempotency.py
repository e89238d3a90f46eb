"""`Idempotency-Key` on POST: the same key and body return the first answer.

Powertools Idempotency does the bookkeeping (in-progress locks, expiry, payload hashes) in
its DynamoDB table; this module only names the key, the payload and our error codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from sluice.errors import IdempotencyInProgress, IdempotencyKeyReused

Answer = dict[str, Any]


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


class IdempotentSubmit:
    def __init__(self, store: BasePersistenceLayer, *, ttl_seconds: int) -> None:
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            # A reused key with a different body is the caller's bug: Powertools compares hashes.
            payload_validation_jmespath="request",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
            response_hook=_mark_replayed,
        )

        @idempotent_function(data_keyword_argument="command", persistence_store=store, config=self._config)
        def run(command: dict[str, Any], submit: Callable[[], Answer]) -> Answer:
            return submit()

        self._run = run

    def __call__(
        self, *, key: str, request: dict[str, Any], submit: Callable[[], Answer], lambda_context: Any
    ) -> Answer:
        if lambda_context is not None:
            self._config.register_lambda_context(lambda_context)
        try:
            answer: Answer = self._run(command={"key": key, "request": request}, submit=submit)
        except IdempotencyValidationError:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body"
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still in progress", retry_after_seconds=1
            ) from None
        return answer
