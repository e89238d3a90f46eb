"""Domain errors of the PII layer. Detection fails closed: callers reject the request (503)."""

from __future__ import annotations

from http import HTTPStatus

from sluice.errors import SluiceError


class PiiDetectionError(SluiceError):
    """Detection could not finish: the text must not go anywhere unredacted."""

    code = "PII_DETECTION_FAILED"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True

    def __init__(self, message: str, *, retry_after_seconds: int | None = 1) -> None:
        # A refusal is transient (a busy instance, a cold one): the client is told when to retry.
        super().__init__(message, retry_after_seconds=retry_after_seconds)


class PiiDetectionTimeout(PiiDetectionError):
    """Detection exceeded its time budget."""

    code = "PII_DETECTION_TIMEOUT"


class RevealNotPermitted(SluiceError):
    """A caller without the reveal permission asked for a pseudonym's original value."""

    code = "PII_REVEAL_FORBIDDEN"
    status = HTTPStatus.FORBIDDEN
