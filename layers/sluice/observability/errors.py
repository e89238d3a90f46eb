"""Errors that escape a handler leave it without the data their messages may quote.

An exception that reaches the Lambda runtime is written three more times outside the platform
logger: by the runtime itself (its own "[ERROR] Type: message" line and traceback in CloudWatch
Logs), and by the X-Ray SDK (the subsegment's cause keeps `str(exception)`) and Powertools Tracer
(the exception object as metadata). None of them redacts, and a message can quote an input (a
pydantic ValidationError does: `input_value='...'`). So the innermost decorator of every handler
logs the original through the redacting logger, under the correlation id, and raises in its place
an error that names only the original's type. Lambda still sees a failed invocation: SQS retries,
async invocations reach their DLQ, and alarms on `Errors` fire as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sluice.observability import logger

Handler = TypeVar("Handler", bound=Callable[..., Any])


class UnhandledError(Exception):
    """Stands in for an error a handler did not handle; its message is the original's type only."""


def contain_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def contained(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            logger.exception("unhandled error", extra={"error_type": type(error).__name__})
            # `from None`: the runtime's traceback must not print the original as the context.
            raise UnhandledError(f"{type(error).__name__} (details in the function's log)") from None

    return contained  # type: ignore[return-value]
