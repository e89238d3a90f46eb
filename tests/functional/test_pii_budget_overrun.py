"""A request whose redaction really runs out of its time budget is refused on the API (issue 19).

The other request-path tests fake the timeout; here the real detector runs on a large input with
a budget far too small for it, so removing the budget check from `sluice.pii` fails this test.
"""

from __future__ import annotations

import io

import pytest

from sluice import pii
from tests.functional.conftest import Platform
from tests.sample_events import api_event

LINE = (
    "Hi, this is Priyanka Oyelaran from Leeds, I lost my card yesterday near the station. "
    "Call me on +44 20 7946 0958 or write to priyanka.o@example.com, thanks! "
)
# 200 KB: over two CPU seconds of detection at the measured rate, eight times the floor budget.
LARGE_TEXT = (LINE * (200 * 1024 // len(LINE) + 1))[: 200 * 1024]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redaction_that_overruns_its_budget_is_a_503_and_nothing_is_passed_on(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, captured_logs: io.StringIO, mode: str
) -> None:
    # Given routes whose PII budget is the floor whatever their input limit (as on a CPU ten times
    # slower than the one measured), and a request as large as the intent route accepts
    monkeypatch.setattr(pii, "time_budget_for", lambda max_input_bytes: pii.DEFAULT_TIME_BUDGET_MS)
    body = {"route": "intent", "input": {"text": LARGE_TEXT}, "mode": mode}

    # When it arrives
    status, answer, headers = platform.call(api_event(f"post_inference_{mode}", body=body))

    # Then it is refused as over budget, with a retry hint, and no part of it went anywhere
    assert (status, answer["error"]["code"]) == (503, "PII_DETECTION_TIMEOUT")
    assert headers["retry-after"] == "1"
    assert platform.endpoint.calls == []
    assert platform.receive() == []
    logs = captured_logs.getvalue()
    assert '"error_code":"PII_DETECTION_TIMEOUT"' in logs
    assert "Priyanka" not in logs
    assert "priyanka.o@example.com" not in logs


def test_a_routes_redaction_budget_is_sized_by_its_own_input_limit(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a record of the input limits the redaction budget is sized for
    sized: list[int] = []

    def budget_for(max_input_bytes: int) -> float:
        sized.append(max_input_bytes)
        return float(pii.DEFAULT_TIME_BUDGET_MS)

    monkeypatch.setattr(pii, "time_budget_for", budget_for)

    # When a request on the support route is redacted
    body = {"route": "support", "input": {"text": "my card never came"}, "mode": "sync"}
    status, _, _ = platform.call(api_event("post_inference_sync", body=body))

    # Then its budget was sized for that route's limit, not left at the floor
    assert status == 200
    assert sized == [platform.config.route("support").max_input_bytes]
