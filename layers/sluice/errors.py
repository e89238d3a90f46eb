"""Domain errors with stable codes. The API maps each to one HTTP status, in one place.

Messages never contain request content: they may reach logs, responses and events.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from math import ceil


class SluiceError(Exception):
    """Base error: `code` is a stable, documented identifier; `status` the HTTP status it maps to."""

    code = "INTERNAL_ERROR"
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    retryable = False
    # The endpoint (not the input) is at fault: another route may serve instead (the fallback
    # chain), and unless `opens_circuit` says otherwise it counts towards the endpoint's breaker.
    endpoint_fault = False
    opens_circuit: bool | None = None  # None: as `endpoint_fault`
    # The model container answered (with an error): the endpoint is up, so a half-open circuit
    # probing it may close.
    endpoint_answered = False

    @classmethod
    def counts_towards_breaker(cls) -> bool:
        return cls.endpoint_fault if cls.opens_circuit is None else cls.opens_circuit

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds


class InvalidRequest(SluiceError):
    code = "INVALID_REQUEST"
    status = HTTPStatus.BAD_REQUEST


class MalformedJson(SluiceError):
    code = "MALFORMED_JSON"
    status = HTTPStatus.BAD_REQUEST


class UnknownRoute(SluiceError):
    code = "UNKNOWN_ROUTE"
    status = HTTPStatus.BAD_REQUEST


class UnknownVariant(SluiceError):
    code = "UNKNOWN_VARIANT"
    status = HTTPStatus.BAD_REQUEST


class AsyncOnlyRoute(SluiceError):
    """The route is served by an asynchronous endpoint: it cannot answer within a request."""

    code = "ASYNC_ONLY_ROUTE"
    status = HTTPStatus.BAD_REQUEST


class PayloadTooLarge(SluiceError):
    code = "INPUT_TOO_LARGE"
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(SluiceError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class JobNotFound(SluiceError):
    code = "JOB_NOT_FOUND"
    status = HTTPStatus.NOT_FOUND


class IdempotencyKeyReused(SluiceError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class IdempotencyInProgress(SluiceError):
    code = "IDEMPOTENCY_IN_PROGRESS"
    status = HTTPStatus.CONFLICT
    retryable = True


class ModelRejectedInput(SluiceError):
    """The model container answered with a client error: the caller can fix the input."""

    code = "MODEL_REJECTED_INPUT"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    endpoint_answered = True


class ModelFailed(SluiceError):
    """The model container failed on a valid request."""

    code = "MODEL_ERROR"
    status = HTTPStatus.BAD_GATEWAY
    endpoint_fault = True
    # The container answered, so the endpoint is up; a model error is most often its input's.
    # Counted, one tenant's failing inputs would open the circuit for every tenant (the fault
    # suite showed 90% of healthy requests failing ENDPOINT_CIRCUIT_OPEN: tests/functional/faults.py).
    # An endpoint that is down answers 5xx from SageMaker itself: EndpointUnavailable, counted.
    opens_circuit = False
    endpoint_answered = True


class EndpointCallRefused(ModelFailed):
    """SageMaker refused the call itself (access denied, a malformed request): no model ran, so
    it counts towards the breaker. Same public code as a model error."""

    opens_circuit = True
    endpoint_answered = False


class EndpointUnavailable(SluiceError):
    """The endpoint is throttling, not ready, or failing; the same call may succeed later."""

    code = "ENDPOINT_UNAVAILABLE"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True
    endpoint_fault = True


class EndpointTimeout(SluiceError):
    code = "ENDPOINT_TIMEOUT"
    status = HTTPStatus.GATEWAY_TIMEOUT
    retryable = True
    endpoint_fault = True


class EndpointNotFound(SluiceError):
    """The route points at an endpoint that does not exist: a deployment fault, not the caller's."""

    code = "ENDPOINT_NOT_FOUND"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    endpoint_fault = True


class EndpointCircuitOpen(SluiceError):
    """Every endpoint that could serve the route has an open circuit: nothing was called."""

    code = "ENDPOINT_CIRCUIT_OPEN"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True


# S3 batch ingestion. A record error rejects one line of a file (the report names the line and
# the code); a file error rejects what is left of the file. Neither message quotes the content.


class InvalidUtf8(SluiceError):
    code = "INVALID_UTF8"
    status = HTTPStatus.BAD_REQUEST


class LineTooLong(SluiceError):
    code = "LINE_TOO_LONG"
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class InvalidRecordId(SluiceError):
    code = "INVALID_RECORD_ID"
    status = HTTPStatus.BAD_REQUEST


class FileRejected(SluiceError):
    """The file as a whole cannot be (further) ingested; `code` says why."""

    code = "FILE_REJECTED"
    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


FILE_NOT_UTF8 = "FILE_NOT_UTF8"
UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
WRONG_FORMAT = "WRONG_FORMAT"
EMPTY_FILE = "EMPTY_FILE"
NO_RECORDS = "NO_RECORDS"
CSV_MISSING_COLUMNS = "CSV_MISSING_COLUMNS"
GZIP_TRUNCATED = "GZIP_TRUNCATED"
GZIP_CORRUPT = "GZIP_CORRUPT"
DECOMPRESSION_BOMB = "DECOMPRESSION_BOMB"
FILE_TOO_LARGE = "FILE_TOO_LARGE"


# Cost governance (sluice.cost): a tenant's hard limit. 429 with the time the limit resets.


def _retry_after(resets_at: datetime, now: datetime) -> int:
    return max(1, ceil((resets_at - now).total_seconds()))


class BudgetExceeded(SluiceError):
    """The tenant's monthly money budget would be exceeded by this request."""

    code = "BUDGET_EXCEEDED"
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, message: str, *, resets_at: datetime, now: datetime) -> None:
        super().__init__(message, retry_after_seconds=_retry_after(resets_at, now))
        self.resets_at = resets_at


class QuotaExceeded(SluiceError):
    """The tenant's daily or monthly request quota is used up (the code API Gateway's usage-plan
    quota answers with too)."""

    code = "QUOTA_EXCEEDED"
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, message: str, *, resets_at: datetime, now: datetime) -> None:
        super().__init__(message, retry_after_seconds=_retry_after(resets_at, now))
        self.resets_at = resets_at


class RoutePaused(SluiceError):
    """A cost action stopped the route taking jobs (its spend alarm is in ALARM); retry later."""

    code = "ROUTE_PAUSED"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True
