"""Log redaction: every string a Powertools Logger writes goes through `sluice.pii.redaction`.

    from aws_lambda_powertools import Logger
    from sluice.pii.logging import PiiRedactingFormatter
    logger = Logger(logger_formatter=PiiRedactingFormatter())

Keys that Powertools itself fills (level, timestamp, location, trace and request ids) are left
alone: they hold no personal data, and redacting them would mangle timestamps into DATE_TIME.
If redaction fails, the value is replaced outright: a log line loses detail, never leaks.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from sluice.pii.errors import PiiDetectionError

# Keys written by Powertools and the platform's own identifiers, never user content.
STRUCTURAL_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "correlation_id",
        "exception_name",
    }
)
REDACTION_FAILED = "<REDACTION_FAILED>"
_LOG_BUDGET_MS = 50.0


def redact_value(value: Any) -> Any:
    """`value` with every string in it (recursively through dicts, lists, tuples) masked."""
    from sluice.pii.redaction import redact

    if isinstance(value, str):
        try:
            return redact(value, time_budget_ms=_LOG_BUDGET_MS).text
        except PiiDetectionError:
            return REDACTION_FAILED
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def redact_log(log: dict[str, Any]) -> dict[str, Any]:
    return {key: value if key in STRUCTURAL_KEYS else redact_value(value) for key, value in log.items()}


class PiiRedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with every non-structural string value redacted (mask)."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(log=redact_log(log))
