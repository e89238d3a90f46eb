"""Log redaction: every string a Powertools Logger writes goes through `sluice.pii.redaction`.

    from aws_lambda_powertools import Logger
    from sluice.pii.logging import PiiRedactingFormatter
    logger = Logger(logger_formatter=PiiRedactingFormatter())

Keys that Powertools itself fills (level, timestamp, location, trace and request ids) and the
platform's own identifiers and codes are left alone: they hold no personal data, and redacting
them mangles them (a timestamp becomes DATE_TIME, `IDEMPOTENCY_IN_PROGRESS` a LOCATION). A
traceback keeps its skeleton (the interpreter's own lines: "Traceback" reads as a name) and has
its source lines and message redacted; Powertools' `stack_trace` carries the exception object
itself, which is redacted as its text, like any value that is not a plain number.
If redaction fails, the value is replaced outright: a log line loses detail, never leaks.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from sluice.pii.errors import PiiDetectionError

# Keys Powertools itself writes: never user content.
POWERTOOLS_KEYS = frozenset(
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
# The platform's identifiers, names and stable codes (extra= keys of its log calls). Their values
# are kept only while they look like one (a single token, no "@", no space): free text logged
# under such a name one day is redacted like any other value.
IDENTIFIER_KEYS = frozenset(
    {
        "job_id",
        "inference_id",
        "message_id",
        "batch_id",
        "tenant",
        "route",
        "endpoint",
        "variant",
        "model_version",
        "queue",
        "status",
        "outcome",
        "claim",
        "kind",
        "trigger",
        "error_code",
        "error_type",
        "error_class",
        "detail_type",
        "audit_action",
    }
)
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:#/+=-]{1,200}")
# A formatted traceback's fixed lines; a frame's header keeps its shape with its path and function
# redacted (a message line can look like one); every other line is source or message.
_TRACEBACK_FIXED = re.compile(
    r"Traceback \(most recent call last\):"
    r"|During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:"
    r"|\s*[~^]*\s*"
)
_FRAME_HEADER = re.compile(r'(  File ")([^"\n]*)(", line \d+, in )(.+)')
# Powertools' stack_trace fields that name code, not data (from traceback.extract_tb, so real
# frames; its "value" and "statement" are redacted).
_STACK_TRACE_CODE_KEYS = frozenset({"type", "module", "file", "line", "function"})
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
        # A nested key can be data too ({address: count}); the log line's own keys are code's.
        return {_redact_key(key): redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else is serialized as its text (json's default=str), an exception's message
    # included, so that text is what gets redacted.
    return redact_value(str(value))


def _redact_key(key: Any) -> Any:
    """A nested dict's key, redacted like a value. JSON keys are strings, numbers, booleans or
    null; any other key (a date, a tuple) is logged as its redacted text, where json.dumps would
    refuse the whole line."""
    if key is None or isinstance(key, bool | int | float):
        return key
    return redact_value(str(key))  # a string's str() is itself


def redact_traceback(text: str) -> str:
    return "\n".join(_redact_traceback_line(line) for line in text.split("\n"))


def _redact_traceback_line(line: str) -> str:
    if _TRACEBACK_FIXED.fullmatch(line):
        return line
    if header := _FRAME_HEADER.fullmatch(line):
        opening, path, middle, function = header.groups()
        return f"{opening}{redact_value(path)}{middle}{redact_value(function)}"
    return str(redact_value(line))


def _redact_stack_trace(trace: Any) -> Any:
    if not isinstance(trace, dict):
        return redact_value(trace)
    return {
        key: (
            [_redact_stack_trace(frame) for frame in value]
            if key == "frames" and isinstance(value, list)
            else value
            if key in _STACK_TRACE_CODE_KEYS
            else redact_value(value)
        )
        for key, value in trace.items()
    }


def _redact_field(key: str, value: Any) -> Any:
    if key in POWERTOOLS_KEYS:
        return value
    if key in IDENTIFIER_KEYS and (
        value is None
        or isinstance(value, bool | int)
        or (isinstance(value, str) and _IDENTIFIER.fullmatch(value))
    ):
        return value
    if key == "exception" and isinstance(value, str):
        return redact_traceback(value)
    if key == "stack_trace":
        return _redact_stack_trace(value)
    return redact_value(value)


def redact_log(log: dict[str, Any]) -> dict[str, Any]:
    return {key: _redact_field(key, value) for key, value in log.items()}


class PiiRedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with every non-structural string value redacted (mask)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            return super().format(record)
        except Exception:
            # Anything failing here (a value whose __str__ raises, a message whose arguments do
            # not fit it) would make logging print the raw record and the error's context, the
            # exception being logged included, to stderr: a line that says only this, instead.
            return json.dumps({"level": record.levelname, "message": REDACTION_FAILED})

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(log=redact_log(log))
