"""What `detect` does with the recognizers' spans, on recognizers the test scripts: which entity
types it keeps, its score threshold at the boundary, the scores it reports, offsets of text that
folds to more characters than it had, and the one-off freeze of the word lists.

Survivors of `make mutation` (issue 19): the real recognizers never return a score exactly at the
threshold, a third decimal, or two spans inside one folded character, and no test asked for a
subset of entity types.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

import pytest

from sluice.pii import detection
from sluice.pii.recognizers import Doc
from sluice.pii.spans import Span


class Scripted:
    """A recognizer that finds what it is told, in folded-text offsets."""

    def __init__(self, *spans: Span) -> None:
        self.spans = spans

    def find(self, doc: Doc) -> Iterable[Span]:
        return self.spans


class AddressBlockRecorder:
    """The address block's place in `detect`: it is shown the spans kept so far, finds nothing."""

    def __init__(self) -> None:
        self.shown: list[Span] = []

    def extend(self, doc: Doc, spans: list[Span]) -> Iterator[Span]:
        self.shown.extend(spans)
        return iter(())


@pytest.fixture
def address_block(monkeypatch: pytest.MonkeyPatch) -> AddressBlockRecorder:
    recorder = AddressBlockRecorder()
    monkeypatch.setattr(detection, "_ADDRESS_BLOCK", recorder)
    monkeypatch.setattr(detection, "NAMES_AND_PLACES", ())
    return recorder


def _recognizers(monkeypatch: pytest.MonkeyPatch, *spans: Span) -> None:
    monkeypatch.setattr(detection, "ALL", (Scripted(*spans),))


def test_only_the_entity_types_asked_for_are_returned(
    monkeypatch: pytest.MonkeyPatch, address_block: AddressBlockRecorder
) -> None:
    # Given an email and a phone number found in the text
    text = "mail jo@example.com or call 020 7946 0958"
    _recognizers(monkeypatch, Span(5, 19, "EMAIL_ADDRESS", 1.0), Span(28, 41, "PHONE_NUMBER", 0.8))

    # When only emails are asked for, Then only the email is returned; without a filter, both
    assert detection.detect(text, entities=frozenset({"EMAIL_ADDRESS"})) == [
        Span(5, 19, "EMAIL_ADDRESS", 1.0)
    ]
    assert [s.entity_type for s in detection.detect(text)] == ["EMAIL_ADDRESS", "PHONE_NUMBER"]


def test_a_span_scoring_exactly_the_threshold_is_kept_and_shown_to_the_address_block(
    monkeypatch: pytest.MonkeyPatch, address_block: AddressBlockRecorder
) -> None:
    # Given a span at the threshold and one just under it
    text = "Jo Bloggs and Ann"
    at_threshold, under = Span(0, 9, "PERSON", 0.6), Span(14, 17, "PERSON", 0.59)
    _recognizers(monkeypatch, at_threshold, under)

    # When detected with that threshold, Then the one at it is kept, the other dropped
    assert detection.detect(text, min_score=0.6) == [at_threshold]
    # and the address block built on the spans kept
    assert address_block.shown == [at_threshold]


def test_scores_are_reported_to_two_decimals(
    monkeypatch: pytest.MonkeyPatch, address_block: AddressBlockRecorder
) -> None:
    _recognizers(monkeypatch, Span(0, 9, "PERSON", 0.876))

    assert detection.detect("Jo Bloggs", min_score=0.5) == [Span(0, 9, "PERSON", 0.88)]


def test_two_spans_inside_one_character_that_folds_to_three_leave_no_empty_span(
    monkeypatch: pytest.MonkeyPatch, address_block: AddressBlockRecorder
) -> None:
    # Given "¼", which folds to "1", FRACTION SLASH, "4" (three characters from one), and two
    # spans of the folded text that both fall inside it
    assert detection.fold("\u00bc").text == "1\u20444"
    _recognizers(monkeypatch, Span(0, 1, "A", 0.9), Span(2, 3, "B", 0.9))

    # When mapped back to the original, Then the first keeps the character and the second, with
    # nothing left of it, is dropped (an empty span would insert a placeholder into the text)
    assert detection.detect("\u00bc") == [Span(0, 1, "A", 0.9)]


def test_the_word_lists_are_frozen_once_per_process_not_on_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a process that has not frozen them yet, with objects of its own
    monkeypatch.setattr(detection, "_FROZEN", False)
    before = [[number] for number in range(1000)]
    frozen_before = gc.get_freeze_count()

    # When detection warms up, Then the objects alive then are frozen (the lists among them)
    detection.warm()
    frozen = gc.get_freeze_count()
    assert frozen > frozen_before

    # And a later warm-up (every request calls it) freezes nothing more: what a request leaves
    # behind stays collectable. (A frozen object that is freed leaves the count, so it can fall;
    # a second freeze would add at least the 1000 lists below.)
    after = [[number] for number in range(1000)]
    detection.warm()
    assert gc.get_freeze_count() <= frozen
    assert len(before) == len(after)


class CpuClockAt:
    """The detector's CPU clock: 1.0 s when the deadline is set, then `later` on every reading."""

    def __init__(self, later: float) -> None:
        self.readings = 0
        self.later = later

    def thread_time(self) -> float:
        self.readings += 1
        return 1.0 if self.readings == 1 else self.later


@pytest.mark.parametrize(("now", "times_out"), [(1.25, False), (1.2500001, True)], ids=["at", "past"])
def test_detection_times_out_only_past_its_deadline_of_exactly_the_budget(
    monkeypatch: pytest.MonkeyPatch, now: float, times_out: bool
) -> None:
    # Given a 250 ms budget set at 1.0 s of CPU time, and every later reading at `now`
    detection.warm()
    monkeypatch.setattr(detection, "time", CpuClockAt(now))

    # When text is scanned, then it is refused only once the clock is past 1.25 s
    if times_out:
        with pytest.raises(detection.PiiDetectionTimeout):
            detection.detect("mail john@example.com", time_budget_ms=250.0)
    else:
        assert [s.entity_type for s in detection.detect("mail john@example.com", time_budget_ms=250.0)] == [
            "EMAIL_ADDRESS"
        ]
