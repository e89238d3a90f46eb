"""The answers a route's output policy withholds: one stable code per check, all 502.

Why 502 Bad Gateway: the caller's request was valid (a 4xx would tell it to change something it
cannot change), and the platform did not fail (500) or run out of time or capacity (503, 504): the
model, the platform's upstream, answered something the platform will not pass on. RFC 9110 15.6.3:
"received an invalid response from an inbound server". Not retryable as such: the same input will
usually get the same answer, so no Retry-After is sent.
"""

from __future__ import annotations

from http import HTTPStatus

from sluice.errors import SluiceError
from sluice.guardrails.models import CheckName


class OutputBlocked(SluiceError):
    status = HTTPStatus.BAD_GATEWAY
    check: CheckName = CheckName.SCHEMA


class OutputSchemaViolation(OutputBlocked):
    code = "OUTPUT_SCHEMA_VIOLATION"
    check = CheckName.SCHEMA


class OutputContainsPii(OutputBlocked):
    code = "OUTPUT_PII_BLOCKED"
    check = CheckName.PII


class OutputModerated(OutputBlocked):
    code = "OUTPUT_MODERATION_BLOCKED"
    check = CheckName.MODERATION


class OutputLowConfidence(OutputBlocked):
    code = "OUTPUT_LOW_CONFIDENCE"
    check = CheckName.CONFIDENCE


BLOCKED_BY: dict[CheckName, type[OutputBlocked]] = {
    CheckName.SCHEMA: OutputSchemaViolation,
    CheckName.PII: OutputContainsPii,
    CheckName.MODERATION: OutputModerated,
    CheckName.CONFIDENCE: OutputLowConfidence,
}
_MESSAGES = {
    CheckName.SCHEMA: "The model's answer does not match the route's output schema; it was withheld",
    CheckName.PII: "The model's answer contained personal data; it was withheld",
    CheckName.MODERATION: "The model's answer tripped the route's moderation check; it was withheld",
    CheckName.CONFIDENCE: "The model's answer was below the route's confidence threshold; it was withheld",
}


def blocked(check: CheckName) -> OutputBlocked:
    return BLOCKED_BY[check](_MESSAGES[check])


class ReviewNotQueued(SluiceError):
    """The review queue refused an item: the caller decides whether its output may stand."""

    code = "REVIEW_QUEUE_UNAVAILABLE"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True
