"""An error escaping a handler leaves it without the data its message quoted (the runtime, X-Ray
and Tracer write an escaping exception unredacted; sluice/observability/errors.py)."""

from __future__ import annotations

import ast
import io
import json
import traceback
from pathlib import Path

import pytest

from sluice.observability import logger
from sluice.observability.errors import UnhandledError, contain_errors

ROOT = Path(__file__).resolve().parents[3]


@contain_errors
def _failing_handler(event: dict[str, str], context: object) -> None:
    raise ValueError(f"no account for {event['email']}")


def test_an_escaping_error_is_replaced_by_one_that_names_only_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (Powertools' handler holds the stdout of import time, so capsys would not see the log)
    log = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", log)

    # When a handler fails on an error whose message quotes its input
    event = {"email": ".".join(["priyanka", "o@example", "com"])}  # not in any source line shown
    with pytest.raises(UnhandledError) as raised:
        _failing_handler(event, None)

    # Then what the runtime would print (message and traceback) holds the type, not the address
    printed = "".join(traceback.format_exception(raised.value))
    assert "priyanka" not in printed
    assert str(raised.value) == "ValueError (details in the function's log)"
    # and the original is in the function's own log, redacted, with its type as a field
    [line] = [json.loads(text) for text in log.getvalue().splitlines() if '"unhandled error"' in text]
    assert line["error_type"] == "ValueError"
    assert "no account for <EMAIL_ADDRESS>" in line["exception"]
    assert "priyanka" not in json.dumps(line)


def test_a_result_and_an_interruption_pass_through_unchanged() -> None:
    @contain_errors
    def answering(event: dict[str, int], context: object) -> int:
        return event["n"] + 1

    @contain_errors
    def interrupted(event: object, context: object) -> None:
        raise KeyboardInterrupt  # a BaseException, like the local runtime's InvocationKilled

    assert answering({"n": 1}, None) == 2
    with pytest.raises(KeyboardInterrupt):
        interrupted({}, None)


@pytest.mark.parametrize(
    "handler", sorted(ROOT.glob("functions/*/handler.py")), ids=lambda path: path.parent.name
)
def test_every_handler_contains_its_errors_innermost(handler: Path) -> None:
    # Innermost, so that Tracer and the runtime only ever see the stand-in
    [function] = [
        node
        for node in ast.parse(handler.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"
    ]
    innermost = function.decorator_list[-1]
    assert isinstance(innermost, ast.Name)
    assert innermost.id == "contain_errors"
