"""Log redaction keeps the platform's own fields and gives up, closed, on a value it cannot finish.

Survivors of `make mutation` (issue 19): redacting the structural fields too, and dropping the
log line's own time budget, passed every test.
"""

from __future__ import annotations

import json
import logging
import re

from sluice import pii
from sluice.pii.logging import REDACTION_FAILED, PiiRedactingFormatter, redact_value

LINE = (
    "Hi, this is Priyanka Oyelaran from Leeds, I lost my card yesterday near the station. "
    "Call me on +44 20 7946 0958 or write to priyanka.o@example.com, thanks! "
)


def test_the_platforms_own_fields_are_logged_as_written() -> None:
    # Given a log record (its timestamp alone would be taken for a DATE_TIME)
    formatter = PiiRedactingFormatter(service="sluice-api")
    record = logging.LogRecord("t", logging.INFO, "handler.py", 7, "mail from john@example.com", None, None)

    # When it is formatted
    line = json.loads(formatter.format(record))

    # Then the message is redacted, and the structural fields are kept whole
    assert line["message"] == "mail from <EMAIL_ADDRESS>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}", line["timestamp"])
    assert (line["level"], line["service"]) == ("INFO", "sluice-api")


def test_a_log_value_too_long_for_the_log_budget_is_replaced_not_logged() -> None:
    # Given a value that takes several times the 50 ms log budget to scan (15 KB of chat text)
    pii.warm()
    value = (LINE * 100)[: 15 * 1024]

    # When it is redacted for a log line
    logged = redact_value(value)

    # Then the line carries the failure marker, never the value, and logging was not held up
    assert logged == REDACTION_FAILED
