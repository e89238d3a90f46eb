"""The request input's time budget, run out for real: the detector is never faked here.

Issue 19: the budget checks were only ever tested with a detector that raised the timeout itself,
so removing either raise (in `sluice.pii.detection` or in `sluice.pii.input_redactor`) went
unnoticed. These tests spend the budget with real detection work on a large input, or move the
redactor's own CPU clock past its deadline, and never sleep.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from sluice import pii
from sluice.pii import input_redactor
from sluice.pii.input_redactor import PiiInputRedactor

SUPPORT_LINE = (
    "Hi, this is Priyanka Oyelaran from Leeds, I lost my card yesterday near the station. "
    "Call me on +44 20 7946 0958 or write to priyanka.o@example.com, thanks! "
)
# About 60 KB: hundreds of milliseconds of detection, far over the one-millisecond budget below.
LARGE_TEXT = SUPPORT_LINE * 400


class SteppedThreadClock:
    """The redactor's CPU clock, moved by the test: `spend` adds CPU seconds at once."""

    def __init__(self) -> None:
        self.now = time.thread_time()

    def thread_time(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _warm_detector() -> None:
    # The word lists and weights load once per process, outside any budget (as in a Lambda init).
    pii.warm()


def test_a_large_input_that_overruns_a_tiny_budget_is_refused_not_passed_through() -> None:
    # Given a redactor with a 1 ms budget and a single string that needs far longer to scan
    redactor = PiiInputRedactor(time_budget_ms=1.0)

    # When it redacts the input
    with pytest.raises(pii.PiiDetectionTimeout) as refused:
        redactor.redact({"text": LARGE_TEXT}, tenant="acme", allow=())

    # Then the request is refused as over budget (503, retry soon), and the error names no value
    assert (refused.value.code, refused.value.status, refused.value.retry_after_seconds) == (
        "PII_DETECTION_TIMEOUT",
        503,
        1,
    )
    assert "Priyanka" not in str(refused.value)


def test_the_same_large_input_is_redacted_within_its_routes_budget() -> None:
    # Given the route's budget for its input limit (the control for the test above)
    redactor = PiiInputRedactor()

    # When the same input is redacted with a budget sized for it
    redacted = redactor.redact(
        {"text": LARGE_TEXT}, tenant="acme", allow=(), max_input_bytes=len(LARGE_TEXT.encode())
    )

    # Then it is answered, with the personal data replaced
    assert "Priyanka" not in redacted.input["text"]
    assert "priyanka.o@example.com" not in redacted.input["text"]
    assert redacted.counts["EMAIL_ADDRESS"] == 400


def test_one_deadline_covers_every_string_of_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a redactor whose clock passes the whole input's deadline while the first string is
    # redacted, and an input whose later strings give the detector nothing to scan
    clock = SteppedThreadClock()
    monkeypatch.setattr(input_redactor, "time", clock)
    redact = pii.redact

    def redact_then_spend_the_budget(text: str, *args: Any, **kwargs: Any) -> Any:
        result = redact(text, *args, **kwargs)
        clock.spend(1.0)  # a CPU second: four times the 250 ms budget
        return result

    monkeypatch.setattr(pii, "redact", redact_then_spend_the_budget)
    redactor = PiiInputRedactor(time_budget_ms=250.0)

    # When it redacts the input
    with pytest.raises(pii.PiiDetectionTimeout) as refused:
        redactor.redact({"text": "mail john@example.com", "notes": ["", ""]}, tenant="acme", allow=())

    # Then the whole request is refused at the first string past the deadline: a request cannot
    # stretch its budget by splitting its text, and no part of it is answered
    assert "ran out of its time budget" in str(refused.value)


def test_strings_within_the_deadline_are_all_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a clock that moves a little per string, well inside the budget
    clock = SteppedThreadClock()
    monkeypatch.setattr(input_redactor, "time", clock)
    redact = pii.redact

    def redact_and_spend_a_millisecond(text: str, *args: Any, **kwargs: Any) -> Any:
        result = redact(text, *args, **kwargs)
        clock.spend(0.001)
        return result

    monkeypatch.setattr(pii, "redact", redact_and_spend_a_millisecond)
    redactor = PiiInputRedactor(time_budget_ms=250.0)

    # When an input of several strings is redacted
    redacted = redactor.redact(
        {"text": "mail john@example.com", "notes": ["call +44 20 7946 0958", ""]}, tenant="acme", allow=()
    )

    # Then every string is redacted and counted
    assert redacted.input == {"text": "mail <EMAIL_ADDRESS>", "notes": ["call <PHONE_NUMBER>", ""]}
    assert redacted.counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_a_routes_budget_is_the_floor_plus_twice_the_measured_scan_time_of_its_limit() -> None:
    # Given the measured scan rate (90 KB of text a CPU second) and an input limit of that size
    limit = pii.detection.MEASURED_BYTES_PER_S

    # When the route's budget is derived, Then it is 250 ms plus twice one second, exactly
    assert pii.time_budget_for(limit) == pytest.approx(250.0 + 2 * 1000.0)
    assert pii.time_budget_for(limit // 2) == pytest.approx(250.0 + 1000.0)


@pytest.mark.parametrize(
    ("spent_s", "refused"),
    [(0.25, True), (0.2499, False), (0.2495, False)],
    ids=["the-whole-budget", "a-tenth-of-a-millisecond-left", "half-a-millisecond-left"],
)
def test_the_deadline_falls_exactly_where_the_budget_ends(
    monkeypatch: pytest.MonkeyPatch, spent_s: float, refused: bool
) -> None:
    # Given a 250 ms budget, a CPU clock starting at 1.0 s (exact in binary), and a first string
    # whose redaction spends `spent_s` of it
    clock = SteppedThreadClock()
    clock.now = 1.0
    monkeypatch.setattr(input_redactor, "time", clock)
    budgets: list[float] = []

    def redact_and_spend(text: str, *args: Any, **kwargs: Any) -> Any:
        budgets.append(kwargs["time_budget_ms"])
        clock.spend(spent_s if len(budgets) == 1 else 0.0)
        return pii.RedactionResult(text=text, counts={})

    monkeypatch.setattr(pii, "redact", redact_and_spend)
    redactor = PiiInputRedactor(time_budget_ms=250.0)
    value = {"text": "first", "notes": ["second"]}

    # When the input is redacted, then the second string is refused only once nothing is left
    if refused:
        with pytest.raises(pii.PiiDetectionTimeout):
            redactor.redact(value, tenant="acme", allow=())
    else:
        assert redactor.redact(value, tenant="acme", allow=()).input == value
    # And the first string's detector was handed the whole budget, in milliseconds
    assert budgets[0] == 250.0
