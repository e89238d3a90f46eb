"""Log redaction keeps the platform's own fields and gives up, closed, on a value it cannot finish.

Survivors of `make mutation` (issue 19): redacting the structural fields too, and dropping the
log line's own time budget, passed every test.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from sluice import pii
from sluice.pii.logging import REDACTION_FAILED, PiiRedactingFormatter, redact_log, redact_value

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


def _logged_exception(error: BaseException, **extra: object) -> tuple[str, dict[str, object]]:
    formatter = PiiRedactingFormatter(service="sluice-worker")
    try:
        raise error
    except BaseException:
        record = logging.LogRecord("t", logging.ERROR, "handler.py", 7, "job failed", None, sys.exc_info())
    record.__dict__.update(extra)
    text = formatter.format(record)
    return text, json.loads(text)


def test_a_logged_exception_keeps_its_traceback_and_loses_the_personal_data_in_it() -> None:
    # Given an exception whose message carries an address, logged with logger.exception
    text, line = _logged_exception(ValueError("no account for priyanka.o@example.com"))

    # Then neither the formatted traceback nor Powertools' stack_trace (which holds the exception
    # object itself) carries the address
    assert "priyanka" not in text
    assert line["stack_trace"]["value"] == "no account for <EMAIL_ADDRESS>"  # type: ignore[index]
    # and the traceback's own lines are kept as the interpreter wrote them, not read as a name
    exception_lines = str(line["exception"]).split("\n")
    assert exception_lines[0] == "Traceback (most recent call last):"
    assert re.fullmatch(
        r'  File ".*test_log_redaction_rules.py", line \d+, in _logged_exception', exception_lines[1]
    )
    assert exception_lines[-1] == "ValueError: no account for <EMAIL_ADDRESS>"
    frame = line["stack_trace"]["frames"][0]  # type: ignore[index]
    assert (line["stack_trace"]["type"], frame["function"]) == ("ValueError", "_logged_exception")  # type: ignore[index]


def test_a_validation_error_logged_does_not_carry_the_input_it_refused() -> None:
    # Given pydantic's error for a bad field, whose text quotes the input value
    class Contact(BaseModel):
        phone: int

    try:
        Contact.model_validate({"phone": "call priyanka.o@example.com"})
    except ValidationError as error:
        refused = error

    # When it is logged, then the value appears nowhere on the line
    text, _ = _logged_exception(refused)
    assert "priyanka" not in text
    assert "<EMAIL_ADDRESS>" in text


def test_the_platforms_codes_and_identifiers_are_logged_as_written() -> None:
    # Given the platform's own extra keys, values the detector would otherwise take for data
    extra = {
        "error_code": "IDEMPOTENCY_IN_PROGRESS",
        "job_id": "7f0c2b1e-3a44-4d55-9e66-0123456789ab",
        "route": "intent",
        "endpoint": "sluice-local-intent",
        "detail_type": "InferenceCompleted",
        "tenant": "default",
    }

    # When logged, then each is written as it is; a free-text extra is still redacted
    _, line = _logged_exception(RuntimeError("boom"), **extra, why="mail john@example.com")
    assert {key: line[key] for key in extra} == extra
    assert line["why"] == "mail <EMAIL_ADDRESS>"


def test_chained_exceptions_and_their_notes_keep_the_traceback_and_lose_the_data() -> None:
    # Given an error raised while handling another, both quoting an input, with a note
    try:
        try:
            raise KeyError("john@example.com")
        except KeyError as first:
            second = ValueError("retry for +44 20 7946 0958 failed")
            second.add_note("caller priyanka.o@example.com")
            raise second from first
    except ValueError as error:
        chained = error

    # When it is logged
    text, line = _logged_exception(chained)

    # Then no value survives anywhere, and the interpreter's lines are as it wrote them
    assert not re.findall(r"john|7946|priyanka", text)
    assert "The above exception was the direct cause of the following exception:" in str(line["exception"])
    assert str(line["exception"]).count("Traceback (most recent call last):") == 2
    [note] = line["exception_notes"]  # type: ignore[misc]
    assert note.endswith("<EMAIL_ADDRESS>")


def test_a_message_line_shaped_like_a_frame_is_redacted_where_it_holds_data() -> None:
    # Given an exception whose message mimics a traceback frame around personal data
    text, line = _logged_exception(
        RuntimeError('bad input\n  File "priyanka.o@example.com", line 1, in john@example.com')
    )

    # Then the shape is kept and the data is not
    assert "priyanka" not in text
    assert "john" not in text
    assert '  File "<EMAIL_ADDRESS>", line 1, in <EMAIL_ADDRESS>' in str(line["exception"])


def test_free_text_under_an_identifiers_name_is_redacted_like_any_value() -> None:
    # Given values under the platform's identifier keys that are not identifiers
    _, line = _logged_exception(
        RuntimeError("boom"),
        status={"email": "john@example.com"},
        outcome="sent to john@example.com",
        detail_type="SageMaker Endpoint State Change",
    )

    # Then they are redacted; an identifier-shaped one would have been kept (see above)
    assert line["status"] == {"email": "<EMAIL_ADDRESS>"}
    assert line["outcome"] == "sent to <EMAIL_ADDRESS>"
    assert line["detail_type"] == "SageMaker Endpoint State Change"  # redacted, and nothing to mask


def test_a_record_that_cannot_be_formatted_is_logged_as_a_failure_not_printed_raw(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a record whose message arguments do not fit it, logged with an exception quoting data
    formatter = PiiRedactingFormatter(service="sluice-worker")
    record = logging.LogRecord("t", logging.ERROR, "h.py", 1, "mail %s %s", ("john@example.com",), None)

    # When it is formatted, then the line says only that it failed, and nothing reached stderr
    assert json.loads(formatter.format(record)) == {"level": "ERROR", "message": REDACTION_FAILED}
    assert "john" not in capsys.readouterr().err


def test_a_stack_traces_code_is_kept_as_written_and_its_data_redacted() -> None:
    # Given Powertools' stack_trace of an exception raised in a function whose name reads as a
    # person's ("notify_jane_doe"), with an address in the message and in the failing statement
    trace = {
        "type": "ValueError",
        "value": "no account for priyanka.o@example.com",
        "module": "builtins",
        "frames": [
            {
                "file": "/var/task/sluice/notify_jane_doe.py",
                "line": 7,
                "function": "notify_jane_doe",
                "statement": 'raise ValueError("no account for priyanka.o@example.com")',
            }
        ],
    }

    # When the line is redacted
    logged = redact_log({"stack_trace": trace, "message": "notify_jane_doe failed"})

    # Then the code it names is as written (it is code, not data), and the data in it is gone
    (frame,) = logged["stack_trace"]["frames"]
    assert (frame["file"], frame["line"], frame["function"]) == (
        "/var/task/sluice/notify_jane_doe.py",
        7,
        "notify_jane_doe",
    )
    assert (logged["stack_trace"]["type"], logged["stack_trace"]["module"]) == ("ValueError", "builtins")
    assert frame["statement"] == 'raise ValueError("no account for <EMAIL_ADDRESS>")'
    assert logged["stack_trace"]["value"] == "no account for <EMAIL_ADDRESS>"
    # while the same name in free text is taken for what it looks like
    assert logged["message"] == "notify_<PERSON> failed"


def test_a_multi_line_value_is_redacted_as_one_text_not_line_by_line() -> None:
    # Given a logged value whose last line is a town only the address line above it gives away
    value = "Deliver to: 14 Rue des Lilas\nANGERED"

    # When it is redacted as a log field, Then the town goes too (read line by line, as a
    # traceback is, it would not)
    logged = redact_log({"note": value})["note"]
    assert "ANGERED" not in logged
    assert logged.endswith("\n<LOCATION>")


def test_a_stack_trace_that_is_not_powertools_shape_is_redacted_as_text() -> None:
    # Given a stack_trace field written as plain text (not Powertools' dict of frames)
    logged = redact_log({"stack_trace": "raised while mailing priyanka.o@example.com"})

    # Then it is redacted like any other value, not dropped and not passed through
    assert logged["stack_trace"] == "raised while mailing <EMAIL_ADDRESS>"


def test_only_the_frames_of_a_stack_trace_are_read_as_code() -> None:
    # Given a stack trace with a list beside its frames whose items look like frames
    logged = redact_log(
        {
            "stack_trace": {
                "type": "ValueError",
                "frames": [{"function": "notify", "line": 3}],
                "notes": [{"function": "mail priyanka.o@example.com"}],
            }
        }
    )

    # Then only `frames` keeps its code as written; the other list is data, and redacted
    assert logged["stack_trace"]["frames"] == [{"function": "notify", "line": 3}]
    assert logged["stack_trace"]["notes"] == [{"function": "mail <EMAIL_ADDRESS>"}]


def test_a_nested_dicts_keys_are_redacted_and_any_key_json_cannot_hold_is_logged_as_text() -> None:
    # Given a value keyed by data: an address, a date, a tuple holding an address, and numbers
    value = {
        "priyanka.o@example.com": 2,
        date(2024, 5, 1): 3,
        ("priyanka.o@example.com", 1): 4,
        7: "seven",
        2.5: "two and a half",
        None: "none",
        False: "no",
    }

    # Then text keys are redacted, JSON's own keys kept as they are, any other key is its text
    assert redact_value(value) == {
        "<EMAIL_ADDRESS>": 2,
        "<DATE_TIME>": 3,
        "('<EMAIL_ADDRESS>', 1)": 4,
        7: "seven",
        2.5: "two and a half",
        None: "none",
        False: "no",
    }


def test_a_log_line_with_a_date_keyed_value_is_written_not_failed() -> None:
    # Given a line with a value keyed by dates (json.dumps refuses such keys)
    record = logging.LogRecord("t", logging.INFO, "h.py", 1, "daily counts", (), None)
    record.counts = {date(2024, 5, 1): 3}

    # Then it is written, the key as its redacted text (a date can be a birth date)
    line = json.loads(PiiRedactingFormatter(service="sluice-worker").format(record))
    assert line["counts"] == {"<DATE_TIME>": 3}
